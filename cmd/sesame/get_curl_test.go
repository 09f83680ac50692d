//go:build linux

package main

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/sesame-auth/sesame/internal/lab"
)

// curl's everyday flags, typed as a curl user types them, against a
// server on 127.0.0.1.
func TestGetCurlFlags(t *testing.T) {
	var mu sync.Mutex
	var methods, encodings []string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		methods = append(methods, r.Method)
		encodings = append(encodings, r.Header.Get("Accept-Encoding"))
		mu.Unlock()
		switch r.URL.Path {
		case "/":
			w.Header().Set("Content-Type", "text/plain")
			w.Header().Set("X-Marker", "one")
			io.WriteString(w, "hello\n")
		case "/gz":
			if !strings.Contains(r.Header.Get("Accept-Encoding"), "gzip") {
				io.WriteString(w, "not asked\n")
				return
			}
			w.Header().Set("Content-Encoding", "gzip")
			zw := gzip.NewWriter(w)
			io.WriteString(zw, "hello compressed\n")
			zw.Close()
		default:
			http.NotFound(w, r)
		}
	}))
	defer srv.Close()

	if code, out, errOut := cli(t, nil, "", "get", "-fsSL", srv.URL+"/"); code != 0 || out != "hello\n" {
		t.Errorf("-fsSL: exit %d %q %q", code, out, errOut)
	}
	if code, out, _ := cli(t, nil, "", "get", "-fsSL", srv.URL+"/missing"); code != exitHTTPError || out != "" {
		t.Errorf("-fsSL 404: exit %d %q, want 22 and no body", code, out)
	}
	code, out, _ := cli(t, nil, "", "get", "-sI", srv.URL+"/")
	if code != 0 || !strings.HasPrefix(out, "HTTP/1.1 200 OK\r\n") || !strings.Contains(out, "X-Marker: one\r\n") || strings.Contains(out, "hello") || !strings.HasSuffix(out, "\r\n\r\n") {
		t.Errorf("-I: exit %d %q", code, out)
	}
	mu.Lock()
	if methods[len(methods)-1] != http.MethodHead {
		t.Errorf("-I sent %s", methods[len(methods)-1])
	}
	mu.Unlock()
	code, out, _ = cli(t, nil, "", "get", "--include", "-s", srv.URL+"/")
	if code != 0 || !strings.HasPrefix(out, "HTTP/1.1 200 OK\r\n") || !strings.HasSuffix(out, "\r\n\r\nhello\n") {
		t.Errorf("-i: exit %d %q", code, out)
	}
	code, out, _ = cli(t, nil, "", "get", "--compressed", "-s", srv.URL+"/gz")
	if code != 0 || out != "hello compressed\n" {
		t.Errorf("--compressed: exit %d %q", code, out)
	}
	mu.Lock()
	if enc := encodings[len(encodings)-1]; enc != "gzip, deflate" {
		t.Errorf("--compressed sent Accept-Encoding %q", enc)
	}
	mu.Unlock()
	code, out, _ = cli(t, nil, "", "get", "-so", "/dev/null", "-w", `%{http_code} %{size_download} %{time_total} %{speed_download}\n`, srv.URL+"/")
	if code != 0 || !regexp.MustCompile(`^200 6 \d+\.\d{6} \d+\n$`).MatchString(out) {
		t.Errorf("-w: exit %d %q", code, out)
	}
	code, out, _ = cli(t, nil, "", "get", "-sw%{http_code}", srv.URL+"/missing")
	if code != 0 || !strings.HasSuffix(out, "404") {
		t.Errorf("-sw%%{http_code}: exit %d %q", code, out)
	}
}

// curl's --ntlm, --basic, --digest ... against Apache, and the proxy
// password from the environment against squid.
func TestGetCurlAuthAliases(t *testing.T) {
	ap := getApache(t)
	for _, tc := range []struct {
		args []string
		want int
	}{
		{[]string{"--ntlm", "-u", `CORP\alice:` + getPassword, ap.URL + "/ntlm/"}, 0},
		{[]string{"--basic", "-u", "alice:" + getPassword, ap.URL + "/basic/"}, 0},
		// Digest credentials only: the Basic-only path refuses.
		{[]string{"--digest", "-u", "alice:" + getPassword, ap.URL + "/basic/"}, exitAuthFailed},
		// The last scheme flag wins, as in curl.
		{[]string{"--digest", "--anyauth", "--ntlm", "-u", `CORP\alice:` + getPassword, ap.URL + "/ntlm/"}, 0},
	} {
		if code, _, errOut := cli(t, nil, "", append([]string{"get", "-s"}, tc.args...)...); code != tc.want {
			t.Errorf("%q: exit %d, want %d\n%s", tc.args, code, tc.want, errOut)
		}
	}

	sq := lab.StartSquid(t, lab.SquidOptions{Auth: "basic", Users: []lab.ProxyUser{{User: "alice", Password: getPassword}}})
	origin := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "through\n") }))
	defer origin.Close()
	code, out, errOut := cli(t, []string{"PROXY_PW=" + getPassword}, "", "get", "-s", "--proxy-basic", "-x", sq.URL, "-U", "alice", "--proxy-password-env", "PROXY_PW", origin.URL+"/")
	if code != 0 || out != "through\n" {
		t.Errorf("--proxy-password-env: exit %d %q\n%s", code, out, errOut)
	}
	code, out, errOut = cli(t, nil, getPassword+"\n", "get", "-s", "-x", sq.URL, "-U", "alice", "--proxy-password-stdin", origin.URL+"/")
	if code != 0 || out != "through\n" {
		t.Errorf("--proxy-password-stdin: exit %d %q\n%s", code, out, errOut)
	}
	if code, _, _ := cli(t, []string{"PROXY_PW=wrong"}, "", "get", "-s", "-x", sq.URL, "-U", "alice", "--proxy-password-env", "PROXY_PW", origin.URL+"/"); code != exitAuthFailed {
		t.Errorf("wrong proxy password from env: exit %d, want 67", code)
	}
}
