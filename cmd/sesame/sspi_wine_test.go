//go:build linux

package main

import (
	"context"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sesame-auth/sesame/internal/lab"
)

// krbPassword is the test KDC's password for alice in the SSPI tests.
const sspiKrbPassword = "KrbPass-789"

// sspiLab is the Kerberos side of the SSPI tests: a KDC with alice, an
// Apache whose /negotiate/ takes Kerberos, and alice's ticket in a
// credential cache that Wine's Kerberos provider reads (it runs MIT
// libkrb5 on the Linux side: KRB5_CONFIG and KRB5CCNAME reach it).
type sspiLab struct {
	kdc    *lab.KDC
	apache *lab.Apache
	krbEnv []string
	exe    string
	wine   *lab.Wine
}

func startSSPILab(t *testing.T) *sspiLab {
	t.Helper()
	lab.Require(t, "go")
	l := &sspiLab{exe: buildWindowsSesame(t)}
	l.kdc = lab.StartKDC(t, lab.KDCOptions{Users: []lab.KerberosUser{{Name: "alice", Password: sspiKrbPassword}}})
	l.apache = lab.StartApache(t, lab.ApacheOptions{
		KerberosKeytab: l.kdc.ServiceKeytab, Krb5Conf: l.kdc.Krb5Conf,
		NTLMUsers: []lab.NTLMUser{{Domain: "CORP", User: "alice", Password: getPassword}},
	})
	ccache := l.kdc.Kinit(t, "alice", sspiKrbPassword)
	l.krbEnv = []string{"KRB5_CONFIG=" + l.kdc.Krb5Conf, "KRB5CCNAME=FILE:" + ccache}
	l.wine = lab.StartWine(t)
	return l
}

// sesame runs the windows sesame.exe under Wine with env added.
func (l *sspiLab) sesame(t *testing.T, env []string, args ...string) (code int, out string, took time.Duration) {
	t.Helper()
	begin := time.Now()
	out, code, err := l.wine.RunEnv(wineCmdTimeout, env, l.wine.WindowsPath(l.exe), args...)
	if err != nil {
		t.Fatalf("wine sesame.exe %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return code, out, time.Since(begin)
}

// TestSSPIUnderWine: the windows sesame.exe answers with Windows' own
// security packages (Wine's secur32, whose Kerberos provider gets real
// tickets from the test KDC, and whose NTLM runs Samba's ntlm_auth):
// "-u :" is single sign-on as the logged-on user with mutual
// authentication verified; explicit credentials over SSPI's NTLM work, and
// a wrong password is one 401, not a second attempt; no ticket and no KDC
// is a clear error within seconds.
func TestSSPIUnderWine(t *testing.T) {
	l := startSSPILab(t)

	t.Run("sso-negotiate", func(t *testing.T) {
		code, out, took := l.sesame(t, l.krbEnv, "get", "-v", "-u", ":", l.apache.URL+"/negotiate/")
		t.Logf("sesame.exe get -u : took %v", took)
		if code != 0 || !strings.Contains(out, "user=alice@CORP.TEST") {
			t.Fatalf("sesame.exe get -u : %s/negotiate/: exit %d\n%s\n%s", l.apache.URL, code, out, l.apache.ErrorLog())
		}
		// Kerberos, and (Finish demands ISC_RET_MUTUAL_AUTH after the
		// AP-REP of the 200, else the get fails) mutually authenticated.
		if !strings.Contains(out, "identity=sspi:") || !strings.Contains(out, "mechanism=kerberos") {
			t.Errorf("the -v log does not show SSPI answering with Kerberos:\n%s", out)
		}
	})

	t.Run("ntlm-explicit", func(t *testing.T) {
		code, out, took := l.sesame(t, nil, "get", "-v", "--sspi", "--auth", "ntlm", "-u", `CORP\alice:`+getPassword, l.apache.URL+"/ntlm/?right")
		t.Logf("sesame.exe get --sspi --auth ntlm took %v", took)
		if code != 0 || !strings.Contains(out, `user=CORP\alice`) || !strings.Contains(out, "identity=sspi:CORP") {
			t.Fatalf("--sspi NTLM: exit %d\n%s\n%s", code, out, l.apache.ErrorLog())
		}
	})

	t.Run("ntlm-wrong-password", func(t *testing.T) {
		code, out, _ := l.sesame(t, nil, "get", "-v", "--sspi", "--auth", "ntlm", "-u", `CORP\alice:wrong`, l.apache.URL+"/ntlm/?wrong")
		if code != 67 || !strings.Contains(out, "401 Unauthorized") || !strings.Contains(out, "refused") {
			t.Fatalf("--sspi NTLM, wrong password: exit %d, want the 401 delivered\n%s", code, out)
		}
		// One handshake: the bare request, NEGOTIATE, AUTHENTICATE; a
		// second AUTHENTICATE would count toward the account's lockout.
		if n := accessLogCount(t, l.apache, "/ntlm/?wrong"); n != 3 {
			t.Fatalf("wrong password: %d requests reached Apache, want 3 (one handshake, no second attempt)\n%s", n, out)
		}
	})

	t.Run("no-ticket-no-kdc", func(t *testing.T) {
		dir := t.TempDir()
		conf := filepath.Join(dir, "krb5.conf")
		dead := "127.0.0.1:" + strconv.Itoa(lab.FreePort(t)) // nothing listens
		writeTestFile(t, conf, "[libdefaults]\n default_realm = CORP.TEST\n dns_lookup_kdc = false\n rdns = false\n[realms]\n CORP.TEST = {\n  kdc = "+dead+"\n }\n")
		env := []string{"KRB5_CONFIG=" + conf, "KRB5CCNAME=FILE:" + filepath.Join(dir, "no-ccache")}
		code, out, took := l.sesame(t, env, "get", "-u", ":", l.apache.URL+"/negotiate/")
		t.Logf("no ticket, no KDC: exit %d in %v", code, took)
		if took > 15*time.Second {
			t.Errorf("no ticket, no KDC took %v: want a prompt answer", took)
		}
		if code != 67 || !strings.Contains(out, "SEC_E_NO_CREDENTIALS") || !strings.Contains(out, "no Kerberos ticket") {
			t.Fatalf("no ticket, no KDC: exit %d, want a failure naming the cause\n%s", code, out)
		}
	})
}

// accessLogCount counts the requests for target in Apache's access log.
func accessLogCount(t *testing.T, ap *lab.Apache, target string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(ap.Dir, "logs", "access.log"))
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), " "+target+" HTTP/")
}

