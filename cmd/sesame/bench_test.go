//go:build linux

package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"math"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sesame-auth/sesame/internal/lab"
)

// BenchmarkProxies puts `sesame proxy` side by side with cntlm 0.92.3, the
// local NTLM proxy it replaces, and with no proxy at all:
//
//	sesame: Go client -> sesame proxy -> squid (NTLM) -> origin
//	cntlm:  Go client -> cntlm        -> squid (NTLM) -> origin
//	direct: Go client -----------------------------------> origin
//
// squid demands NTLM and verifies it for real (gss-ntlmssp); its shim is on
// because cntlm sends compact NTLM messages (sesame's full-size ones pass it
// unchanged). Going to squid without a local proxy is no route at all: it
// answers 407. The origin is a Go httptest server on 127.0.0.1.
//
// Every route is driven by the same client: one http.Transport per route
// with keep-alive, SESAME_BENCH_WORKERS goroutines (default 50) sending
// plain-HTTP GETs back to back until b.N requests are done. Sub-benchmarks
// are ROUTE/PAYLOAD: a 1 KiB body (sesame/1k: what many small requests
// cost, req/s) and a 1 MiB one (cntlm/1m). BenchmarkProxiesLarge measures
// 100 MiB downloads, plain and through CONNECT. Metrics:
//
//	req/s              requests completed per second of wall time
//	MB/s               body bytes (10^6) per second of wall time
//	p99-ms             99th percentile of the per-request time (request
//	                   sent to body read)
//	RSS-MiB            the proxy process's VmRSS right after the run
//	handshakes/req     NTLM handshakes squid saw per request in the run:
//	                   what authentication costs the upstream in a steady
//	                   state (0: every request went over an upstream
//	                   connection authenticated before)
//	upconns            upstream connections squid saw in the run
//	handshakes/upconn  NTLM handshakes per upstream connection over every
//	                   request of the route so far, warm-up included
//	                   (1: each connection authenticated once)
//
// The last four are for the proxies only. Each route is warmed up first
// with 20 requests per worker (1 KiB), so that the numbers show a steady
// state, not squid starting helpers. sesame runs with its default log
// level (info: one access-log line per request, to a file); cntlm with its
// defaults (no per-request log). Nothing here asserts on time: the numbers
// are for scripts/bench-proxy, which prints them with ratios.
func BenchmarkProxies(b *testing.B) {
	l := benchStartLab(b)
	for _, r := range l.routes {
		client := benchClient(r.proxy, l.workers, nil, time.Minute)
		routePrefix := fmt.Sprintf("%s/bench/%s/", l.origin.URL, r.name)
		// Warm up, untimed: the first requests of a route pay for
		// things a steady state does not, and the framework's first
		// small-N runs would extrapolate from them. squid starts its NTLM
		// helpers on demand (a Python process importing gssapi each: up
		// to a second under load), and the proxy authenticates its first
		// upstream connections.
		l.warmUp(b, r, client, routePrefix)
		for _, p := range []string{"1k", "1m"} {
			calls := 0
			b.Run(r.name+"/"+p, func(b *testing.B) {
				// The framework calls this with growing b.N; each call
				// gets paths of its own so that its squid log entries
				// can be told apart.
				calls++
				prefix := fmt.Sprintf("%s%s-%d/", routePrefix, p, calls)
				l.run(b, r, client, prefix, routePrefix, prefix+p)
			})
		}
		// Idle connections would hold the proxies' client threads (and
		// squid's connections) through the next route's run.
		client.CloseIdleConnections()
	}
}

