//go:build linux

package main

import (
	"fmt"
	"html"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/sesame-auth/sesame/internal/lab"
)

// ssoPage is the application behind sesame serve in the browser test: it
// writes the X-Remote-User it was given into the HTML.
func ssoPage(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/favicon.ico" {
		http.NotFound(w, r)
		return
	}
	user := r.Header.Get("X-Remote-User")
	if user == "" {
		user = "anonymous"
	}
	if strings.HasSuffix(r.URL.Path, "/whoami") {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		fmt.Fprint(w, user)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	fmt.Fprintf(w, `<!DOCTYPE html><html><head><title>app</title></head><body>
<p id="marker">%s</p><p id="user">user=%s</p><p id="sso">sso=none</p>`, browserMarker, html.EscapeString(user))
	if probe := r.URL.Query().Get("probe"); probe != "" {
		// Chromium 148 answers the first Negotiate challenge after its
		// start with ERR_UNSUPPORTED_AUTH_SCHEME (its log says so) and
		// every later one with a ticket: the page asks again, with
		// synchronous requests so that the DOM dumped at the load event
		// holds the answer.
		fmt.Fprintf(w, `<script>
var u = "none", tries = [];
for (var i = 0; i < 3 && u == "none"; i++) {
  var x = new XMLHttpRequest(); x.open("GET", %q, false); x.send();
  tries.push(x.status);
  if (x.status == 200) u = x.responseText;
}
document.getElementById("sso").textContent = "sso=" + u + " tries=" + tries.join(" ");
</script>`, probe)
	}
	fmt.Fprint(w, "</body></html>")
}

// Headless Chromium with an auth-server allow-list and alice's ticket
// cache gets single sign-on through sesame serve (Negotiate, Kerberos for
// HTTP/localhost), on a required path and through the login path of an
// optional one; without the allow-list, the optional page renders
// anonymously: no 401, so no prompt.
func TestServeChromiumSSO(t *testing.T) {
	kdc := lab.StartKDC(t, lab.KDCOptions{Users: []lab.KerberosUser{{Name: "alice", Password: "AlicePass123"}}})
	cc := kdc.Kinit(t, "alice", "AlicePass123")
	app := httptest.NewServer(http.HandlerFunc(ssoPage))
	t.Cleanup(app.Close)
	bin := buildSesame(t)
	keyFile := filepath.Join(t.TempDir(), "session.key")
	if err := os.WriteFile(keyFile, []byte(strings.Repeat("5a", 32)+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := filepath.Join(t.TempDir(), "serve.toml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf("[serve]\nmode = \"optional\"\nrequired_paths = [\"/secure/\"]\nsession_key_file = %q\n", keyFile)), 0o644); err != nil {
		t.Fatal(err)
	}
	srv := startServe(t, bin, kdc.Env(), "http", "--config", cfg, "--backend", app.URL, "--keytab", kdc.ServiceKeytab)
	base := "http://" + strings.Replace(srv.Addr, "127.0.0.1", "localhost", 1)
	sso := lab.ChromiumOptions{
		// Chromium asks for HTTP/<host> (no port, no CNAME lookup: the
		// lab's resolver rules answer nothing but loopback names).
		ExtraFlags: []string{"--auth-server-allowlist=localhost", "--disable-auth-negotiate-cname-lookup"},
		Env:        []string{"KRB5CCNAME=FILE:" + cc, "KRB5_CONFIG=" + kdc.Krb5Conf},
	}
	field := func(t *testing.T, dom, name string) string {
		t.Helper()
		if !strings.Contains(dom, browserMarker) {
			t.Fatalf("not the application's page:\n%s\nsesame serve's log:\n%s", dom, srv.log.String())
		}
		i := strings.Index(dom, name+"=")
		return dom[i+len(name)+1 : i+len(name)+1+strings.IndexByte(dom[i+len(name)+1:], '<')]
	}

	// The page itself is optional (anonymous); its script asks a
	// required path, then the login path, which redirects to ?return=.
	for _, probe := range []string{"/secure/whoami", "/login?return=/whoami"} {
		t.Run("sso "+probe, func(t *testing.T) {
			dom := lab.ChromiumDumpDOM(t, sso, base+"/page?probe="+url.QueryEscape(probe))
			got := field(t, dom, "sso")
			t.Logf("%s: %s", probe, got)
			if !strings.HasPrefix(got, "alice@CORP.TEST tries=") {
				t.Errorf("the DOM says %q, want alice@CORP.TEST\n%s", got, srv.log.String())
			}
			if strings.HasPrefix(probe, "/login") && !regexp.MustCompile(`path=/login .*status=303 .*user=alice@CORP.TEST auth=Negotiate`).MatchString(srv.log.String()) {
				t.Errorf("the access log does not name the user of the login redirect:\n%s", srv.log.String())
			}
		})
	}
	t.Run("no allow-list, optional page", func(t *testing.T) {
		before := strings.Count(srv.log.String(), "status=401")
		noPolicy := lab.ChromiumOptions{Env: sso.Env}
		if u := field(t, lab.ChromiumDumpDOM(t, noPolicy, base+"/page"), "user"); u != "anonymous" {
			t.Errorf("user in the DOM %q, want anonymous", u)
		}
		if after := strings.Count(srv.log.String(), "status=401"); after != before {
			t.Errorf("the anonymous visit got a 401 (a prompt in a real browser):\n%s", srv.log.String())
		}
	})
}
