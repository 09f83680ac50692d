//go:build linux

package lab

import (
	"context"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"
)

// addcCurl runs curl inside the lab with env added to the lab's client
// environment and returns the HTTP status and body.
func addcCurl(t *testing.T, a *ADDC, env []string, args ...string) (status int, body string) {
	t.Helper()
	Require(t, "curl")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := a.Command(ctx, "curl", append([]string{"-sS", "--max-time", "30", "-w", "\n%{http_code}"}, args...)...)
	cmd.Env = append(cmd.Env, env...)
	out, err := cmd.Output()
	if err != nil {
		var stderr string
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("curl %v: %v\n%s%s\n%s", args, err, out, stderr, a.Logs())
	}
	s := strings.TrimRight(string(out), "\n")
	i := strings.LastIndexByte(s, '\n')
	code, err := strconv.Atoi(s[i+1:])
	if err != nil {
		t.Fatalf("curl %v: no status in %q", args, out)
	}
	if i < 0 {
		return code, ""
	}
	return code, s[:i] // without the line break before the status
}

// The AD DC lab end to end with curl as the client: NTLM (verified by the
// DC through winbindd) for a member and a non-member of webusers on both
// squid ports, Negotiate with a ticket from the DC's KDC, and, once the
// test's lab is cleaned up, nothing of it left: no process, no namespace,
// no veth.
func TestADDC(t *testing.T) {
	var a *ADDC
	var procs []procInfo
	t.Run("lab", func(t *testing.T) {
		a = StartADDC(t)
		hello := a.OriginURL + "/hello.txt"
		alice := ADDCDomain + `\` + ADDCAlice.Name + ":" + ADDCAlice.Password
		bob := ADDCDomain + `\` + ADDCBob.Name + ":" + ADDCBob.Password

		if code, _ := addcCurl(t, a, nil, "-o", "/dev/null", "--proxy", a.ProxyURL, hello); code != 407 {
			t.Errorf("no credentials through %s: %d, want 407", a.ProxyURL, code)
		}
		code, body := addcCurl(t, a, nil, "--proxy", a.ProxyURL, "--proxy-ntlm", "-U", alice, hello)
		if code != 200 || body != "hello from the addc lab origin\n" {
			t.Errorf("NTLM alice through %s: %d %q, want 200 and the origin's body", a.ProxyURL, code, body)
		}
		if code, _ := addcCurl(t, a, nil, "-o", "/dev/null", "--proxy", a.ProxyURL, "--proxy-ntlm", "-U", ADDCDomain+`\alice:wrong`, hello); code != 407 {
			t.Errorf("NTLM alice with a wrong password: %d, want 407", code)
		}
		if code, _ := addcCurl(t, a, nil, "-o", "/dev/null", "--proxy", a.ProxyURL, "--proxy-ntlm", "-U", bob, hello); code != 200 {
			t.Errorf("NTLM bob through %s: %d, want 200 (any AD user)", a.ProxyURL, code)
		}
		if code, body := addcCurl(t, a, nil, "--proxy", a.ProxyURL, "--proxy-basic", "-U", ADDCAlice.Name+":"+ADDCAlice.Password, a.OriginURL+"/who"); code != 200 || !strings.Contains(body, "proxy_user=alice\n") {
			t.Errorf("Basic alice through %s: %d %q, want 200 as alice", a.ProxyURL, code, body)
		}
		if code, _ := addcCurl(t, a, nil, "-o", "/dev/null", "--proxy", a.GroupProxyURL, "--proxy-ntlm", "-U", alice, hello); code != 200 {
			t.Errorf("NTLM alice (in webusers) through %s: %d, want 200", a.GroupProxyURL, code)
		}
		if code, _ := addcCurl(t, a, nil, "-o", "/dev/null", "--proxy", a.GroupProxyURL, "--proxy-ntlm", "-U", bob, hello); code != 403 {
			t.Errorf("NTLM bob (not in webusers) through %s: %d, want 403", a.GroupProxyURL, code)
		}

		cc := a.Kinit(t, ADDCAlice.Name, ADDCAlice.Password)
		krb := []string{"KRB5CCNAME=FILE:" + cc}
		code, body = addcCurl(t, a, krb, "--proxy", a.ProxyURL, "--proxy-negotiate", "-U", ":", a.OriginURL+"/who")
		if code != 200 || !strings.Contains(body, "proxy_user=alice@CORP.TEST\n") {
			t.Errorf("Negotiate with alice's ticket through %s: %d %q, want 200 as alice@CORP.TEST", a.ProxyURL, code, body)
		}
		if code, _ := addcCurl(t, a, krb, "-o", "/dev/null", "--proxy", a.GroupProxyURL, "--proxy-negotiate", "-U", ":", hello); code != 200 {
			t.Errorf("Negotiate with alice's ticket through %s: %d, want 200", a.GroupProxyURL, code)
		}
		ccBob := a.Kinit(t, ADDCBob.Name, ADDCBob.Password)
		if code, _ := addcCurl(t, a, []string{"KRB5CCNAME=FILE:" + ccBob}, "-o", "/dev/null", "--proxy", a.GroupProxyURL, "--proxy-negotiate", "-U", ":", hello); code != 403 {
			t.Errorf("Negotiate with bob's ticket through %s: %d, want 403", a.GroupProxyURL, code)
		}

		// squid logged whom it authenticated, by either scheme.
		a.WaitAccessEntry(t, func(e SquidAccess) bool { return e.User == `CORP\alice` && e.Status == 200 })
		a.WaitAccessEntry(t, func(e SquidAccess) bool { return e.User == "alice@CORP.TEST" && e.Status == 200 })
		a.WaitAccessEntry(t, func(e SquidAccess) bool { return e.User == `CORP\bob` && e.Status == 403 })

		// What runs in the namespace, to check that it is gone later.
		for _, p := range a.nsPids() {
			pid, _ := strconv.Atoi(p)
			if info, _, ok := readProc(pid); ok {
				procs = append(procs, info)
			}
		}
		if len(procs) == 0 {
			t.Errorf("no process in the lab's namespace %s", a.NetNS)
		}
	})
	if a == nil {
		return
	}
	// The subtest's cleanup has run.
	if out, _ := exec.Command("ip", "netns", "list").CombinedOutput(); strings.Contains(string(out), a.NetNS) {
		t.Errorf("network namespace %s still exists:\n%s", a.NetNS, out)
	}
	if _, err := os.Stat("/run/netns/" + a.NetNS); err == nil {
		t.Errorf("/run/netns/%s still exists", a.NetNS)
	}
	if out, err := exec.Command("ip", "link", "show", a.vethHost).CombinedOutput(); err == nil {
		t.Errorf("veth %s still exists:\n%s", a.vethHost, out)
	}
	for _, p := range procs {
		if p.alive() {
			t.Errorf("process %v of the lab still runs", p)
		}
	}
	if left := procsMentioning(a.Dir); len(left) > 0 {
		t.Errorf("processes naming the lab's directory still run: %v", left)
	}
	if _, err := os.Stat(a.Dir); err == nil {
		t.Errorf("the lab's directory %s still exists", a.Dir)
	}
}
