package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"

	"github.com/sesame-auth/sesame/auth"
	"github.com/sesame-auth/sesame/ntlm"
	"github.com/sesame-auth/sesame/proxy"
)

const proxyUsage = `sesame proxy [--listen ADDR]... [--upstream HOST:PORT]... [--no-proxy LIST] [--direct-fallback]
                    [--user 'DOMAIN\user' (--password-stdin | --password-env VAR | --nt-hash HEX | --ntlmv2-hash HEX)]
                    [--auth any|ntlm|digest|basic] [--allow CIDR]... [--log-level debug|info|warn|error]`

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// runProxy runs the local authenticating proxy until SIGINT or SIGTERM.
func runProxy(e *env, args []string) error {
	fs := newFlagSet("sesame proxy", proxyUsage, e.stderr)
	var listens, upstreams, allows listFlag
	fs.Var(&listens, "listen", "address to listen on (repeatable; default 127.0.0.1:3128)")
	fs.Var(&upstreams, "upstream", "upstream proxy HOST:PORT or URL, tried in order (repeatable; default: HTTPS_PROXY/HTTP_PROXY)")
	noProxy := fs.String("no-proxy", e.getenv("NO_PROXY")+","+e.getenv("no_proxy"), "hosts reached directly (NO_PROXY syntax)")
	directFallback := fs.Bool("direct-fallback", false, "go DIRECT when every upstream is down")
	user := fs.String("user", "", "account for the upstream proxy: DOMAIN\\user, user@domain or user")
	domain := fs.String("domain", "", "domain, if --user has none")
	workstation := fs.String("workstation", "", "workstation name sent in NTLM")
	ntlmv2Hash := fs.String("ntlmv2-hash", "", "NTLMv2 hash (PassNTLMv2 from 'sesame hash'); NTLM only")
	schemes := fs.String("auth", "any", "schemes to answer the upstream with: any, or a comma list of ntlm, digest, basic")
	fs.Var(&allows, "allow", "client network allowed besides loopback, e.g. 10.0.0.0/8 (repeatable; needed to listen beyond loopback)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	var secret secretFlags
	secret.register(fs)
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("unexpected argument %q", rest[0])
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(*logLevel)); err != nil {
		return usagef("--log-level: %v", err)
	}
	logger := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))

	if len(listens) == 0 {
		listens = listFlag{"127.0.0.1:3128"}
	}
	var allowed []netip.Prefix
	for _, a := range allows {
		p, err := netip.ParsePrefix(a)
		if err != nil {
			if addr, aerr := netip.ParseAddr(a); aerr == nil {
				p = netip.PrefixFrom(addr, addr.BitLen())
			} else {
				return usagef("--allow %q: %v", a, err)
			}
		}
		allowed = append(allowed, p.Masked())
	}
	for _, l := range listens {
		host, _, err := net.SplitHostPort(l)
		if err != nil {
			return usagef("--listen %q: %v", l, err)
		}
		ip, err := netip.ParseAddr(host)
		loopback := (err == nil && ip.IsLoopback()) || host == "localhost"
		if !loopback && len(allowed) == 0 {
			return usagef("--listen %s is reachable from other machines: name the client networks with --allow CIDR (gateway mode)", l)
		}
	}
	if len(allowed) > 0 {
		// Loopback stays allowed in gateway mode.
		allowed = append(allowed, netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"))
	}

	ups := &proxy.Upstreams{}
	if len(upstreams) == 0 {
		for _, v := range []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"} {
			if s := e.getenv(v); s != "" {
				upstreams = append(upstreams, s)
				break
			}
		}
	}
	for _, s := range upstreams {
		u, err := proxy.ParseUpstream(s)
		if err != nil {
			return usagef("%v", err)
		}
		if containsAddr(listens, u.Host) {
			logger.Warn("ignoring an upstream that is this proxy itself", "upstream", u.Host)
			continue
		}
		ups.List = append(ups.List, u)
	}
	np, err := proxy.ParseNoProxy(*noProxy)
	if err != nil {
		return usagef("--no-proxy: %v", err)
	}

	tr := &auth.Transport{Logger: logger}
	if *user != "" {
		if tr.ProxyCredentials, err = proxyCredentials(e, &secret, *user, *domain, *workstation, *ntlmv2Hash, *schemes); err != nil {
			return err
		}
	} else if secret.given() || *ntlmv2Hash != "" {
		return usagef("a password or hash needs --user")
	}

	srv := &proxy.Server{
		Router:         &proxy.StaticRouter{Upstreams: ups, NoProxy: np, DirectFallback: *directFallback},
		Upstreams:      ups,
		Transport:      tr,
		AllowedClients: allowed,
		Logger:         logger,
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var lns []net.Listener
	for _, l := range listens {
		ln, err := net.Listen("tcp", l)
		if err != nil {
			for _, o := range lns {
				o.Close()
			}
			return fmt.Errorf("listen %s: %w", l, err)
		}
		lns = append(lns, ln)
	}
	route := "DIRECT"
	if len(ups.List) > 0 {
		var hs []string
		for _, u := range ups.List {
			hs = append(hs, u.Host)
		}
		route = strings.Join(hs, ", ")
	}
	errc := make(chan error, len(lns))
	for _, ln := range lns {
		logger.Info("sesame proxy listening", "addr", ln.Addr().String(), "upstream", route, "auth", authSummary(tr.ProxyCredentials))
		go func(ln net.Listener) { errc <- srv.Serve(ctx, ln) }(ln)
	}
	var first error
	for range lns {
		if err := <-errc; err != nil && first == nil && !errors.Is(err, net.ErrClosed) {
			first = err
			stop()
		}
	}
	return first
}