// BenchmarkProxiesLarge is BenchmarkProxies (same routes, client and
// metrics) for 100 MiB downloads; one operation is one download, and b.N
// of them run at once (at most SESAME_BENCH_WORKERS). scripts/bench-proxy
// runs it with a fixed count, by default one download per worker
// (-benchtime 50x): with a duration, each route would get a b.N, and so a
// concurrency, of its own. Sub-benchmarks:
//
//	ROUTE/100m          plain-HTTP GET of 100 MiB, keep-alive as above
//	ROUTE/connect-100m  the same body from an HTTPS origin: through the
//	                    proxy a CONNECT tunnel per client connection (for
//	                    direct, TLS straight to the origin), HTTP/1.1 with
//	                    keep-alive inside it
//
// MB/s is the number to look at. For connect-100m every framework call
// gets an HTTPS origin of its own, and the squid metrics cover that call
// alone: upconns is the number of tunnels squid saw, handshakes/upconn
// and handshakes/req what they cost (a tunnel takes its upstream
// connection for itself: one handshake each, whatever the proxy).
func BenchmarkProxiesLarge(b *testing.B) {
	l := benchStartLab(b)
	const target = "100m"
	for _, r := range l.routes {
		// A 100 MiB body takes seconds when fifty share two CPUs.
		client := benchClient(r.proxy, l.workers, nil, 10*time.Minute)
		routePrefix := fmt.Sprintf("%s/bench/%s/", l.origin.URL, r.name)
		l.warmUp(b, r, client, routePrefix)
		calls := 0
		b.Run(r.name+"/"+target, func(b *testing.B) {
			calls++
			prefix := fmt.Sprintf("%s%s-%d/", routePrefix, target, calls)
			l.run(b, r, client, prefix, routePrefix, prefix+target)
		})
		client.CloseIdleConnections()

		b.Run(r.name+"/connect-"+target, func(b *testing.B) {
			// An origin of its own: squid logs a CONNECT by host:port,
			// so its entries are this call's and no other's.
			tlsOrigin := httptest.NewTLSServer(benchOrigin())
			defer tlsOrigin.Close()
			roots := x509.NewCertPool()
			roots.AddCert(tlsOrigin.Certificate())
			var dials atomic.Int64
			tlsClient := benchClient(r.proxy, l.workers, &tls.Config{RootCAs: roots}, 10*time.Minute)
			defer tlsClient.CloseIdleConnections()
			dial := tlsClient.Transport.(*http.Transport).DialContext
			tlsClient.Transport.(*http.Transport).DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
				dials.Add(1)
				return dial(ctx, network, addr)
			}
			b.ResetTimer()
			start := time.Now()
			durs, err := benchLoad(tlsClient, tlsOrigin.URL+"/bench/"+target, b.N, l.workers, benchSize(target))
			elapsed := time.Since(start)
			b.StopTimer()
			if err != nil {
				l.fail(b, r, err)
			}
			benchReportLoad(b, b.N, benchSize(target), elapsed, durs)
			if r.proxy == "" {
				return
			}
			l.reportRSS(b, r)
			// squid logs a CONNECT when its tunnel closes: close them,
			// then wait for one entry per tunnel the client opened.
			tlsClient.CloseIdleConnections()
			hostPort := strings.TrimPrefix(tlsOrigin.URL, "https://")
			run := benchSquidWait(b, l.sq, func(e lab.SquidAccess) bool { return e.Method == http.MethodConnect && e.URL == hostPort }, int(dials.Load()))
			conns := len(lab.GroupSquidConnections(run))
			hs := benchCountHandshakes(run)
			b.ReportMetric(float64(hs)/float64(b.N), "handshakes/req")
			b.ReportMetric(float64(conns), "upconns")
			b.ReportMetric(float64(hs)/float64(conns), "handshakes/upconn")
		})
	}
}

// benchRoute is one way from the benchmark's client to the origin.
type benchRoute struct {
	name  string
	proxy string // "" for direct
	pid   int
	log   func() string
}

// benchLab is what BenchmarkProxies and BenchmarkProxiesLarge measure
// with: the origin, squid, both proxies, and the routes through them.
type benchLab struct {
	workers int
	origin  *httptest.Server
	sq      *lab.Squid
	routes  []benchRoute
}

