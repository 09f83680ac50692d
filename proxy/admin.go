package proxy

import (
	"fmt"
	"html/template"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"
)

// recentErrors keeps the last few request errors for the status page.
type recentErrors struct {
	mu   sync.Mutex
	list []RecentError
}

// RecentError is one failed request, as the status page lists it.
type RecentError struct {
	Time     time.Time
	Method   string
	Target   string
	Upstream string
	Err      string
}

const maxRecentErrors = 20

func (r *recentErrors) add(e RecentError) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.list = append(r.list, e)
	if len(r.list) > maxRecentErrors {
		r.list = r.list[len(r.list)-maxRecentErrors:]
	}
}

func (r *recentErrors) snapshot() []RecentError {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]RecentError, len(r.list))
	for i, e := range r.list {
		out[len(r.list)-1-i] = e // newest first
	}
	return out
}

// Admin serves the status page (/), Prometheus metrics (/metrics), a
// route tester (/route?url=...) and a PAC file pointing browsers at the
// proxy (/proxy.pac). Serve it on loopback only: it shows the network's
// layout and the account in use (never a secret).
type Admin struct {
	// Proxy gives the Server whose state is shown (a Switch follows
	// reloads).
	Proxy interface{ Load() *Server }
	// ProxyAddrs are the addresses the proxy listens on, for /proxy.pac
	// and the page.
	ProxyAddrs []string
	// Version is shown on the page.
	Version string
	// Started is when the proxy started, for the uptime; zero: when the
	// Admin first answered.
	Started time.Time

	once sync.Once
}

// ServeHTTP implements http.Handler.
func (a *Admin) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	a.once.Do(func() {
		if a.Started.IsZero() {
			a.Started = time.Now()
		}
	})
	if !adminHost(r.Host) {
		misdirected(w, r)
		return
	}
	switch r.URL.Path {
	case "/":
		a.status(w, r)
	case "/metrics":
		a.metrics(w)
	case "/proxy.pac":
		a.pac(w)
	case "/route":
		a.route(w, r)
	default:
		http.NotFound(w, r)
	}
}

// pac answers a PAC file that sends everything but local hosts through
// this proxy: for browsers and tools that take a PAC URL.
func (a *Admin) pac(w http.ResponseWriter) {
	addr := "127.0.0.1:3128"
	if len(a.ProxyAddrs) > 0 {
		addr = ClientAddr(a.ProxyAddrs[0])
	}
	w.Header().Set("Content-Type", "application/x-ns-proxy-autoconfig")
	fmt.Fprintf(w, `function FindProxyForURL(url, host) {
  if (isPlainHostName(host) || host == "localhost" || shExpMatch(host, "127.*") || host == "[::1]")
    return "DIRECT";
  return "PROXY %s";
}
`, addr)
}

// ClientAddr turns a listen address into one a local client can dial: an
// unspecified address (0.0.0.0, ::) means loopback.
func ClientAddr(listen string) string {
	host, port, err := net.SplitHostPort(listen)
	if err != nil {
		return listen
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && ip.IsUnspecified()) {
		host = "127.0.0.1"
	}
	return net.JoinHostPort(host, port)
}

// routeLine describes the routes for one URL.
func (a *Admin) routeLine(raw string) (string, error) {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return "", fmt.Errorf("not an absolute URL: %q", raw)
	}
	if u.Port() == "" {
		port := "80"
		if u.Scheme == "https" {
			port = "443"
		}
		u.Host = net.JoinHostPort(u.Hostname(), port)
	}
	routes, err := a.Proxy.Load().routes(u)
	if err != nil {
		return "", err
	}
	var parts []string
	for _, rt := range routes {
		if rt == nil {
			parts = append(parts, "DIRECT")
		} else {
			parts = append(parts, "PROXY "+rt.Host)
		}
	}
	return strings.Join(parts, "; "), nil
}

func (a *Admin) route(w http.ResponseWriter, r *http.Request) {
	line, err := a.routeLine(r.URL.Query().Get("url"))
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintln(w, line)
}

type upstreamRow struct {
	Host    string
	Healthy bool
}