// sspiLoopN is how many handshakes TestSSPIHandshakeLoopUnderWine runs;
// SESAME_SSPI_LOOP overrides it.
const sspiLoopN = 10000

// TestSSPIHandshakeLoopUnderWine runs the sspi package's winelab tests
// (GOOS=windows, -tags winelab) under Wine against the test KDC and
// Apache: thousands of Kerberos handshakes through Wine's secur32 with
// the handle count and private memory flat, every context deleted, every
// AP-REP verified, and abandoned handshakes cleaned up.
func TestSSPIHandshakeLoopUnderWine(t *testing.T) {
	l := startSSPILab(t)
	n := sspiLoopN
	if v := os.Getenv("SESAME_SSPI_LOOP"); v != "" {
		n, _ = strconv.Atoi(v)
	}
	l.runSSPILabTest(t, buildSSPILabTest(t), n)
}

// TestSSPIStackMovesUnderWine runs the handshake loop with the sspi
// package built so that every function call moves the goroutine's stack
// (-d=maymorestack=runtime.mayMoreStackMove). The secur32 calls take
// pointers as uintptr; had any of them pointed into the stack, the
// package would write the output token's length and the ISC_RET_* flags
// into the old copy: first legs of 65,535 bytes and verified AP-REPs
// seen with attributes 0. Without the forced moves that happened only
// when a stack grew or shrank at that very point, once in some ten
// thousand handshakes on a loaded machine ("no verified AP-REP").
func TestSSPIStackMovesUnderWine(t *testing.T) {
	l := startSSPILab(t)
	l.runSSPILabTest(t, buildSSPILabTest(t, "-gcflags=github.com/sesame-auth/sesame/sspi=-d=maymorestack=runtime.mayMoreStackMove"), 300)
}

// buildSSPILabTest compiles the sspi package's winelab tests for Windows.
func buildSSPILabTest(t *testing.T, flags ...string) string {
	t.Helper()
	exe := filepath.Join(t.TempDir(), "sspi.test.exe")
	args := append([]string{"test", "-c", "-tags", "winelab", "-o", exe}, flags...)
	cmd := exec.Command("go", append(args, "../../sspi")...)
	cmd.Env = append(os.Environ(), "GOOS=windows", "GOARCH=amd64", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("GOOS=windows go test -c ./sspi %s: %v\n%s", strings.Join(flags, " "), err, out)
	}
	return exe
}

