//go:build linux

package main

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sesame-auth/sesame/internal/lab"
)

// writeConf writes a sesame.toml for one test.
func writeConf(t *testing.T, text string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "sesame.toml")
	if err := os.WriteFile(p, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// parallelCurl runs clients curl processes at once, each fetching n
// URLs (url(client, i)) one after the other through proxyURL, and
// returns every output by client.
func parallelCurl(t *testing.T, proxyURL string, clients, n int, url func(client, i int) string, extra ...string) [][]string {
	t.Helper()
	out := make([][]string, clients)
	errs := make([][]error, clients)
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		out[c], errs[c] = make([]string, n), make([]error, n)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < n; i++ {
				out[c][i], errs[c][i] = curl(t, append(append([]string{"-x", proxyURL}, extra...), url(c, i))...)
			}
		}()
	}
	wg.Wait()
	for c := range errs {
		for i, err := range errs[c] {
			if err != nil {
				t.Errorf("client %d request %d: %v", c, i, err)
			}
		}
	}
	return out
}

// `sesame proxy` with principal = "bob@CORP.TEST" in the config answers
// squid's Negotiate from bob's cache of a DIR: collection whose primary
// cache is alice's: two curl clients at once, every request bob's in
// squid's and sesame's logs. Without the setting the same collection
// gives alice (the primary). opportunistic = true sends bob's token
// before squid asks: squid logs no 407.
func TestProxyGSSPrincipal(t *testing.T) {
	bin := buildSesame(t)
	const alicePW = "KrbPass-789"
	k := lab.StartKDC(t, lab.KDCOptions{Users: []lab.KerberosUser{{Name: "alice", Password: alicePW}, {Name: "bob", Password: ccBobPass}}})
	sq := lab.StartSquid(t, lab.SquidOptions{Auth: "negotiate", KDC: k})
	origin := httptest.NewServer(http.HandlerFunc(whoOrigin))
	defer origin.Close()
	dir := "DIR:" + filepath.Join(t.TempDir(), "cc")
	ccKinit(t, k.Krb5Conf, dir, "bob", ccBobPass)
	ccKinit(t, k.Krb5Conf, dir, "alice", alicePW) // primary now
	env := []string{"KRB5_CONFIG=" + k.Krb5Conf, "KRB5CCNAME=" + dir}

	conf := writeConf(t, fmt.Sprintf("upstreams = [%q]\n[auth]\nschemes = [\"negotiate\"]\nprincipal = \"bob@CORP.TEST\"\nopportunistic = true\n", sq.Addr))
	p := startProxy(t, bin, env, "--config", conf)
	const clients, n = 2, 4
	outs := parallelCurl(t, p.URL, clients, n, func(c, i int) string { return fmt.Sprintf("%s/principal/%d/%d", origin.URL, c, i) })
	for c := range outs {
		for i, out := range outs[c] {
			if !strings.Contains(out, "proxy_user=bob@CORP.TEST\n") {
				t.Errorf("client %d request %d: %q, want bob\n%s", c, i, out, p.stderr.String())
			}
		}
	}
	waitLog(t, p, "principal=bob@CORP.TEST", clients*n)
	if strings.Contains(p.stderr.String(), "principal=alice@") {
		t.Errorf("alice's ticket answered:\n%s", p.stderr.String())
	}
	seen := 0
	for _, e := range sq.WaitAccessEntries(t, clients*n) {
		if !strings.Contains(e.URL, "/principal/") {
			continue
		}
		seen++
		if e.Status == http.StatusProxyAuthRequired {
			t.Errorf("opportunistic: squid still sent a 407 for %s", e.URL)
		} else if e.User != "bob@CORP.TEST" {
			t.Errorf("squid saw %q for %s, want bob@CORP.TEST", e.User, e.URL)
		}
	}
	if seen != clients*n {
		t.Errorf("squid logged %d requests, want %d:\n%s", seen, clients*n, sq.AccessLog())
	}

	// The same collection without principal: the primary cache, alice;
	// --principal on the command line picks bob again.
	p2 := startProxy(t, bin, env, "--upstream", sq.Addr, "--auth", "negotiate")
	if out, err := curl(t, "-x", p2.URL, origin.URL+"/primary"); err != nil || !strings.Contains(out, "proxy_user=alice@CORP.TEST\n") {
		t.Errorf("without principal: %v %q, want alice (the primary cache)\n%s", err, out, p2.stderr.String())
	}
	p3 := startProxy(t, bin, env, "--upstream", sq.Addr, "--auth", "negotiate", "--principal", "bob@CORP.TEST")
	if out, err := curl(t, "-x", p3.URL, origin.URL+"/flag"); err != nil || !strings.Contains(out, "proxy_user=bob@CORP.TEST\n") {
		t.Errorf("--principal bob@CORP.TEST: %v %q, want bob\n%s", err, out, p3.stderr.String())
	}
}