func containsAddr(listens []string, hostport string) bool {
	for _, l := range listens {
		if l == hostport {
			return true
		}
	}
	return false
}

func authSummary(creds []auth.Credential) string {
	if len(creds) == 0 {
		return "none (pass-through)"
	}
	var parts []string
	for _, c := range creds {
		parts = append(parts, c.Scheme()+" as "+c.Identity())
	}
	return strings.Join(parts, ", ")
}

// proxyCredentials builds the credentials for an upstream proxy from the
// command line. A password serves every scheme; an NT hash only NTLM; an
// NTLMv2 hash only NTLMv2 for exactly that user and domain.
func proxyCredentials(e *env, secret *secretFlags, user, domain, workstation, v2hex, schemes string) ([]auth.Credential, error) {
	want := map[string]bool{}
	for _, s := range strings.Split(strings.ToLower(schemes), ",") {
		switch s = strings.TrimSpace(s); s {
		case "any":
			want["ntlm"], want["digest"], want["basic"] = true, true, true
		case "ntlm", "digest", "basic":
			want[s] = true
		case "negotiate":
			return nil, usagef("--auth negotiate: Kerberos is not available in this build yet")
		default:
			return nil, usagef("--auth: unknown scheme %q", s)
		}
	}
	nc := ntlm.Client{User: user, Domain: domain, Workstation: workstation}
	var password string
	switch {
	case v2hex != "":
		if secret.given() {
			return nil, usagef("--ntlmv2-hash excludes --password-stdin, --password-env and --nt-hash")
		}
		h, err := ntlm.ParseNTHash(v2hex)
		if err != nil {
			return nil, fmt.Errorf("--ntlmv2-hash: %w", err)
		}
		nc.NTLMv2Hash = h
	case !secret.given() && e.stdinTerminal:
		p, err := readPassword(e, "Password for "+user+": ")
		if err != nil {
			return nil, err
		}
		password, nc.Password = p, p
	default:
		p, h, err := secret.read(e)
		if err != nil {
			return nil, err
		}
		password, nc.Password, nc.NTHash = p, p, h
	}
	var creds []auth.Credential
	if want["ntlm"] {
		creds = append(creds, &auth.NTLM{Client: nc})
	}
	if password != "" {
		u := user
		if domain != "" && !strings.ContainsAny(u, `\@`) {
			u = domain + `\` + u
		}
		if want["digest"] {
			creds = append(creds, &auth.Digest{User: u, Password: password})
		}
		if want["basic"] {
			creds = append(creds, &auth.Basic{User: u, Password: password})
		}
	}
	if len(creds) == 0 {
		return nil, usagef("no scheme in --auth %s can use the secret given (a hash serves NTLM only)", schemes)
	}
	return creds, nil
}
