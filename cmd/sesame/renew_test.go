//go:build linux

package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/sesame-auth/sesame/internal/lab"
)

// Renewal: a realm whose tickets live one minute and renew for 100
// seconds. `sesame proxy` with no account, in front of squid's Negotiate,
// keeps answering across the first TGT's end and its renewed one's: it
// renews the TGT twice (TGS-REQs with RENEW for krbtgt/, in the KDC's
// log, keeping the original authtime), storing it back into the FILE
// cache MIT klist reads; once the renew-till is reached it logs in again
// with the password `sesame login` stored in the OS keyring (an AS-REQ),
// all with no prompt and no restart.
func TestProxyKerberosRenewal(t *testing.T) {
	// Mostly waiting for tickets to expire: runs beside the other
	// parallel tests rather than adding 150 s to the package.
	t.Parallel()
	bin := buildSesame(t)
	const pw = "KrbPass-789"
	k := lab.StartKDC(t, lab.KDCOptions{Users: []lab.KerberosUser{{Name: "alice", Password: pw}},
		MaxLife: time.Minute, MaxRenewableLife: 100 * time.Second})
	sq := lab.StartSquid(t, lab.SquidOptions{Auth: "negotiate", KDC: k})
	ss := lab.StartSecretService(t)
	origin := httptest.NewServer(http.HandlerFunc(whoOrigin))
	defer origin.Close()
	if code, out, errOut := runBin(t, bin, ss.Env(), pw+"\n", "login", "--user", "alice@CORP.TEST", "--password-stdin"); code != 0 {
		t.Fatalf("sesame login: exit %d\n%s\n%s", code, out, errOut)
	}
	ccache := k.Kinit(t, "alice", pw)
	first := klistEnd(t, k, ccache)
	env := append(ss.Env(), "KRB5_CONFIG="+k.Krb5Conf, "KRB5CCNAME=FILE:"+ccache)
	p := startProxy(t, bin, env, "--upstream", sq.Addr)

	begin := time.Now()
	for i := 0; time.Since(begin) < 150*time.Second; i++ {
		out, err := curl(t, "-x", p.URL, fmt.Sprintf("%s/renew/%d", origin.URL, i))
		if err != nil || !strings.Contains(out, "proxy_user=alice@CORP.TEST\n") {
			t.Fatalf("request %d at %v: %v %q\nsesame:\n%s\nKDC:\n%s", i, time.Since(begin).Round(time.Second), err, out, p.stderr.String(), k.Log())
		}
		time.Sleep(5 * time.Second)
	}
	log := kdcLog(t, k)
	renewals := regexp.MustCompile(`TGS_REQ .*ISSUE: authtime (\d+),.* alice@CORP\.TEST for krbtgt/CORP\.TEST@CORP\.TEST`).FindAllStringSubmatch(log, -1)
	asReqs := regexp.MustCompile(`AS_REQ .*ISSUE: .* alice@CORP\.TEST for krbtgt/CORP\.TEST@CORP\.TEST`).FindAllString(log, -1)
	t.Logf("KDC: %d TGT renewals, %d AS-REQs for alice; sesame:\n%s", len(renewals), len(asReqs), grepLines(p.stderr.String(), "TGT"))
	if len(renewals) < 2 {
		t.Errorf("the KDC saw %d renewals of alice's TGT, want at least 2\n%s", len(renewals), log)
	}
	if len(asReqs) < 2 { // kinit's, then the relogin with the keyring's password
		t.Errorf("the KDC saw %d AS-REQs for alice, want kinit's and a relogin after the renew-till\n%s", len(asReqs), log)
	}
	if !strings.Contains(p.stderr.String(), "Kerberos TGT renewed") || !strings.Contains(p.stderr.String(), "replaced with the stored password") {
		t.Errorf("sesame's log does not show the renewals and the relogin:\n%s", p.stderr.String())
	}
	if last := klistEnd(t, k, ccache); !last.After(first.Add(90 * time.Second)) {
		t.Errorf("the cache's TGT ends %v, the kinit one %v: the renewed TGT was not stored back", last, first)
	}
	if strings.Contains(p.stderr.String(), "Password") {
		t.Errorf("sesame prompted:\n%s", p.stderr.String())
	}
}

func kdcLog(t *testing.T, k *lab.KDC) string {
	t.Helper()
	return k.Log()
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// klistEnd is the end time of the TGT in a FILE cache, as MIT klist
// shows it.
func klistEnd(t *testing.T, k *lab.KDC, ccache string) time.Time {
	t.Helper()
	cmd := exec.Command("/usr/bin/klist", "-c", "FILE:"+ccache)
	cmd.Env = append(k.Env(), "LC_ALL=C")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("klist: %v\n%s", err, out)
	}
	m := regexp.MustCompile(`(\d\d/\d\d/\d\d \d\d:\d\d:\d\d)\s+(\d\d/\d\d/\d\d \d\d:\d\d:\d\d)\s+krbtgt/`).FindStringSubmatch(string(out))
	if m == nil {
		t.Fatalf("no TGT in klist's output:\n%s", out)
	}
	end, err := time.ParseInLocation("01/02/06 15:04:05", m[2], time.Local)
	if err != nil {
		t.Fatalf("klist end time %q: %v", m[2], err)
	}
	return end
}
