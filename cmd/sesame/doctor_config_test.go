package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

// basicUpstream is a proxy that demands Basic alice:pw and then answers
// every request itself with 200.
func basicUpstream(t *testing.T) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if u, p, ok := parseProxyBasic(r.Header.Get("Proxy-Authorization")); !ok || u != "alice" || p != "Doctor-Pw-1" {
			w.Header().Set("Proxy-Authenticate", `Basic realm="test"`)
			w.WriteHeader(http.StatusProxyAuthRequired)
			return
		}
		w.Write([]byte("ok"))
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

func parseProxyBasic(h string) (user, pw string, ok bool) {
	r := &http.Request{Header: http.Header{"Authorization": {h}}}
	return r.BasicAuth()
}

// The suggested configuration holds only what differs from the defaults,
// and no no_proxy = [","] when NO_PROXY is unset.
func TestDoctorSuggestsOnlyChanges(t *testing.T) {
	up := basicUpstream(t)
	code, out, errOut := sesame(t, "", map[string]string{"PW": "Doctor-Pw-1"}, "doctor", "--url", "http://origin.test/",
		"--upstream", up, "--user", "alice", "--password-env", "PW", "--auth", "basic")
	if code != 0 {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	_, suggestion, ok := strings.Cut(out, "Suggested configuration (sesame proxy --config FILE):\n\n")
	if !ok {
		t.Fatalf("no suggestion:\n%s", out)
	}
	want := "upstreams = [\"" + up + "\"]\n\n[auth]\nschemes = [\"basic\"]\nuser = \"alice\"\npassword_env = \"PW\"\n"
	if suggestion != want {
		t.Errorf("suggested configuration:\n%s\nwant only the changes:\n%s", suggestion, want)
	}
	if strings.Contains(out+errOut, "Doctor-Pw-1") {
		t.Errorf("the password shows")
	}
}

func TestPrintConfigNoProxy(t *testing.T) {
	for _, tc := range []struct {
		env  map[string]string
		want string
	}{
		{nil, "no_proxy = []"},
		{map[string]string{"NO_PROXY": ".corp.test,localhost", "no_proxy": ".corp.test"}, `no_proxy = [".corp.test", "localhost"]`},
	} {
		code, out, errOut := sesame(t, "", tc.env, "proxy", "--upstream", "proxy.test:3128", "--print-config")
		if code != 0 {
			t.Fatalf("exit %d: %s", code, errOut)
		}
		var line string
		for _, l := range strings.Split(out, "\n") {
			if strings.HasPrefix(l, "no_proxy") {
				line = l
			}
		}
		if line != tc.want && !(tc.want == "no_proxy = []" && line == "") {
			t.Errorf("NO_PROXY %q: --print-config says %q, want %q", tc.env, line, tc.want)
		}
	}
}