func (a *Admin) upstreams() []upstreamRow {
	var rows []upstreamRow
	if u := a.Proxy.Load().Upstreams; u != nil {
		h := u.Health()
		for _, p := range u.List {
			rows = append(rows, upstreamRow{p.Host, h[p.Host]})
		}
	}
	return rows
}

func (a *Admin) metrics(w http.ResponseWriter) {
	s := a.Proxy.Load()
	st := s.Stats()
	pool := s.Transport.PoolStats()
	w.Header().Set("Content-Type", "text/plain; version=0.0.4")
	metric := func(name, typ, help string, v any) {
		fmt.Fprintf(w, "# HELP %s %s\n# TYPE %s %s\n%s %v\n", name, help, name, typ, name, v)
	}
	metric("sesame_requests_total", "counter", "Client requests received (plain HTTP and CONNECT).", st.Requests.Load())
	metric("sesame_tunnels_total", "counter", "CONNECT tunnels opened.", st.Tunnels.Load())
	metric("sesame_tunnels_active", "gauge", "CONNECT tunnels open now.", st.ActiveTunnels.Load())
	metric("sesame_errors_total", "counter", "Requests that failed with a gateway error.", st.Errors.Load())
	metric("sesame_client_canceled_total", "counter", "Requests the client gave up on before the answer was through (not errors).", st.Canceled.Load())
	metric("sesame_auth_rejected_total", "counter", "Credentials an upstream proxy refused (each is then not offered there again until corrected).", st.AuthRejected.Load())
	metric("sesame_upstream_handshakes_total", "counter", "Authentication handshakes with upstream proxies.", s.Transport.Handshakes())
	metric("sesame_upstream_dials_total", "counter", "Upstream connections opened.", pool.Dials)
	metric("sesame_upstream_reuses_total", "counter", "Requests sent on an already open (and authenticated) upstream connection.", pool.Reuses)
	metric("sesame_upstream_idle_connections", "gauge", "Upstream connections idle in the pool.", pool.Idle)
	fmt.Fprintf(w, "# HELP sesame_upstream_up Whether an upstream proxy is considered reachable.\n# TYPE sesame_upstream_up gauge\n")
	rows := a.upstreams()
	sort.Slice(rows, func(i, j int) bool { return rows[i].Host < rows[j].Host })
	for _, r := range rows {
		up := 0
		if r.Healthy {
			up = 1
		}
		fmt.Fprintf(w, "sesame_upstream_up{upstream=%q} %d\n", r.Host, up)
	}
}

