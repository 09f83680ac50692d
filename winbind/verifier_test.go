//go:build linux

package winbind

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sesame-auth/sesame/internal/lab"
	"github.com/sesame-auth/sesame/ntlm"
)

// adLab is one Samba AD DC shared by the tests of this file, with the
// verifier running its programs inside the lab (ntlm_auth and wbinfo in
// the host's namespaces cannot reach the lab's winbindd: libwbclient
// hard-codes /run/samba/winbindd, which the fixture's wrapper bind-mounts).
type adLab struct {
	dc          *lab.ADDC
	webusersSID string
	domainSID   string
}

func startLab(t *testing.T) *adLab {
	t.Helper()
	dc := lab.StartADDC(t)
	l := &adLab{dc: dc}
	out, err := dc.Command(context.Background(), "/usr/bin/wbinfo", `--name-to-sid=CORP\`+lab.ADDCGroup).Output()
	if err != nil {
		t.Fatalf("wbinfo --name-to-sid %s: %v", lab.ADDCGroup, err)
	}
	l.webusersSID = strings.Fields(string(out))[0]
	l.domainSID = l.webusersSID[:strings.LastIndexByte(l.webusersSID, '-')]
	return l
}

func (l *adLab) verifier(t *testing.T, size int) (*Verifier, *atomic.Int32) {
	v := &Verifier{NTLMAuth: "/usr/bin/ntlm_auth", Wbinfo: "/usr/bin/wbinfo", Command: l.dc.Command, PoolSize: size, Timeout: 20 * time.Second}
	var starts atomic.Int32
	v.once.Do(v.init)
	v.pool.started = func() { starts.Add(1) }
	t.Cleanup(func() { v.Close() })
	return v, &starts
}

func server(v *Verifier) *ntlm.Server {
	return &ntlm.Server{Store: v, NetBIOSDomain: lab.ADDCDomain, NetBIOSComputer: "SESAME", DNSDomain: "corp.test"}
}

// logon runs the three messages between c and s.
func logon(t *testing.T, s *ntlm.Server, c *ntlm.Client) (*ntlm.Identity, []byte, error) {
	t.Helper()
	neg, err := c.Negotiate()
	if err != nil {
		t.Fatal(err)
	}
	h, chal, err := s.Challenge(neg)
	if err != nil {
		t.Fatal(err)
	}
	a, err := c.Authenticate(neg, chal)
	if err != nil {
		t.Fatal(err)
	}
	id, err := h.Authenticate(context.Background(), a.Message, nil)
	if err == nil && string(id.SessionKey) != string(a.SessionKey) {
		t.Errorf("server's session key differs from the client's")
	}
	return id, a.Message, err
}

func TestVerifierAgainstAD(t *testing.T) {
	l := startLab(t)
	v, starts := l.verifier(t, 2)
	s := server(v)

	t.Run("alice", func(t *testing.T) {
		id, _, err := logon(t, s, &ntlm.Client{User: `corp\ALICE`, Password: lab.ADDCAlice.Password, Workstation: "WS1"})
		if err != nil {
			t.Fatalf("%v\n%s", err, l.dc.Logs())
		}
		if id.User != "alice" || id.Domain != "CORP" || id.NTLMVersion != 2 {
			t.Fatalf("identity %s\\%s v%d", id.Domain, id.User, id.NTLMVersion)
		}
		if !strings.HasPrefix(id.UserSID, l.domainSID+"-") {
			t.Errorf("user SID %q not in domain %s", id.UserSID, l.domainSID)
		}
		if !slices.Contains(id.Groups, l.webusersSID) || !slices.Contains(id.Groups, l.domainSID+"-513") {
			t.Errorf("alice's groups %v lack webusers %s or Domain Users", id.Groups, l.webusersSID)
		}
	})
	t.Run("bob", func(t *testing.T) {
		id, _, err := logon(t, s, &ntlm.Client{User: "bob", Domain: "CORP", Password: lab.ADDCBob.Password})
		if err != nil {
			t.Fatal(err)
		}
		if id.User != "bob" || slices.Contains(id.Groups, l.webusersSID) || !slices.Contains(id.Groups, l.domainSID+"-513") {
			t.Errorf("bob: %s, groups %v (webusers %s)", id.User, id.Groups, l.webusersSID)
		}
	})
	t.Run("refused", func(t *testing.T) {
		before := starts.Load()
		defer func() {
			// Refusals leave ntlm_auth in step (resync), so it is reused.
			if n := starts.Load() - before; n != 0 {
				t.Errorf("%d ntlm_auth processes started for refused logons", n)
			}
		}()
		for _, c := range []*ntlm.Client{
			{User: `CORP\alice`, Password: "wrong"},
			{User: `CORP\alice`, Password: lab.ADDCBob.Password},
			{User: `CORP\mallory`, Password: "x"},
		} {
			_, _, err := logon(t, s, c)
			if !errors.Is(err, ntlm.ErrAuthFailed) {
				t.Errorf("%s: err = %v, want ErrAuthFailed", c.User, err)
			}
		}
	})
	t.Run("replay", func(t *testing.T) {
		c := &ntlm.Client{User: `CORP\alice`, Password: lab.ADDCAlice.Password}
		neg, _ := c.Negotiate()
		h, chal, _ := s.Challenge(neg)
		a, _ := c.Authenticate(neg, chal)
		if _, err := h.Authenticate(context.Background(), a.Message, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := h.Authenticate(context.Background(), a.Message, nil); !errors.Is(err, ntlm.ErrChallenge) {
			t.Fatalf("same handshake: err = %v, want ErrChallenge", err)
		}
		h2, _, _ := s.Challenge(neg)
		if _, err := h2.Authenticate(context.Background(), a.Message, nil); !errors.Is(err, ntlm.ErrAuthFailed) {
			t.Fatalf("new challenge: err = %v, want ErrAuthFailed (the DC refuses)", err)
		}
	})
	t.Run("ntlm_auth client", func(t *testing.T) {
		for _, u := range []lab.ADUser{lab.ADDCAlice, lab.ADDCBob} {
			id, err := sambaClientLogon(t, l.dc, s, u.Name, u.Password)
			if err != nil {
				t.Fatalf("%s: %v", u.Name, err)
			}
			if id.User != u.Name || slices.Contains(id.Groups, l.webusersSID) != u.InGroup {
				t.Errorf("%s: identity %s, groups %v", u.Name, id.User, id.Groups)
			}
		}
		if _, err := sambaClientLogon(t, l.dc, s, "alice", "wrong"); !errors.Is(err, ntlm.ErrAuthFailed) {
			t.Errorf("wrong password: err = %v", err)
		}
	})
	t.Run("concurrent", func(t *testing.T) {
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for i := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				u := []lab.ADUser{lab.ADDCAlice, lab.ADDCBob}[i%2]
				id, _, err := logon(t, s, &ntlm.Client{User: `CORP\` + u.Name, Password: u.Password})
				if err == nil && id.User != u.Name {
					err = fmt.Errorf("logon as %s gave %s", u.Name, id.User)
				}
				errs <- err
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Error(err)
			}
		}
		if n := starts.Load(); n > 2 {
			t.Errorf("%d ntlm_auth processes started for a pool of 2", n)
		}
	})
	t.Run("helper killed", func(t *testing.T) {
		for _, wait := range []bool{true, false} {
			before := starts.Load()
			// Kill every idle helper (both slots), waiting or not for it to be gone.
			var hs []*helper
			for range 2 {
				hs = append(hs, <-v.pool.slots)
			}
			for _, h := range hs {
				if h != nil {
					h.kill()
					if wait {
						<-h.exited
					}
				}
				v.pool.slots <- h
			}
			id, _, err := logon(t, s, &ntlm.Client{User: `CORP\alice`, Password: lab.ADDCAlice.Password})
			if err != nil || id.User != "alice" {
				t.Fatalf("after kill (wait %v): %+v, %v", wait, id, err)
			}
			if starts.Load() == before {
				t.Errorf("no helper restarted (wait %v)", wait)
			}
		}
	})
	t.Run("context", func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		c := &ntlm.Client{User: `CORP\alice`, Password: lab.ADDCAlice.Password}
		neg, _ := c.Negotiate()
		h, chal, _ := s.Challenge(neg)
		a, _ := c.Authenticate(neg, chal)
		_, err := h.Authenticate(ctx, a.Message, nil)
		if !errors.Is(err, ErrUnavailable) || errors.Is(err, ntlm.ErrAuthFailed) {
			t.Fatalf("cancelled: err = %v, want ErrUnavailable", err)
		}
	})
	t.Run("close", func(t *testing.T) {
		v2, _ := l.verifier(t, 1)
		if _, _, err := logon(t, server(v2), &ntlm.Client{User: `CORP\alice`, Password: lab.ADDCAlice.Password}); err != nil {
			t.Fatal(err)
		}
		h := <-v2.pool.slots
		v2.pool.slots <- h
		t0 := time.Now()
		v2.Close()
		if h.alive() {
			t.Fatal("ntlm_auth still runs after Close")
		}
		t.Logf("Close took %v", time.Since(t0))
		_, _, err := logon(t, server(v2), &ntlm.Client{User: `CORP\alice`, Password: lab.ADDCAlice.Password})
		if !errors.Is(err, ErrClosed) {
			t.Fatalf("after Close: err = %v, want ErrClosed", err)
		}
	})
}

// sambaClientLogon runs Samba's own NTLMSSP client (ntlm_auth
// --helper-protocol=ntlmssp-client-1, in the lab) against s.
func sambaClientLogon(t *testing.T, dc *lab.ADDC, s *ntlm.Server, user, password string) (*ntlm.Identity, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := dc.Command(ctx, "/usr/bin/ntlm_auth", "--helper-protocol=ntlmssp-client-1", "--use-cached-creds=no",
		"--username="+user, "--domain=CORP", "--password="+password)
	stdin, _ := cmd.StdinPipe()
	stdout, _ := cmd.StdoutPipe()
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { stdin.Close(); cmd.Wait() }()
	r := bufio.NewReader(stdout)
	ask := func(line string) (string, []byte) {
		if _, err := io.WriteString(stdin, line+"\n"); err != nil {
			t.Fatal(err)
		}
		resp, err := r.ReadString('\n')
		if err != nil {
			t.Fatalf("ntlm_auth client: %v", err)
		}
		code, b64, _ := strings.Cut(strings.TrimSpace(resp), " ")
		msg, _ := base64.StdEncoding.DecodeString(b64)
		return code, msg
	}
	code, neg := ask("YR")
	if code != "YR" {
		t.Fatalf("ntlm_auth client answered %s to YR", code)
	}
	h, chal, err := s.Challenge(neg)
	if err != nil {
		t.Fatal(err)
	}
	code, auth := ask("TT " + base64.StdEncoding.EncodeToString(chal))
	if code != "KK" && code != "AF" {
		t.Fatalf("ntlm_auth client answered %s to TT", code)
	}
	if m, err := ntlm.ParseAuthenticate(auth); err == nil && !m.HasMIC {
		t.Logf("Samba's client sent no MIC")
	}
	return h.Authenticate(ctx, auth, nil)
}
