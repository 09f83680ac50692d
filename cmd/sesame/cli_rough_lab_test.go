//go:build linux

package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sesame-auth/sesame/internal/lab"
)

// A 401 offering Negotiate while a ticket is at hand, without -u: one
// line on stderr says that -u : would use it (and whose it is); the
// request is otherwise curl's (the 401 body, exit 0; exit 22 with -f).
// With -u : the ticket is used and the line is not printed; without a
// ticket there is nothing to say.
func TestGetHintsNegotiateTicket(t *testing.T) {
	const pw = "KrbPass-789"
	k := lab.StartKDC(t, lab.KDCOptions{Users: []lab.KerberosUser{{Name: "alice", Password: pw}}})
	ap := lab.StartApache(t, lab.ApacheOptions{KerberosKeytab: k.ServiceKeytab, Krb5Conf: k.Krb5Conf})
	ccache := k.Kinit(t, "alice", pw)
	env := []string{"KRB5_CONFIG=" + k.Krb5Conf, "KRB5CCNAME=FILE:" + ccache}
	const hint = "sesame: the server offers Negotiate; -u : would use the ticket of alice@CORP.TEST\n"

	code, _, errOut := cli(t, env, "", "get", ap.URL+"/negotiate/")
	if code != 0 || errOut != hint {
		t.Errorf("no -u: exit %d, stderr %q; want 0 and %q", code, errOut, hint)
	}
	code, _, errOut = cli(t, env, "", "get", "-fsS", ap.URL+"/negotiate/")
	if code != exitHTTPError || !strings.HasPrefix(errOut, hint) {
		t.Errorf("-fsS: exit %d, stderr %q", code, errOut)
	}
	code, out, errOut := cli(t, env, "", "get", "-u", ":", ap.URL+"/negotiate/")
	if code != 0 || !strings.Contains(out, "user=alice@CORP.TEST") || strings.Contains(errOut, "offers Negotiate") {
		t.Errorf("-u : exit %d, %q %q", code, out, errOut)
	}
	noTicket := []string{"KRB5_CONFIG=" + k.Krb5Conf, "KRB5CCNAME=FILE:" + filepath.Join(t.TempDir(), "none")}
	if code, _, errOut = cli(t, noTicket, "", "get", ap.URL+"/negotiate/"); code != 0 || errOut != "" {
		t.Errorf("no ticket: exit %d, stderr %q; want no hint", code, errOut)
	}
}

// A broken local PAC file stops the proxy at start-up (exit 2, one line
// naming the file) instead of letting it run and answer every request
// with 502; with pac_fail = "direct" it starts, with a loud warning, and
// goes DIRECT. A good PAC is named as the route in the start-up line.
func TestProxyChecksPACAtStart(t *testing.T) {
	dir := t.TempDir()
	broken := filepath.Join(dir, "broken.pac")
	good := filepath.Join(dir, "good.pac")
	writeFile(t, broken, `function FindProxyForURL(url, host) { return "PROXY p.corp:8080"; `)
	writeFile(t, good, `function FindProxyForURL(url, host) { return "DIRECT"; }`)
	for _, pacFile := range []string{broken, filepath.Join(dir, "missing.pac")} {
		code, out, errOut := cli(t, nil, "", "proxy", "--listen", "127.0.0.1:0", "--pac", pacFile)
		if code != 2 || out != "" || strings.Count(errOut, "\n") != 1 || !strings.Contains(errOut, "sesame proxy: PAC file "+pacFile) {
			t.Errorf("--pac %s: exit %d, stdout %q, stderr %q; want exit 2 and one line naming the PAC", filepath.Base(pacFile), code, out, errOut)
		}
	}

	origin := httptest.NewServer(http.HandlerFunc(whoOrigin))
	defer origin.Close()
	bin := cliBinary(t)
	conf := filepath.Join(dir, "sesame.toml")
	writeFile(t, conf, "pac = \""+broken+"\"\npac_fail = \"direct\"\n")
	p := startProxy(t, bin, nil, "--config", conf)
	waitLog(t, p, "sesame proxy listening", 1)
	if log := p.stderr.String(); !strings.Contains(log, "level=WARN msg=\"THE PAC FILE CANNOT BE USED: every request goes DIRECT") || !strings.Contains(log, "upstream=\"PAC "+broken+"\"") {
		t.Errorf("pac_fail = direct: no loud warning, or the PAC not named as the route:\n%s", log)
	}
	if out, err := curl(t, "-x", p.URL, origin.URL+"/direct"); err != nil || !strings.Contains(out, "path=/direct") {
		t.Errorf("pac_fail = direct: %v %q", err, out)
	}

	p = startProxy(t, bin, nil, "--pac", good)
	waitLog(t, p, "sesame proxy listening", 1)
	if log := p.stderr.String(); !strings.Contains(log, "upstream=\"PAC "+good+"\"") || strings.Contains(log, "WARN") {
		t.Errorf("good PAC: start-up line does not name it:\n%s", log)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

// --upstream DIRECT is a route, not the host DIRECT:8080: alone (or as
// --upstream ”) no proxy and no discovery from HTTPS_PROXY; last, the
// fallback after the proxies before it; anywhere else a usage error.
func TestProxyUpstreamDirect(t *testing.T) {
	origin := httptest.NewServer(http.HandlerFunc(whoOrigin))
	defer origin.Close()
	bin := cliBinary(t)
	dead := fmt.Sprintf("127.0.0.1:%d", lab.FreePort(t))
	code, out, errOut := cli(t, nil, "", "proxy", "--upstream", "DIRECT", "--print-config")
	if code != 0 || !strings.Contains(out, `upstreams = ["DIRECT"]`) {
		t.Errorf("--print-config: exit %d\n%s%s", code, out, errOut)
	}
	for _, tc := range []struct {
		args  []string
		route string
	}{
		{[]string{"--upstream", "DIRECT"}, `upstream=DIRECT`},
		{[]string{"--upstream", ""}, `upstream=DIRECT`},
		{[]string{"--upstream", dead, "--upstream", "direct"}, `upstream="` + dead + `, DIRECT"`},
	} {
		// A proxy in the environment that discovery would take.
		p := startProxy(t, bin, []string{"HTTPS_PROXY=http://" + dead, "HTTP_PROXY=http://" + dead}, tc.args...)
		if out, err := curl(t, "-x", p.URL, origin.URL+"/direct"); err != nil || !strings.Contains(out, "path=/direct") {
			t.Errorf("%q: %v %q\n%s", tc.args, err, out, p.stderr.String())
		}
		waitLog(t, p, "sesame proxy listening", 1)
		if log := p.stderr.String(); !strings.Contains(log, tc.route+" ") || strings.Contains(log, "DIRECT:8080") {
			t.Errorf("%q: start-up line lacks %s:\n%s", tc.args, tc.route, log)
		}
	}
	code, _, errOut = cli(t, nil, "", "proxy", "--listen", "127.0.0.1:0", "--upstream", "DIRECT", "--upstream", dead)
	if code != 2 || !strings.Contains(errOut, "DIRECT must come last") {
		t.Errorf("DIRECT first: exit %d %q", code, errOut)
	}
}