var statusPage = template.Must(template.New("status").Parse(`<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>sesame proxy</title>
<style>
body{font-family:system-ui,sans-serif;margin:2em;color:#222}
table{border-collapse:collapse;margin-bottom:1.5em}td,th{border:1px solid #ccc;padding:.3em .7em;text-align:left}
.up{color:#070}.down{color:#b00}code{background:#f4f4f4;padding:0 .2em}
</style></head><body>
<h1>sesame proxy</h1>
<p>Version {{.Version}} · up {{.Uptime}} · listening on {{range .Addrs}}<code>{{.}}</code> {{end}}· authentication: {{.Auth}}</p>
<h2>Upstreams</h2>
{{if .Upstreams}}<table><tr><th>upstream</th><th>health</th></tr>
{{range .Upstreams}}<tr><td>{{.Host}}</td><td>{{if .Healthy}}<span class="up">up</span>{{else}}<span class="down">down (blocked)</span>{{end}}</td></tr>{{end}}
</table>{{else}}<p>None: every request goes DIRECT.</p>{{end}}
<h2>Traffic</h2>
<table>
<tr><th>requests</th><td id="requests">{{.Requests}}</td></tr>
<tr><th>tunnels (open now)</th><td id="tunnels">{{.Tunnels}} ({{.ActiveTunnels}})</td></tr>
<tr><th>errors</th><td id="errors">{{.Errors}}</td></tr>
<tr><th>cancelled by the client</th><td id="canceled">{{.Canceled}}</td></tr>
<tr><th>upstream handshakes</th><td id="handshakes">{{.Handshakes}}</td></tr>
<tr><th>upstream connections opened / reused / idle</th><td id="pool">{{.Dials}} / {{.Reuses}} / {{.Idle}}</td></tr>
</table>
<h2>Route tester</h2>
<form action="/" method="get"><input name="url" size="60" value="{{.TestURL}}" placeholder="https://example.com/"> <button>route</button></form>
{{if .RouteResult}}<p id="route">{{.TestURL}} → <code>{{.RouteResult}}</code></p>{{end}}
<h2>Refused credentials</h2>
{{if .Refused}}<table id="refused"><tr><th>since</th><th>upstream</th><th>scheme</th><th>account</th><th>client</th></tr>
{{range .Refused}}<tr><td>{{.Time.Format "15:04:05"}}</td><td>{{.Upstream}}</td><td>{{.Scheme}}{{if .MutualFailed}} (the upstream failed mutual authentication){{end}}</td><td>{{.Identity}}</td><td>{{if .Client}}{{.Client}}{{else}}(configured){{end}}</td></tr>{{end}}
</table>{{if .RefusedHint}}<p>To fix: {{.RefusedHint}}.</p>{{end}}{{else}}<p>None.</p>{{end}}
<h2>Recent errors</h2>
{{if .RecentErrors}}<table><tr><th>time</th><th>request</th><th>upstream</th><th>error</th></tr>
{{range .RecentErrors}}<tr><td>{{.Time.Format "15:04:05"}}</td><td>{{.Method}} {{.Target}}</td><td>{{.Upstream}}</td><td>{{.Err}}</td></tr>{{end}}
</table>{{else}}<p>None.</p>{{end}}
<h2>Recent client cancellations</h2>
{{if .RecentCanceled}}<table id="canceled-list"><tr><th>time</th><th>request</th><th>upstream</th><th>error</th></tr>
{{range .RecentCanceled}}<tr><td>{{.Time.Format "15:04:05"}}</td><td>{{.Method}} {{.Target}}</td><td>{{.Upstream}}</td><td>{{.Err}}</td></tr>{{end}}
</table>{{else}}<p>None.</p>{{end}}
<p><a href="/metrics">metrics</a> · <a href="/proxy.pac">proxy.pac</a></p>
</body></html>
`))

func (a *Admin) status(w http.ResponseWriter, r *http.Request) {
	s := a.Proxy.Load()
	st := s.Stats()
	pool := s.Transport.PoolStats()
	auth := DescribeCredentials(s.Transport.ProxyCredentials)
	if s.FromClient != nil {
		auth = []string{"each client's own account (NTLM-to-Basic)"}
	}
	if len(auth) == 0 {
		auth = []string{"none (pass-through)"}
	}
	if len(s.state.list()) > 0 {
		auth = append(auth, "REFUSED by the upstream: see Refused credentials")
	}
	data := map[string]any{
		"Version": a.Version, "Uptime": time.Since(a.Started).Round(time.Second), "Addrs": a.ProxyAddrs,
		"Auth": strings.Join(auth, ", "), "Upstreams": a.upstreams(),
		"Requests": st.Requests.Load(), "Tunnels": st.Tunnels.Load(), "ActiveTunnels": st.ActiveTunnels.Load(),
		"Errors": st.Errors.Load(), "Handshakes": s.Transport.Handshakes(),
		"Dials": pool.Dials, "Reuses": pool.Reuses, "Idle": pool.Idle,
		"RecentErrors": s.recent.snapshot(), "Canceled": st.Canceled.Load(), "RecentCanceled": s.aborted.snapshot(),
		"Refused": s.Refused(), "RefusedHint": s.RefusedHint,
	}
	if u := r.URL.Query().Get("url"); u != "" {
		data["TestURL"] = u
		if line, err := a.routeLine(u); err != nil {
			data["RouteResult"] = err.Error()
		} else {
			data["RouteResult"] = line
		}
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	if err := statusPage.Execute(w, data); err != nil {
		s.logger().Warn("proxy: status page", "err", err)
	}
}