// runSSPILabTest runs TestLabHandshakeLoop of exe under Wine with n
// handshakes against the lab's Apache.
func (l *sspiLab) runSSPILabTest(t *testing.T, exe string, n int) {
	t.Helper()
	env := append(l.krbEnv, "SESAME_LAB_URL="+l.apache.URL+"/negotiate/", "SESAME_LAB_N="+strconv.Itoa(n))
	begin := time.Now()
	out, code, err := l.wine.RunEnv(10*time.Minute, env, l.wine.WindowsPath(exe), "-test.v", "-test.run", "^TestLabHandshakeLoop$")
	t.Logf("under Wine in %v:\n%s", time.Since(begin).Round(time.Millisecond), out)
	if err != nil || code != 0 {
		log := l.apache.ErrorLog()
		if len(log) > 8<<10 {
			log = "..." + log[len(log)-8<<10:]
		}
		t.Fatalf("sspi.test.exe: status %d, %v\nApache's error log (end):\n%s", code, err, log)
	}
}

// TestSSPIProxyUnderWine: the windows `sesame proxy` with no account at
// all, in front of squid demanding Negotiate, answers as the logged-on
// user through SSPI (Wine's Kerberos, the ticket from the test KDC); curl
// on Linux gets through, and three requests on one client connection cost
// one handshake upstream (one 407).
func TestSSPIProxyUnderWine(t *testing.T) {
	l := startSSPILab(t)
	sq := lab.StartSquid(t, lab.SquidOptions{Auth: "negotiate", KDC: l.kdc})
	origin := httptest.NewServer(http.HandlerFunc(whoOrigin))
	defer origin.Close()
	addr := "127.0.0.1:" + strconv.Itoa(lab.FreePort(t))
	logPath := filepath.Join(t.TempDir(), "proxy.log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	defer logf.Close()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	begin := time.Now()
	cmd := l.wine.CommandEnv(ctx, l.krbEnv, l.wine.WindowsPath(l.exe), "proxy", "--listen", addr, "--upstream", sq.Addr, "--log-level", "debug")
	cmd.Stdout, cmd.Stderr = logf, logf
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); cmd.Wait() }()
	proxyLog := func() string { b, _ := os.ReadFile(logPath); return string(b) }
	for deadline := time.Now().Add(30 * time.Second); ; {
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("sesame.exe proxy did not listen on %s: %v\n%s", addr, err, proxyLog())
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Logf("sesame.exe proxy listening after %v", time.Since(begin).Round(time.Millisecond))
	out, err := curl(t, "-x", "http://"+addr, origin.URL+"/sso/1", origin.URL+"/sso/2", origin.URL+"/sso/3")
	if err != nil || strings.Count(out, "proxy_user=alice@CORP.TEST\n") != 3 {
		t.Fatalf("curl through the windows proxy: %v %q\n%s\n%s", err, out, proxyLog(), sq.AccessLog())
	}
	if n := strings.Count(sq.AccessLog(), " 407 GET "); n != 1 {
		t.Errorf("squid sent %d 407s for 3 requests, want 1 (one handshake per upstream connection)\n%s", n, sq.AccessLog())
	}
	if !strings.Contains(proxyLog(), "sspi:") {
		t.Errorf("the proxy's log does not name the SSPI credential:\n%s", proxyLog())
	}

	// Two clients at once: each gets its answers as the logged-on user
	// over upstream connections of their own, one handshake each.
	var wg sync.WaitGroup
	outs, errs := make([]string, 2), make([]error, 2)
	for i := range outs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			outs[i], errs[i] = curl(t, "-x", "http://"+addr, origin.URL+"/p/1", origin.URL+"/p/2", origin.URL+"/p/3", origin.URL+"/p/4")
		}()
	}
	wg.Wait()
	for i := range outs {
		if errs[i] != nil || strings.Count(outs[i], "proxy_user=alice@CORP.TEST\n") != 4 {
			t.Errorf("client %d at the same time: %v %q\n%s", i, errs[i], outs[i], sq.AccessLog())
		}
	}
	if n := strings.Count(sq.AccessLog(), " 407 GET "); n > 3 {
		t.Errorf("squid sent %d 407s for 11 requests on at most 3 connections, want at most 3\n%s", n, sq.AccessLog())
	}
}
