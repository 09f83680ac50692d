//go:build linux

package main

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"text/template"
	"time"

	"github.com/sesame-auth/sesame/auth"
	"github.com/sesame-auth/sesame/internal/lab"
	"github.com/sesame-auth/sesame/ntlm"
)

// BenchmarkServeLatency measures the latency `sesame serve` adds in front
// of a trivial backend at a fixed request rate, beside Apache +
// mod_auth_gssapi as a reverse proxy in front of the same backend:
//
//	direct: Go client ------------------------------------------> backend
//	sesame: Go client -> sesame serve (NTLM, connection-bound) ---> backend
//	apache: Go client -> Apache + mod_auth_gssapi (NTLM via
//	        gss-ntlmssp, GssapiConnectionBound) + mod_proxy -------> backend
//
// The backend is a Go httptest server answering "ok". The load is open
// loop: SESAME_BENCH_RATE requests per second (default 1000), each sent
// at its scheduled time whatever the others do, for SESAME_BENCH_SECONDS
// (default 20) after a one-second warm-up in which the client's keep-alive
// connections authenticate (NTLM through sesame's auth.Transport; later
// requests reuse the authenticated connections, as browsers do). A
// request's latency runs from its scheduled time to its body read, so a
// stalled server is not hidden by a client that waits for it. Both
// gateways write an access log line per request. Metrics: p50-ms,
// p99-ms, req/s achieved, errors. The run ignores b.N: use -benchtime 1x
// (scripts/bench-serve does).
func BenchmarkServeLatency(b *testing.B) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "ok\n")
	}))
	b.Cleanup(backend.Close)
	rate := benchEnvInt(b, "SESAME_BENCH_RATE", 1000)
	seconds := benchEnvInt(b, "SESAME_BENCH_SECONDS", 20)
	users := filepath.Join(b.TempDir(), "ntlm-users")
	if err := os.WriteFile(users, []byte("CORP:alice:AlicePass123\n"), 0o600); err != nil {
		b.Fatal(err)
	}
	ntlmClient := func() http.RoundTripper {
		return &auth.Transport{
			Credentials:         []auth.Credential{&auth.NTLM{Client: ntlm.Client{User: "alice", Domain: "CORP", Password: "AlicePass123"}}},
			MaxIdleConnsPerHost: 256,
		}
	}
	routes := []struct {
		name  string
		setup func(b *testing.B) (url string, rt http.RoundTripper)
	}{
		{"direct", func(b *testing.B) (string, http.RoundTripper) {
			return backend.URL + "/", &http.Transport{Proxy: nil, MaxIdleConnsPerHost: 256}
		}},
		{"sesame", func(b *testing.B) (string, http.RoundTripper) {
			bin := benchBuildSesame(b)
			return benchStartServe(b, bin, "--backend", backend.URL, "--ntlm-users", users, "--ntlm-domain", "CORP") + "/", ntlmClient()
		}},
		{"apache", func(b *testing.B) (string, http.RoundTripper) {
			return benchStartApacheProxy(b, backend.URL) + "/", ntlmClient()
		}},
	}
	for _, r := range routes {
		b.Run(r.name, func(b *testing.B) {
			url, rt := r.setup(b)
			client := &http.Client{Transport: rt, Timeout: 30 * time.Second}
			// A first request authenticates and proves the route works.
			if err := serveBenchGet(client, url); err != nil {
				b.Fatalf("%s: %v", r.name, err)
			}
			openLoop(client, url, rate, time.Second) // warm-up
			lat, errs, elapsed := openLoop(client, url, rate, time.Duration(seconds)*time.Second)
			if len(lat) == 0 {
				b.Fatalf("%s: no request succeeded (%d errors)", r.name, errs)
			}
			slices.Sort(lat)
			q := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))]) / float64(time.Millisecond) }
			b.ReportMetric(q(0.50), "p50-ms")
			b.ReportMetric(q(0.99), "p99-ms")
			b.ReportMetric(float64(len(lat))/elapsed.Seconds(), "req/s")
			b.ReportMetric(float64(errs), "errors")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// benchEnvInt reads a positive integer setting from the environment.
func benchEnvInt(b *testing.B, name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n <= 0 {
		b.Fatalf("%s=%q: want a positive integer", name, v)
	}
	return n
}

func serveBenchGet(client *http.Client, url string) error {
	resp, err := client.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return err
	}
	if resp.StatusCode != 200 || string(body) != "ok\n" {
		return fmt.Errorf("status %d, body %q", resp.StatusCode, body)
	}
	return nil
}

// openLoop sends rate requests per second for d, each at its scheduled
// time in a goroutine of its own, and returns the latencies of those
// that succeeded (from the scheduled time), the count of failures and
// the wall time until the last answer.
func openLoop(client *http.Client, url string, rate int, d time.Duration) (lat []time.Duration, errs int, elapsed time.Duration) {
	n := int(d.Seconds() * float64(rate))
	interval := time.Second / time.Duration(rate)
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := time.Now()
	for i := 0; i < n; i++ {
		at := start.Add(time.Duration(i) * interval)
		if w := time.Until(at); w > 0 {
			time.Sleep(w)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := serveBenchGet(client, url)
			took := time.Since(at)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs++
				return
			}
			lat = append(lat, took)
		}()
	}
	wg.Wait()
	return lat, errs, time.Since(start)
}

