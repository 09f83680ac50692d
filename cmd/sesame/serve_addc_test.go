//go:build linux

package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sesame-auth/sesame/internal/lab"
)

// addcServe is a `sesame serve` running inside the AD DC lab, listening
// on the DC's address as http://dc1.corp.test:PORT (the name its
// HTTP/dc1.corp.test keytab is for).
type addcServe struct {
	url string
	log *lockedBuffer
}

// addcStartServe writes cfg (the [serve] table's body, backend and
// listen added) to a file and runs `sesame serve --config` in the lab.
func addcStartServe(t *testing.T, a *lab.ADDC, bin, backend, cfg string) *addcServe {
	t.Helper()
	ln, err := a.Listen("tcp4", a.DCIP+":0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	file := filepath.Join(t.TempDir(), "serve.toml")
	text := fmt.Sprintf("log_level = \"debug\"\n[serve]\nbackend = %q\nlisten = [%q]\nallow = [%q]\n%s", backend, addr, a.DCIP, cfg)
	if err := os.WriteFile(file, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := a.Command(context.Background(), bin, "serve", "--config", file)
	out := &lockedBuffer{mu: make(chan struct{}, 1)}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			t.Errorf("sesame serve did not stop on SIGINT")
		}
		if leaked := secretsIn(out.String()); leaked != "" {
			t.Errorf("sesame serve's log contains %s", leaked)
		}
		if strings.Contains(out.String(), "WARNING: DATA RACE") {
			t.Errorf("sesame serve: data race:\n%s", out.String())
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		select {
		case <-done:
			t.Fatalf("sesame serve exited:\n%s", out.String())
		default:
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		c, err := a.DialContext(ctx, "tcp4", addr)
		cancel()
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sesame serve did not listen on %s:\n%s", addr, out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	return &addcServe{url: "http://" + lab.ADDCFQDN + ":" + port + "/app", log: out}
}

// addcCurl runs curl inside the lab and returns the body and status.
func addcCurl(t *testing.T, a *lab.ADDC, env []string, args ...string) (string, int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := a.Command(ctx, "/usr/bin/curl", append([]string{"-sS", "--max-time", "45", "-w", "\n%{http_code}"}, args...)...)
	cmd.Env = append(cmd.Env, env...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	if err := cmd.Run(); err != nil {
		t.Fatalf("curl %v: %v\n%s", args, err, errOut.String())
	}
	s := out.String()
	i := strings.LastIndex(s, "\n")
	var status int
	fmt.Sscan(s[i+1:], &status)
	return s[:i], status
}

// sesame serve against the lab's Samba AD DC: NTLM pass-through through
// winbind (curl --ntlm as CORP\alice), and Negotiate with the DC's
// HTTP/dc1.corp.test keytab and the PAC's group SIDs named by LDAP (bound
// with the service account's keys) or by a sid_map file: alice is in
// webusers, bob is not.
func TestServeADDC(t *testing.T) {
	dc := lab.StartADDC(t)
	bin := buildSesame(t)

	// The backend, an echo of the request headers, listens in the lab.
	bln, err := dc.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	bsrv := &http.Server{Handler: echoBackend(t).Config.Handler, ReadHeaderTimeout: 10 * time.Second}
	go bsrv.Serve(bln)
	t.Cleanup(func() { bsrv.Close() })
	backend := "http://" + bln.Addr().String()

	// One keytab with the SPN (to accept tickets) and the service
	// account's own name (a KDC takes no SPN as a client name: the LDAP
	// bind logs in as httpsvc, the keytab's principal without a '/').
	kt := filepath.Join(t.TempDir(), "http.keytab")
	for _, p := range []string{"HTTP/" + lab.ADDCFQDN, "httpsvc"} {
		if out, err := dc.Command(context.Background(), "/usr/bin/samba-tool", "domain", "exportkeytab",
			"--configfile="+filepath.Join(dc.Dir, "samba", "etc", "smb.conf"), kt, "--principal="+p).CombinedOutput(); err != nil {
			t.Fatalf("samba-tool domain exportkeytab %s: %v\n%s", p, err, out)
		}
	}
	sidOf := func(name string) string {
		out, err := dc.Command(context.Background(), "/usr/bin/wbinfo", `--name-to-sid=CORP\`+name).Output()
		if err != nil {
			t.Fatalf("wbinfo --name-to-sid %s: %v", name, err)
		}
		return strings.Fields(string(out))[0]
	}
	aliceCC := "KRB5CCNAME=FILE:" + dc.Kinit(t, lab.ADDCAlice.Name, lab.ADDCAlice.Password)
	bobCC := "KRB5CCNAME=FILE:" + dc.Kinit(t, lab.ADDCBob.Name, lab.ADDCBob.Password)

	groupsOf := func(t *testing.T, srv *addcServe, body string, status int, user string) []string {
		t.Helper()
		if status != 200 {
			t.Fatalf("status %d: %s\nsesame serve's log:\n%s", status, body, srv.log.String())
		}
		h := echoed(t, body)
		if got := h.Get("X-Remote-User"); got != user {
			t.Errorf("X-Remote-User %q, want %q", got, user)
		}
		t.Logf("%s: X-Remote-Groups: %s", user, h.Get("X-Remote-Groups"))
		return strings.Split(h.Get("X-Remote-Groups"), ",")
	}
	has := func(list []string, name string) bool {
		for _, g := range list {
			if g == name {
				return true
			}
		}
		return false
	}

	srv := addcStartServe(t, dc, bin, backend, fmt.Sprintf(`winbind = true
ntlm_domain = "CORP"
keytab = %q
spn = "HTTP/%s"
ldap_url = "ldap://%s"
ldap_base_dn = "DC=corp,DC=test"
`, kt, lab.ADDCFQDN, lab.ADDCFQDN))

	t.Run("NTLM through winbind", func(t *testing.T) {
		body, status := addcCurl(t, dc, nil, "--ntlm", "-u", `CORP\alice:AlicePass123`, "-H", "X-Remote-Groups: Domain Admins", srv.url)
		if g := groupsOf(t, srv, body, status, `CORP\alice`); !has(g, lab.ADDCGroup) || has(g, "Domain Admins") {
			t.Errorf("alice's groups %q: want webusers (and no spoofed Domain Admins)", g)
		}
		body, status = addcCurl(t, dc, nil, "--ntlm", "-u", `CORP\bob:BobPass456`, srv.url)
		if g := groupsOf(t, srv, body, status, `CORP\bob`); has(g, lab.ADDCGroup) {
			t.Errorf("bob's groups %q include webusers", g)
		}
		if _, status := addcCurl(t, dc, nil, "--ntlm", "-u", `CORP\alice:wrong`, srv.url); status != 401 {
			t.Errorf("wrong password: status %d, want 401", status)
		}
	})
	t.Run("Negotiate, names from LDAP", func(t *testing.T) {
		body, status := addcCurl(t, dc, []string{aliceCC}, "--negotiate", "-u", ":", srv.url)
		g := groupsOf(t, srv, body, status, "alice@"+lab.ADDCRealm)
		if !has(g, lab.ADDCGroup) || !has(g, "Domain Users") {
			t.Errorf("alice's groups %q: want webusers and Domain Users by name\n%s", g, srv.log.String())
		}
		body, status = addcCurl(t, dc, []string{bobCC}, "--negotiate", "-u", ":", srv.url)
		if g := groupsOf(t, srv, body, status, "bob@"+lab.ADDCRealm); has(g, lab.ADDCGroup) || !has(g, "Domain Users") {
			t.Errorf("bob's groups %q: want Domain Users, not webusers", g)
		}
	})
	t.Run("Negotiate, names from sid_map", func(t *testing.T) {
		m := filepath.Join(t.TempDir(), "sids")
		if err := os.WriteFile(m, []byte("# group names\n"+sidOf(lab.ADDCGroup)+" web users\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		srv := addcStartServe(t, dc, bin, backend, fmt.Sprintf("keytab = %q\nsid_map = %q\n", kt, m))
		body, status := addcCurl(t, dc, []string{aliceCC}, "--negotiate", "-u", ":", srv.url)
		g := groupsOf(t, srv, body, status, "alice@"+lab.ADDCRealm)
		if !has(g, "web users") {
			t.Errorf("alice's groups %q: want \"web users\" from the map", g)
		}
		// SIDs the map does not name stay SIDs.
		sids := 0
		for _, x := range g {
			if strings.HasPrefix(x, "S-1-5-21-") {
				sids++
			}
		}
		if sids == 0 {
			t.Errorf("alice's groups %q: want the unnamed ones as SIDs", g)
		}
	})
}
