//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sesame-auth/sesame/internal/lab"
)

// responseStatusRE finds the status of each response `sesame get -v` logs.
var responseStatusRE = regexp.MustCompile(`msg=response status="?(\d{3})`)

// addcSesameGet runs the built sesame's `get -v` inside the AD DC lab
// (where dc1.corp.test resolves and the KDC is reachable) with env added
// to the lab's client environment, and returns the exit status, the last
// response status it logged (0 if none), the body and stderr.
func addcSesameGet(t *testing.T, a *lab.ADDC, bin string, env []string, args ...string) (code, status int, stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := a.Command(ctx, bin, append([]string{"get", "-v", "--max-time", "45"}, args...)...)
	cmd.Env = append(cmd.Env, env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	if ctx.Err() != nil {
		t.Fatalf("sesame get %v did not finish within 60s\n%s%s", args, out.String(), errOut.String())
	}
	code = cmd.ProcessState.ExitCode()
	if err != nil && code < 0 {
		t.Fatalf("sesame get %v: %v", args, err)
	}
	if leaked := secretsIn(out.String() + errOut.String()); leaked != "" {
		t.Errorf("sesame get %v printed %s:\n%s%s", args, leaked, out.String(), errOut.String())
	}
	if strings.Contains(errOut.String(), "WARNING: DATA RACE") {
		t.Errorf("sesame get %v: data race:\n%s", args, errOut.String())
	}
	if m := responseStatusRE.FindAllStringSubmatch(errOut.String(), -1); len(m) > 0 {
		status, _ = strconv.Atoi(m[len(m)-1][1])
	}
	return code, status, out.String(), errOut.String()
}

// addcNewEntries waits (up to 10 s) until squid's access log has a final
// (not 407) entry after the first n and returns the entries after n.
func addcNewEntries(t *testing.T, a *lab.ADDC, n int) []lab.SquidAccess {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		e := a.AccessEntries()
		if len(e) > n {
			for _, x := range e[n:] {
				if x.Status != 407 {
					return e[n:]
				}
			}
		}
		if time.Now().After(deadline) {
			if len(e) < n {
				n = len(e)
			}
			t.Fatalf("no final entry in squid's access log after %d: %v", n, e[n:])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// addcUsers lists the users of entries, "-" for none.
func addcUsers(entries []lab.SquidAccess) []string {
	var u []string
	for _, e := range entries {
		name := e.User
		if name == "" {
			name = "-"
		}
		u = append(u, fmt.Sprintf("%s:%d", name, e.Status))
	}
	return u
}

// isUser tells whether an authenticated name (CORP\bob from NTLM,
// bob@CORP.TEST from Kerberos, bob from Basic) is the AD user name.
func isUser(authenticated, name string) bool {
	a := strings.ToLower(authenticated)
	name = strings.ToLower(name)
	return a == name || a == strings.ToLower(lab.ADDCDomain)+`\`+name || a == name+"@"+strings.ToLower(lab.ADDCRealm)
}

// A named user is authoritative, against a real Active Directory (Samba
// AD DC, squid doing Negotiate with the DC's keytab and NTLM through
// winbindd, on a port that admits only group webusers): with alice's
// Kerberos ticket in the credential cache, `sesame get -U 'CORP\bob:…'`
// must authenticate as bob, and so get 403, never slip in alice's ticket
// and get 200. The same for `sesame proxy --user 'CORP\bob'`. With no
// user named (-U :) the cached ticket is the identity; naming alice with
// bob's ticket cached gets alice in.
//
// `sesame get` exits 0 on a 403 without -f, as curl does, so the HTTP
// status is read from its -v log and checked against squid's access log.
func TestADDCNamedUserIsAuthoritative(t *testing.T) {
	t.Parallel()
	bin := buildSesame(t)
	a := lab.StartADDC(t)
	hello := a.OriginURL + "/hello.txt"
	const helloBody = "hello from the addc lab origin\n"
	aliceCC := []string{"KRB5CCNAME=FILE:" + a.Kinit(t, lab.ADDCAlice.Name, lab.ADDCAlice.Password)}
	bobCC := []string{"KRB5CCNAME=FILE:" + a.Kinit(t, lab.ADDCBob.Name, lab.ADDCBob.Password)}
	bob := lab.ADDCDomain + `\` + lab.ADDCBob.Name
	alice := lab.ADDCDomain + `\` + lab.ADDCAlice.Name

	get := func(t *testing.T, env []string, wantStatus int, wantUser, notUser string, args ...string) {
		t.Helper()
		n := len(a.AccessEntries())
		code, status, out, errOut := addcSesameGet(t, a, bin, env, args...)
		entries := addcNewEntries(t, a, n)
		if code != 0 || status != wantStatus {
			t.Errorf("sesame get %v: exit %d, HTTP status %d; want exit 0 and %d (squid saw %v)\nstdout:\n%s\nstderr:\n%s",
				args, code, status, wantStatus, addcUsers(entries), out, errOut)
		}
		if wantStatus == 200 && out != helloBody {
			t.Errorf("sesame get %v: body %q, want %q", args, out, helloBody)
		}
		if wantStatus != 200 && strings.Contains(out, helloBody) {
			t.Errorf("sesame get %v: got the origin's body with status %d", args, status)
		}
		final := entries[len(entries)-1]
		for _, e := range entries {
			if e.Status != 407 {
				final = e
			}
			if notUser != "" && isUser(e.User, notUser) {
				t.Errorf("sesame get %v: squid authenticated %s (the cached ticket's user), not the named one: %v", args, e.User, addcUsers(entries))
			}
		}
		if final.Status != wantStatus || (wantUser != "" && !isUser(final.User, wantUser)) {
			t.Errorf("sesame get %v: squid's final entry is %s with status %d; want %s and %d (all: %v)",
				args, final.User, final.Status, wantUser, wantStatus, addcUsers(entries))
		}
	}

	// The issue: bob named, alice's ticket cached. bob is not in
	// webusers: 403, and squid must never see alice.
	t.Run("NamedBobWithAliceTicket", func(t *testing.T) {
		get(t, aliceCC, 403, lab.ADDCBob.Name, lab.ADDCAlice.Name,
			"-U", bob+":"+lab.ADDCBob.Password, "-x", a.GroupProxyURL, hello)
	})
	// No user named: single sign-on with the cached ticket (alice).
	t.Run("SSOWithAliceTicket", func(t *testing.T) {
		get(t, aliceCC, 200, lab.ADDCAlice.Name, "", "-U", ":", "-x", a.GroupProxyURL, hello)
	})
	// alice named, bob's ticket cached: alice gets in, bob never shows.
	t.Run("NamedAliceWithBobTicket", func(t *testing.T) {
		get(t, bobCC, 200, lab.ADDCAlice.Name, lab.ADDCBob.Name,
			"-U", alice+":"+lab.ADDCAlice.Password, "-x", a.GroupProxyURL, hello)
	})

	// `sesame proxy --user 'CORP\bob'` with alice's ticket cached: curl
	// through it to the group port gets 403 (bob), never alice's 200. And
	// the other way round, alice named with bob's ticket: 200.
	for _, tc := range []struct {
		name, user, password string
		cc                   []string
		want                 int
		wantUser, notUser    string
	}{
		{"ProxyNamedBobWithAliceTicket", bob, lab.ADDCBob.Password, aliceCC, 403, lab.ADDCBob.Name, lab.ADDCAlice.Name},
		{"ProxyNamedAliceWithBobTicket", alice, lab.ADDCAlice.Password, bobCC, 200, lab.ADDCAlice.Name, lab.ADDCBob.Name},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := addcStartProxy(t, a, bin, append([]string{"PW=" + tc.password}, tc.cc...),
				"--upstream", strings.TrimPrefix(a.GroupProxyURL, "http://"), "--user", tc.user, "--password-env", "PW")
			n := len(a.AccessEntries())
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			cmd := a.Command(ctx, "curl", "-sS", "--max-time", "45", "-w", "\n%{http_code}", "-x", p.url, hello)
			out, err := cmd.CombinedOutput()
			if err != nil {
				t.Fatalf("curl through sesame proxy: %v\n%s\nsesame proxy's log:\n%s", err, out, p.log.String())
			}
			s := strings.TrimRight(string(out), "\n")
			status, _ := strconv.Atoi(s[strings.LastIndexByte(s, '\n')+1:])
			entries := addcNewEntries(t, a, n)
			if status != tc.want {
				t.Errorf("curl → sesame proxy --user %s (%v cached) → squid %s: %d, want %d (squid saw %v)\nsesame proxy's log:\n%s",
					tc.user, tc.cc, a.GroupProxyURL, status, tc.want, addcUsers(entries), p.log.String())
			}
			for _, e := range entries {
				if isUser(e.User, tc.notUser) {
					t.Errorf("squid authenticated %s (the cached ticket's user), not %s: %v", e.User, tc.user, addcUsers(entries))
				}
			}
			if final := entries[len(entries)-1]; !isUser(final.User, tc.wantUser) {
				t.Errorf("squid's last entry is for %q, want %s: %v", final.User, tc.wantUser, addcUsers(entries))
			}
		})
	}
}

// addcProxy is a `sesame proxy` running inside the AD DC lab.
type addcProxy struct {
	url string
	log *lockedBuffer
}

// addcStartProxy starts `sesame proxy` inside the lab on a free port of
// the lab namespace's loopback, waits until it listens, and stops it
// (SIGINT) at cleanup.
func addcStartProxy(t *testing.T, a *lab.ADDC, bin string, env []string, args ...string) *addcProxy {
	t.Helper()
	ln, err := a.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cmd := a.Command(context.Background(), bin, append([]string{"proxy", "--listen", addr, "--log-level", "debug"}, args...)...)
	cmd.Env = append(cmd.Env, env...)
	out := &lockedBuffer{mu: make(chan struct{}, 1)}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		defer func() {
			if leaked := secretsIn(out.String()); leaked != "" {
				t.Errorf("sesame proxy's log contains %s", leaked)
			}
			if strings.Contains(out.String(), "WARNING: DATA RACE") {
				t.Errorf("sesame proxy: data race:\n%s", out.String())
			}
		}()
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Errorf("sesame proxy did not stop on SIGINT\n%s", out.String())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		c, err := a.DialContext(ctx, "tcp", addr)
		cancel()
		if err == nil {
			c.Close()
			break
		}
		select {
		case <-done:
			t.Fatalf("sesame proxy exited: %v\n%s", cmd.ProcessState, out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("sesame proxy did not listen on %s in the lab: %v\n%s", addr, err, out.String())
		}
		time.Sleep(20 * time.Millisecond)
	}
	return &addcProxy{url: "http://" + addr, log: out}
}