// benchStartLab builds sesame and starts the origin, squid, sesame and
// cntlm, all stopped at cleanup.
func benchStartLab(b *testing.B) *benchLab {
	b.Helper()
	workers := 50
	if s := os.Getenv("SESAME_BENCH_WORKERS"); s != "" {
		n, err := strconv.Atoi(s)
		if err != nil || n < 1 {
			b.Fatalf("SESAME_BENCH_WORKERS=%q: want a positive number", s)
		}
		workers = n
	}
	const (
		domain   = "CORP"
		user     = "alice"
		password = "AlicePass123"
	)
	bin := benchBuildSesame(b)
	origin := httptest.NewServer(benchOrigin())
	b.Cleanup(origin.Close)
	sq := lab.StartSquid(b, lab.SquidOptions{
		Auth:     "ntlm",
		NTLMShim: true,
		Users:    []lab.ProxyUser{{Domain: domain, User: user, Password: password}},
	})
	ses := benchStartSesame(b, bin, sq.Addr, domain+`\`+user, password)
	cn := lab.StartCntlm(b, lab.CntlmOptions{Upstream: sq.Addr, Domain: domain, User: user, Password: password})
	return &benchLab{
		workers: workers,
		origin:  origin,
		sq:      sq,
		routes: []benchRoute{
			{"sesame", ses.url, ses.pid(), ses.log},
			{"cntlm", cn.URL, cn.Pid(), cn.Log},
			{"direct", "", 0, nil},
		},
	}
}

// warmUp sends 20 small requests per worker over route r, untimed.
func (l *benchLab) warmUp(b *testing.B, r benchRoute, client *http.Client, routePrefix string) {
	b.Helper()
	if _, err := benchLoad(client, routePrefix+"warmup/1k", 20*l.workers, l.workers, benchSize("1k")); err != nil {
		b.Fatalf("%s: warming up: %v", r.name, err)
	}
}

// run is one framework call of a plain-HTTP sub-benchmark: b.N GETs of
// target (below prefix, which no other call shares; routePrefix is the
// whole route's), then the metrics.
func (l *benchLab) run(b *testing.B, r benchRoute, client *http.Client, prefix, routePrefix, target string) {
	b.Helper()
	size := benchSize(path.Base(target))
	b.ResetTimer()
	start := time.Now()
	durs, err := benchLoad(client, target, b.N, l.workers, size)
	elapsed := time.Since(start)
	b.StopTimer()
	if err != nil {
		l.fail(b, r, err)
	}
	benchReportLoad(b, b.N, size, elapsed, durs)
	if r.proxy == "" {
		return
	}
	l.reportRSS(b, r)
	inRun := func(e lab.SquidAccess) bool { return strings.HasPrefix(e.URL, prefix) }
	run := benchSquidWait(b, l.sq, inRun, b.N)
	b.ReportMetric(float64(benchCountHandshakes(run))/float64(b.N), "handshakes/req")
	b.ReportMetric(float64(len(lab.GroupSquidConnections(run))), "upconns")
	// Per connection over the whole route so far: a run alone would show
	// the pool's connections, authenticated in an earlier run, with no
	// handshake at all.
	inRoute := func(e lab.SquidAccess) bool { return strings.HasPrefix(e.URL, routePrefix) }
	all := benchSquidWait(b, l.sq, inRoute, 0)
	b.ReportMetric(float64(benchCountHandshakes(all))/float64(len(lab.GroupSquidConnections(all))), "handshakes/upconn")
}

// fail ends the benchmark with err and, for a proxy, the ends of its log
// and of squid's.
func (l *benchLab) fail(b *testing.B, r benchRoute, err error) {
	b.Helper()
	msg := ""
	if r.log != nil {
		msg = "\n" + r.name + ":\n" + benchTail(r.log(), 4000) + "\nsquid:\n" + benchTail(l.sq.CacheLog(), 4000)
	}
	b.Fatalf("%s: %v%s", r.name, err, msg)
}

// reportRSS reports the proxy's resident set size.
func (l *benchLab) reportRSS(b *testing.B, r benchRoute) {
	b.Helper()
	if rss, err := benchVMRSS(r.pid); err != nil {
		b.Errorf("RSS of %s (pid %d): %v", r.name, r.pid, err)
	} else {
		b.ReportMetric(float64(rss)/(1<<20), "RSS-MiB")
	}
}

// benchReportLoad reports req/s, MB/s and p99-ms for n requests of size
// bytes each that took elapsed in all, durs each.
func benchReportLoad(b *testing.B, n, size int, elapsed time.Duration, durs []time.Duration) {
	secs := elapsed.Seconds()
	b.ReportMetric(float64(n)/secs, "req/s")
	b.ReportMetric(float64(n)*float64(size)/1e6/secs, "MB/s")
	b.ReportMetric(benchPercentile(durs, 0.99).Seconds()*1000, "p99-ms")
}

// benchSizes are the body sizes the origin serves, by last path segment.
var benchSizes = map[string]int{
	"1k":   1 << 10,
	"1m":   1 << 20,
	"100m": 100 << 20,
}

// benchSize is benchSizes[name], which must exist.
func benchSize(name string) int {
	n, ok := benchSizes[name]
	if !ok {
		panic("no benchmark payload " + name)
	}
	return n
}

// benchBlock is what every body is made of: its first bytes, or it repeated
// as often as needed. Random-looking bytes: nothing on the way may
// compress them, and the client asks for no encoding anyway.
var benchBlock = benchBody(1 << 20)

// benchBody returns n deterministic, incompressible-looking bytes (a
// xorshift stream): the same on every run, without crypto/rand's cost.
func benchBody(n int) []byte {
	b := make([]byte, n)
	x := uint64(0x9E3779B97F4A7C15)
	for i := range b {
		x ^= x << 13
		x ^= x >> 7
		x ^= x << 17
		b[i] = byte(x)
	}
	return b
}

// benchOrigin serves /.../1k, /.../1m and /.../100m with a Content-Length,
// so no route pays for chunked encoding the others do not. A body is
// written from benchBlock, at most 1 MiB at a time: a hundred 100 MiB
// downloads at once hold no more memory than one.
func benchOrigin() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		size, ok := benchSizes[path.Base(r.URL.Path)]
		if !ok {
			http.NotFound(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/octet-stream")
		w.Header().Set("Content-Length", strconv.Itoa(size))
		for left := size; left > 0; {
			n := min(left, len(benchBlock))
			if _, err := w.Write(benchBlock[:n]); err != nil {
				return // the client went away
			}
			left -= n
		}
	})
}

// benchClient is the client every route is measured with: keep-alive, as
// many idle connections kept per proxy (or origin) as there are workers
// (the default of 2 would make the others reconnect all the time), no
// HTTP/2, no compression, no proxy from the environment. tlsConf, if not
// nil, is for https URLs (through the proxy: CONNECT).
func benchClient(proxy string, workers int, tlsConf *tls.Config, timeout time.Duration) *http.Client {
	tr := &http.Transport{
		MaxIdleConnsPerHost: workers,
		DisableCompression:  true,
		DialContext:         (&net.Dialer{Timeout: 10 * time.Second}).DialContext,
		TLSClientConfig:     tlsConf,
	}
	if proxy != "" {
		u, err := url.Parse(proxy)
		if err != nil {
			panic(err) // a URL the fixtures made
		}
		tr.Proxy = http.ProxyURL(u)
	}
	return &http.Client{Transport: tr, Timeout: timeout}
}

// benchLoad sends n GETs for target from workers goroutines and returns
// the duration of each (request to last body byte). It stops at the first
// failure: a wrong status or body length means the route is broken and
// its numbers would mean nothing.
func benchLoad(client *http.Client, target string, n, workers, size int) ([]time.Duration, error) {
	var (
		next     atomic.Int64
		mu       sync.Mutex
		all      = make([]time.Duration, 0, n)
		firstErr error
		failed   atomic.Bool
		wg       sync.WaitGroup
	)
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var durs []time.Duration
			for !failed.Load() && next.Add(1) <= int64(n) {
				t0 := time.Now()
				err := benchGet(client, target, size)
				durs = append(durs, time.Since(t0))
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					mu.Unlock()
					failed.Store(true)
				}
			}
			mu.Lock()
			all = append(all, durs...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	return all, firstErr
}

// benchGet fetches target and reads the whole body, which must be size
// bytes (reading it all also lets the connection be reused).
func benchGet(client *http.Client, target string, size int) error {
	resp, err := client.Get(target)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	got, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return fmt.Errorf("GET %s: reading the body: %v", target, err)
	}
	if resp.StatusCode != http.StatusOK || got != int64(size) {
		return fmt.Errorf("GET %s: %s with %d bytes, want 200 with %d", target, resp.Status, got, size)
	}
	return nil
}

// benchPercentile returns the p-quantile (nearest rank) of durs, sorting them.
func benchPercentile(durs []time.Duration, p float64) time.Duration {
	if len(durs) == 0 {
		return 0
	}
	slices.Sort(durs)
	i := int(math.Ceil(p*float64(len(durs)))) - 1
	return durs[max(i, 0)]
}

// benchSquidWait waits (squid logs a request only after it finished, a
// CONNECT when its tunnel closed) until squid's access log shows n
// successful requests for which match is true (n 0: no wait) and returns
// every entry it matches, 407s included. Each must be CORP\alice's:
// anything else means the route did not authenticate as configured.
func benchSquidWait(b *testing.B, sq *lab.Squid, match func(lab.SquidAccess) bool, n int) []lab.SquidAccess {
	b.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var sel []lab.SquidAccess
		ok := 0
		for _, e := range sq.AccessEntries() {
			if !match(e) {
				continue
			}
			sel = append(sel, e)
			if e.Status == http.StatusOK {
				if e.User != `CORP\alice` {
					b.Fatalf("squid passed %s %s as %q, want CORP\\alice", e.Method, e.URL, e.User)
				}
				ok++
			}
		}
		if ok >= n {
			return sel
		}
		if time.Now().After(deadline) {
			b.Fatalf("squid's access log shows %d of %d requests", ok, n)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// benchCountHandshakes counts the NTLM handshakes in entries: on each client
// connection (squid logs one connection's requests in order), every run of
// consecutive 407s is one handshake. Counting 407s instead would charge a
// client that waits to be asked (two 407s: the bare request and the
// NEGOTIATE leg) twice what one that sends its NEGOTIATE unasked pays.
func benchCountHandshakes(entries []lab.SquidAccess) int {
	in407 := map[int]bool{}
	n := 0
	for _, e := range entries {
		is := e.Status == http.StatusProxyAuthRequired
		if is && !in407[e.ClientPort] {
			n++
		}
		in407[e.ClientPort] = is
	}
	return n
}

// benchVMRSS returns the resident set size of process pid (VmRSS in
// /proc/PID/status), in bytes.
func benchVMRSS(pid int) (int64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, err
	}
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			f := strings.Fields(v)
			if len(f) != 2 || f[1] != "kB" {
				return 0, fmt.Errorf("unexpected VmRSS line %q", l)
			}
			kb, err := strconv.ParseInt(f[0], 10, 64)
			return kb << 10, err
		}
	}
	return 0, errors.New("no VmRSS line")
}

// benchTail returns at most the last n bytes of s, for failure messages.
func benchTail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return "..." + s[len(s)-n:]
}

// benchBuildSesame is buildSesame for a benchmark (which has no
// *testing.T): the binary under test, built from this package.
func benchBuildSesame(b *testing.B) string {
	b.Helper()
	bin := filepath.Join(b.TempDir(), "sesame")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// benchSesame is a running `sesame proxy` for the benchmark.
type benchSesame struct {
	url     string
	cmd     *exec.Cmd
	logPath string
}

func (s *benchSesame) pid() int { return s.cmd.Process.Pid }

// log returns what the proxy wrote to stderr.
func (s *benchSesame) log() string {
	data, err := os.ReadFile(s.logPath)
	if err != nil {
		return fmt.Sprintf("[%v]", err)
	}
	return string(data)
}

// benchStartSesame starts `sesame proxy` as startProxy does, but with its
// output going to a file rather than a buffer in this process (a run logs
// a line per request: hundreds of thousands), and with the default log
// level, as a user runs it. It is stopped with SIGINT at cleanup.
func benchStartSesame(b *testing.B, bin, upstream, user, password string) *benchSesame {
	b.Helper()
	addr := fmt.Sprintf("127.0.0.1:%d", lab.FreePort(b))
	s := &benchSesame{url: "http://" + addr, logPath: filepath.Join(b.TempDir(), "sesame-proxy.log")}
	out, err := os.Create(s.logPath)
	if err != nil {
		b.Fatal(err)
	}
	defer out.Close() // the child has its own copy
	s.cmd = exec.Command(bin, "proxy", "--listen", addr, "--upstream", upstream, "--user", user, "--password-env", "PW")
	s.cmd.Env = append([]string{"PATH=/usr/bin:/bin", "PW=" + password}, hermeticKerberosEnv...)
	s.cmd.Stdout, s.cmd.Stderr = out, out
	if err := s.cmd.Start(); err != nil {
		b.Fatal(err)
	}
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	b.Cleanup(func() {
		s.cmd.Process.Signal(os.Interrupt)
		select {
		case <-done:
		case <-time.After(15 * time.Second):
			s.cmd.Process.Kill()
			<-done
			b.Errorf("sesame proxy did not stop on SIGINT\n%s", benchTail(s.log(), 4000))
		}
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case <-done:
			b.Fatalf("sesame proxy exited during startup:\n%s", s.log())
		default:
		}
		c, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			c.Close()
			// A connection alone could have reached whoever took the
			// port first; the proxy logs that it listens once it does.
			if strings.Contains(s.log(), "sesame proxy listening") {
				return s
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("sesame proxy did not listen on %s:\n%s", addr, s.log())
		}
		time.Sleep(20 * time.Millisecond)
	}
}
