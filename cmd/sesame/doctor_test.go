//go:build linux

package main

import (
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"

	"github.com/sesame-auth/sesame/internal/lab"
)

// sesame doctor against squid NTLM: the right password gives a verdict and
// a configuration that names the working scheme; a wrong one is reported
// as rejected after one attempt, with exit status 1.
func TestDoctor(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(whoOrigin))
	defer origin.Close()
	sq := lab.StartSquid(t, lab.SquidOptions{Auth: "ntlm", Users: []lab.ProxyUser{{Domain: "CORP", User: "alice", Password: "AlicePass123"}}})
	dead := "127.0.0.1:" + strconv.Itoa(lab.FreePort(t))
	code, out, errOut := sesame(t, "", map[string]string{"PW": "AlicePass123"}, "doctor", "--url", origin.URL+"/doctor",
		"--upstream", dead, "--upstream", sq.Addr, "--user", `CORP\alice`, "--password-env", "PW")
	for _, want := range []string{"connect: FAILED", "offers: NTLM", `NTLM as CORP\alice: ok (200 OK)`, "Verdict: works through " + sq.Addr, `schemes = ["ntlm"]`, `password_env = "PW"`} {
		if !strings.Contains(out, want) {
			t.Errorf("doctor output lacks %q", want)
		}
	}
	if code != 0 || strings.Contains(out+errOut, "AlicePass123") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}

	before := len(sq.AccessEntries())
	code, out, _ = sesame(t, "", map[string]string{"PW": "wrong"}, "doctor", "--url", origin.URL+"/doctor-bad",
		"--upstream", sq.Addr, "--user", `CORP\alice`, "--password-env", "PW", "--auth", "ntlm")
	if code != 1 || !strings.Contains(out, "REJECTED") || !strings.Contains(out, "no working way through") {
		t.Fatalf("wrong password: exit %d\n%s", code, out)
	}
	var attempts int
	for _, e := range sq.AccessEntries()[before:] {
		if strings.HasSuffix(e.URL, "/doctor-bad") && e.Status == 407 {
			attempts++
		}
	}
	// The probe without credentials; then, on a fresh transport, the
	// request that meets the challenge and one NTLM handshake (NEGOTIATE,
	// AUTHENTICATE): four 407s, and no second handshake.
	if attempts > 4 {
		t.Errorf("wrong password: %d 407s at squid, want at most 4 (one probe, one handshake)", attempts)
	}
}