// benchStartServe starts `sesame serve` with its log in a file (a line
// per request), at the default log level, and returns its URL.
func benchStartServe(b *testing.B, bin string, args ...string) string {
	b.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", lab.FreePort(b))
	logPath := filepath.Join(b.TempDir(), "sesame-serve.log")
	out, err := os.Create(logPath)
	if err != nil {
		b.Fatal(err)
	}
	defer out.Close()
	cmd := exec.Command(bin, append([]string{"serve", "--listen", addr}, args...)...)
	cmd.Env = append([]string{"PATH=/usr/bin:/bin"}, hermeticKerberosEnv...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	readLog := func() string { data, _ := os.ReadFile(logPath); return benchTail(string(data), 4000) }
	b.Cleanup(func() {
		cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			cmd.Process.Kill()
			<-done
			b.Errorf("sesame serve did not stop on SIGINT\n%s", readLog())
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-done:
			b.Fatalf("sesame serve exited during startup:\n%s", readLog())
		default:
		}
		if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
			c.Close()
			if strings.Contains(readLog(), "sesame serve listening") {
				return "http://" + addr
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("sesame serve did not listen on %s:\n%s", addr, readLog())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// apacheProxyConf is Apache as an authenticating reverse proxy, the way
// mod_auth_gssapi's users deploy it: NTLM verified by gss-ntlmssp
// against NTLM_USER_FILE, bound to the connection, the user handed on in
// X-Remote-User. internal/lab's Apache has no reverse proxy; this is a
// minimal one for the benchmark.
var apacheProxyConf = template.Must(template.New("httpd.conf").Parse(`ServerRoot "{{.Dir}}"
ServerName 127.0.0.1
PidFile "{{.Dir}}/httpd.pid"
DefaultRuntimeDir "{{.Dir}}"
Mutex file:{{.Dir}} default
ErrorLog "{{.Dir}}/error.log"
LogLevel warn
User {{.User}}
Group {{.Group}}
LoadModule mpm_event_module   /usr/lib/apache2/modules/mod_mpm_event.so
LoadModule authz_core_module  /usr/lib/apache2/modules/mod_authz_core.so
LoadModule authz_user_module  /usr/lib/apache2/modules/mod_authz_user.so
LoadModule authn_core_module  /usr/lib/apache2/modules/mod_authn_core.so
LoadModule auth_gssapi_module /usr/lib/apache2/modules/mod_auth_gssapi.so
LoadModule headers_module     /usr/lib/apache2/modules/mod_headers.so
LoadModule proxy_module       /usr/lib/apache2/modules/mod_proxy.so
LoadModule proxy_http_module  /usr/lib/apache2/modules/mod_proxy_http.so
Listen 127.0.0.1:{{.Port}}
StartServers 2
ServerLimit 2
ThreadsPerChild 128
MaxRequestWorkers 256
MinSpareThreads 1
MaxSpareThreads 256
KeepAlive On
MaxKeepAliveRequests 0
KeepAliveTimeout 30
HostnameLookups Off
LogFormat "%h %u %t \"%r\" %>s %b %D" bench
CustomLog "{{.Dir}}/access.log" bench
<Location />
    AuthType GSSAPI
    AuthName "bench"
    GssapiAllowedMech ntlmssp
    GssapiConnectionBound On
    Require valid-user
    RequestHeader set X-Remote-User "expr=%{REMOTE_USER}"
    ProxyPass "{{.Backend}}/"
</Location>
`))

// benchStartApacheProxy starts Apache as a reverse proxy to backend and
// returns its URL; it is stopped (its whole process group) at cleanup.
func benchStartApacheProxy(b *testing.B, backend string) string {
	b.Helper()
	lab.Require(b, "/usr/sbin/apache2", "/usr/lib/apache2/modules/mod_auth_gssapi.so", "/usr/lib/apache2/modules/mod_proxy_http.so")
	dir, err := os.MkdirTemp("", "bench-apache-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(dir) })
	user, group := "www-data", "www-data"
	if os.Geteuid() != 0 {
		user, group = "#"+strconv.Itoa(os.Geteuid()), "#"+strconv.Itoa(os.Getegid())
	}
	// Apache's children (www-data when root) read the user file and
	// write the logs.
	if err := os.Chmod(dir, 0o777); err != nil {
		b.Fatal(err)
	}
	port := lab.FreePort(b)
	var conf bytes.Buffer
	if err := apacheProxyConf.Execute(&conf, map[string]any{"Dir": dir, "User": user, "Group": group, "Port": port, "Backend": backend}); err != nil {
		b.Fatal(err)
	}
	for name, data := range map[string]string{"httpd.conf": conf.String(), "ntlm_users": "CORP:alice:AlicePass123\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	cmd := exec.Command("/usr/sbin/apache2", "-d", dir, "-f", filepath.Join(dir, "httpd.conf"), "-DFOREGROUND")
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LANG=C", "NTLM_USER_FILE=" + filepath.Join(dir, "ntlm_users"),
		"NETBIOS_DOMAIN_NAME=CORP", "NETBIOS_COMPUTER_NAME=BENCH"}
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	b.Cleanup(func() {
		syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	deadline := time.Now().Add(15 * time.Second)
	for {
		select {
		case <-done:
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			b.Fatalf("apache exited: %s\n%s", stderr.String(), log)
		default:
		}
		if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", port), time.Second); err == nil {
			c.Close()
			return url
		}
		if time.Now().After(deadline) {
			b.Fatalf("apache did not listen on %d: %s", port, stderr.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