// mech selects the mechanism inside Negotiate, with alice's ticket in the
// cache and her password in the config: toward Apache's forward proxy,
// whose Negotiate takes only NTLM, mech = "ntlm" gets through
// (mechanism=ntlm in sesame's access log, CORP\alice at the origin) and
// mech = "kerberos" does not (no NTLM fallback); toward squid, whose
// Negotiate takes only Kerberos, mech = "kerberos" gets through
// (mechanism=kerberos) and mech = "ntlm" does not (the ticket unused).
// Two clients at once each time.
func TestProxyGSSMech(t *testing.T) {
	bin := buildSesame(t)
	const pw = "AlicePass123"
	k := lab.StartKDC(t, lab.KDCOptions{Users: []lab.KerberosUser{{Name: "alice", Password: pw}}})
	ap := lab.StartApache(t, lab.ApacheOptions{
		NTLMUsers: []lab.NTLMUser{{Domain: "CORP", User: "alice", Password: pw}},
		Krb5Conf:  k.Krb5Conf,
		NTLMProxy: true,
	})
	sq := lab.StartSquid(t, lab.SquidOptions{Auth: "negotiate", KDC: k})
	origin := httptest.NewServer(http.HandlerFunc(whoOrigin))
	defer origin.Close()
	ccache := k.Kinit(t, "alice", pw)
	env := []string{"KRB5_CONFIG=" + k.Krb5Conf, "KRB5CCNAME=FILE:" + ccache, "PW=" + pw}
	for _, tc := range []struct {
		name, upstream, mech string
		want                 string // proxy_user at the origin; "" for a failure
		mechanism            string
		// refusedAs: the 502 names the credential the upstream refused,
		// the Kerberos principal or the NTLM account alone.
		refusedAs string
	}{
		{"apache-ntlm", ap.ProxyURL, "ntlm", `CORP\alice`, "ntlm", ""},
		{"apache-kerberos", ap.ProxyURL, "kerberos", "", "", "(Negotiate as alice@CORP.TEST)"},
		{"squid-kerberos", sq.Addr, "1.2.840.113554.1.2.2", "alice@CORP.TEST", "kerberos", ""},
		{"squid-ntlm", sq.Addr, "NTLM", "", "", `(Negotiate as CORP\alice)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conf := writeConf(t, fmt.Sprintf("upstreams = [%q]\n[auth]\nschemes = [\"negotiate\"]\nuser = 'CORP\\alice'\npassword_env = \"PW\"\nmech = %q\n", tc.upstream, tc.mech))
			p := startProxy(t, bin, env, "--config", conf)
			outs := parallelCurl(t, p.URL, 2, 2, func(c, i int) string { return fmt.Sprintf("%s/%s/%d/%d", origin.URL, tc.name, c, i) },
				"-w", "\nstatus=%{http_code}\n")
			for c := range outs {
				for i, out := range outs[c] {
					if tc.want != "" && !strings.Contains(out, "proxy_user="+tc.want+"\n") {
						t.Errorf("client %d request %d: %q, want %s\n%s", c, i, out, tc.want, p.stderr.String())
					}
					if tc.want == "" && (strings.Contains(out, "proxy_user=") || !strings.Contains(out, "status=502") || !strings.Contains(out, tc.refusedAs)) {
						t.Errorf("client %d request %d: %q, want a 502 naming %s", c, i, out, tc.refusedAs)
					}
				}
			}
			if tc.mechanism != "" {
				waitLog(t, p, "mechanism="+tc.mechanism, 4)
				other := map[string]string{"ntlm": "kerberos", "kerberos": "ntlm"}[tc.mechanism]
				if strings.Contains(p.stderr.String(), "mechanism="+other) {
					t.Errorf("mechanism=%s in the log:\n%s", other, p.stderr.String())
				}
			}
		})
	}
}

// runSesameBin runs the sesame binary to its end (at most 20 s).
func runSesameBin(t *testing.T, bin string, env []string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append(append([]string{"PATH=/usr/bin:/bin"}, hermeticKerberosEnv...), env...)
	out, _ := cmd.CombinedOutput()
	if ctx.Err() != nil {
		t.Fatalf("sesame %v did not exit:\n%s", args, out)
	}
	return cmd.ProcessState.ExitCode(), string(out)
}

// Invalid Negotiate settings stop `sesame proxy` at start, naming the
// setting and what it takes.
func TestProxyGSSInvalid(t *testing.T) {
	bin := buildSesame(t)
	const pw = "KrbPass-789"
	k := lab.StartKDC(t, lab.KDCOptions{Users: []lab.KerberosUser{{Name: "alice", Password: pw}}})
	dir := "DIR:" + filepath.Join(t.TempDir(), "cc")
	ccKinit(t, k.Krb5Conf, dir, "alice", pw)
	env := []string{"KRB5_CONFIG=" + k.Krb5Conf, "KRB5CCNAME=" + dir}
	listen := fmt.Sprintf("127.0.0.1:%d", lab.FreePort(t))
	for _, tc := range []struct {
		conf string
		args []string
		want string
	}{
		{"mutual = 'sometimes'", nil, `auth.mutual must be required, optional or disabled, not "sometimes"`},
		{"mech = 'kerberos5'", nil, `auth.mech must be kerberos, ntlm, spnego or one of their OIDs`},
		{"principal = 'bob'", nil, `auth.principal wants user@REALM, not "bob"`},
		{"mutual = 'optional'\nsanitize_mutual_error = true", nil, "auth.sanitize_mutual_error goes with auth.mutual required"},
		{"", []string{"--mutual", "maybe"}, `--mutual must be required, optional or disabled, not "maybe"`},
		{"", []string{"--mech", "1.2.3"}, `--mech must be kerberos, ntlm, spnego or one of their OIDs`},
		{"mech = 'ntlm'", nil, "mech ntlm: NTLM needs an account"},
		{"principal = 'carol@CORP.TEST'", nil, "no Kerberos ticket for carol@CORP.TEST"},
	} {
		conf := writeConf(t, "upstreams = [\"127.0.0.1:9\"]\n[auth]\nschemes = [\"negotiate\"]\n"+tc.conf+"\n")
		code, out := runSesameBin(t, bin, env, append([]string{"proxy", "--listen", listen, "--config", conf}, tc.args...)...)
		if code == 0 || !strings.Contains(out, tc.want) {
			t.Errorf("%q %v: exit %d, want a failure saying %q:\n%s", tc.conf, tc.args, code, tc.want, out)
		}
	}
}

// mutual = "required" toward squid, which never proves itself (no AP-REP
// in its responses): every response fails mutual authentication. By
// default the client gets a 502 naming it; with sanitize_mutual_error an
// error response (the origin's 404) reaches the client as its status
// alone, none of the origin's or squid's headers, no body, while a 200
// is still a 502 naming mutual authentication. A failed mutual
// authentication also withholds the credential from that upstream from
// then on (auth.Transport treats it as a rejection): two clients at once
// get, request by request, the sanitized 404 or that 502, never anything
// of the unauthenticated responses.
func TestProxyGSSSanitizeMutualError(t *testing.T) {
	bin := buildSesame(t)
	const pw = "KrbPass-789"
	k := lab.StartKDC(t, lab.KDCOptions{Users: []lab.KerberosUser{{Name: "alice", Password: pw}}})
	sq := lab.StartSquid(t, lab.SquidOptions{Auth: "negotiate", KDC: k})
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("X-Origin-Secret", "origin-header")
		w.Header().Set("Set-Cookie", "session=origin-cookie")
		if strings.HasPrefix(r.URL.Path, "/missing") {
			w.WriteHeader(http.StatusNotFound)
		}
		fmt.Fprint(w, "origin-body")
	}))
	defer origin.Close()
	ccache := k.Kinit(t, "alice", pw)
	env := []string{"KRB5_CONFIG=" + k.Krb5Conf, "KRB5CCNAME=FILE:" + ccache}
	head := []string{"-i", "-w", "status=%{http_code}\n"}
	start := func(sanitize bool) *proxyProcess {
		conf := writeConf(t, fmt.Sprintf("upstreams = [%q]\n[auth]\nschemes = [\"negotiate\"]\nmutual = \"required\"\nsanitize_mutual_error = %v\n", sq.Addr, sanitize))
		return startProxy(t, bin, env, "--config", conf)
	}
	leaks := func(out string) bool {
		return strings.Contains(out, "origin-") || strings.Contains(strings.ToLower(out), "squid")
	}
	// The first response of a fresh proxy, which sends alice's token.
	for _, tc := range []struct {
		sanitize   bool
		path, want string
	}{
		{false, "/missing/plain", "status=502"},
		{true, "/ok/sanitize", "status=502"},
		{true, "/missing/sanitize", "\r\n\r\nstatus=404"},
	} {
		p := start(tc.sanitize)
		out, err := curl(t, append(append([]string{"-x", p.URL}, head...), origin.URL+tc.path)...)
		if err != nil || leaks(out) || !strings.Contains(out, tc.want) || (tc.want == "status=502" && !strings.Contains(out, "mutual authentication failed")) {
			t.Errorf("sanitize %v %s: %v, want %q and nothing of the origin's:\n%s", tc.sanitize, tc.path, err, tc.want, out)
		}
		t.Logf("sanitize %v %s:\n%s", tc.sanitize, tc.path, out)
	}
	p := start(true)
	outs := parallelCurl(t, p.URL, 2, 2, func(c, i int) string {
		if i == 0 {
			return fmt.Sprintf("%s/missing/%d", origin.URL, c)
		}
		return fmt.Sprintf("%s/ok/%d", origin.URL, c)
	}, head...)
	sanitized := 0
	for c := range outs {
		for i, out := range outs[c] {
			switch {
			case leaks(out):
				t.Errorf("client %d request %d: the unauthenticated response shows through:\n%s", c, i, out)
			case i == 0 && strings.Contains(out, "status=404"):
				sanitized++
				if !strings.Contains(out, "\r\n\r\nstatus=404") {
					t.Errorf("client %d: the sanitized 404 has a body:\n%q", c, out)
				}
			case !strings.Contains(out, "status=502"):
				t.Errorf("client %d request %d: want the sanitized 404 or a 502:\n%s", c, i, out)
			case strings.Contains(out, "refused the account") || !strings.Contains(out, "mutual authentication"):
				// Once the upstream failed to prove itself, the 502
				// says that, not that a password was refused.
				t.Errorf("client %d request %d: the 502 does not name the failed mutual authentication:\n%s", c, i, out)
			}
		}
	}
	if sanitized == 0 {
		t.Errorf("no client got the sanitized 404:\n%v", outs)
	}
	// From then on sesame sends squid no token, and its 502 for squid's
	// 407 says why: not a refused account (no password was spent, none
	// to ask again), a proxy that did not prove itself.
	out, err := curl(t, append(append([]string{"-x", p.URL}, head...), origin.URL+"/ok/later")...)
	if err != nil || !strings.Contains(out, "status=502") || !strings.Contains(out, "did not prove its own identity") || strings.Contains(out, "refused the account") {
		t.Errorf("after the failed mutual authentication: %v, want a 502 saying the proxy did not prove itself:\n%s\n%s", err, out, p.stderr.String())
	}
	if !strings.Contains(p.stderr.String(), "failed mutual authentication") {
		t.Errorf("the proxy's log does not say the upstream failed mutual authentication:\n%s", p.stderr.String())
	}
}

// With NTLM-to-Basic the clients' accounts answer with NTLM: Negotiate
// options in the config do nothing, and the proxy says so at start.
func TestProxyGSSOptionsWarnWithNTLMToBasic(t *testing.T) {
	bin := buildSesame(t)
	sq := lab.StartSquid(t, lab.SquidOptions{Auth: "ntlm", Users: []lab.ProxyUser{{Domain: "CORP", User: "alice", Password: "AlicePass123"}}})
	p := startProxy(t, bin, nil, "--upstream", sq.Addr, "--ntlm-to-basic", "--opportunistic")
	if !strings.Contains(p.stderr.String(), "do nothing with NTLM-to-Basic") {
		t.Errorf("no warning that the Negotiate options do nothing with NTLM-to-Basic:\n%s", p.stderr.String())
	}
	q := startProxy(t, bin, nil, "--upstream", sq.Addr, "--ntlm-to-basic")
	if strings.Contains(q.stderr.String(), "do nothing with NTLM-to-Basic") {
		t.Errorf("the warning without any Negotiate option:\n%s", q.stderr.String())
	}
}
