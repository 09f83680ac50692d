package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"

	"github.com/sesame-auth/sesame/auth"
	"github.com/sesame-auth/sesame/config"
	"github.com/sesame-auth/sesame/ntlm"
	"github.com/sesame-auth/sesame/proxy"
)

const proxyUsage = `sesame proxy [--config FILE | --import cntlm.conf|px.ini] [--print-config]
                    [--listen ADDR]... [--upstream HOST:PORT]... [--no-proxy LIST] [--direct-fallback]
                    [--user 'DOMAIN\user' (--password-stdin | --password-env VAR | --nt-hash HEX | --ntlmv2-hash HEX)]
                    [--auth any|ntlm|digest|basic] [--allow CIDR]... [--log-level debug|info|warn|error]

Settings come from the built-in defaults, then the config file (--config, or
$SESAME_CONFIG, or ~/.config/sesame/sesame.toml if it exists), then SESAME_*
environment variables, then these flags. 'sesame proxy --print-config' prints
the result as TOML; 'sesame proxy --example-config' a commented example.`

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// runProxy runs the local authenticating proxy until SIGINT or SIGTERM.
func runProxy(e *env, args []string) error {
	fs := newFlagSet("sesame proxy", proxyUsage, e.stderr)
	configFile := fs.String("config", "", "configuration `FILE` (TOML)")
	importFile := fs.String("import", "", "read a cntlm.conf or px.ini `FILE` instead, reporting what does not map")
	printConfig := fs.Bool("print-config", false, "print the effective configuration as TOML and exit (secrets included: don't paste it)")
	exampleConfig := fs.Bool("example-config", false, "print a commented example configuration and exit")
	var listens, upstreams, allows listFlag
	fs.Var(&listens, "listen", "address to listen on (repeatable; default 127.0.0.1:3128)")
	fs.Var(&upstreams, "upstream", "upstream proxy HOST:PORT or URL, tried in order (repeatable; default: HTTPS_PROXY/HTTP_PROXY)")
	noProxy := fs.String("no-proxy", "", "hosts reached directly (NO_PROXY syntax; default $NO_PROXY)")
	directFallback := fs.Bool("direct-fallback", false, "go DIRECT when every upstream is down")
	user := fs.String("user", "", "account for the upstream proxy: DOMAIN\\user, user@domain or user")
	domain := fs.String("domain", "", "domain, if --user has none")
	workstation := fs.String("workstation", "", "workstation name sent in NTLM")
	ntlmv2Hash := fs.String("ntlmv2-hash", "", "NTLMv2 hash (PassNTLMv2 from 'sesame hash'); NTLM only")
	schemes := fs.String("auth", "", "schemes to answer the upstream with: any, or a comma list of ntlm, digest, basic")
	fs.Var(&allows, "allow", "client network allowed besides loopback, e.g. 10.0.0.0/8 (repeatable; needed to listen beyond loopback)")
	logLevel := fs.String("log-level", "", "debug, info, warn or error (default info)")
	var secret secretFlags
	secret.register(fs)
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("unexpected argument %q", rest[0])
	}
	if *exampleConfig {
		_, err := io.WriteString(e.stdout, config.Example)
		return err
	}

	cfg, notes, err := loadProxyConfig(e, *configFile, *importFile)
	if err != nil {
		return err
	}
	// Flags that were given override everything else.
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if len(listens) > 0 {
		cfg.Listen = listens
	}
	if len(upstreams) > 0 {
		cfg.Upstreams = upstreams
	}
	if len(allows) > 0 {
		cfg.Allow = allows
	}
	if set["no-proxy"] {
		cfg.NoProxy = []string{*noProxy}
	}
	if set["direct-fallback"] {
		cfg.DirectFallback = *directFallback
	}
	if set["log-level"] {
		cfg.LogLevel = *logLevel
	}
	if set["auth"] {
		cfg.Auth.Schemes = strings.Split(*schemes, ",")
	}
	if set["user"] {
		cfg.Auth.User, cfg.Auth.Domain = *user, ""
	}
	if set["domain"] {
		cfg.Auth.Domain = *domain
	}
	if set["workstation"] {
		cfg.Auth.Workstation = *workstation
	}
	if set["ntlmv2-hash"] || secret.given() {
		// A secret on the command line replaces the configured one.
		cfg.Auth.Password, cfg.Auth.PasswordEnv, cfg.Auth.NTHash, cfg.Auth.NTLMv2Hash = "", "", "", *ntlmv2Hash
		if secret.passwordEnv != "" {
			cfg.Auth.PasswordEnv = secret.passwordEnv
		}
		cfg.Auth.NTHash = secret.ntHash
	}
	if len(cfg.Upstreams) == 0 {
		for _, v := range []string{"HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy"} {
			if s := e.getenv(v); s != "" {
				cfg.Upstreams = []string{s}
				break
			}
		}
	}
	if len(cfg.NoProxy) == 0 {
		cfg.NoProxy = []string{e.getenv("NO_PROXY") + "," + e.getenv("no_proxy")}
	}
	if err := cfg.Validate(); err != nil {
		return &usageError{err.Error()}
	}
	if *printConfig {
		b, err := cfg.Marshal()
		if err != nil {
			return err
		}
		_, err = e.stdout.Write(b)
		return err
	}

	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return usagef("log level: %v", err)
	}
	logger := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
	for _, n := range notes {
		logger.Warn("import: "+n.Msg, "key", n.Key, "line", n.Line)
	}
	for _, w := range cfg.Warnings() {
		logger.Warn(w)
	}

	listens = cfg.Listen
	var allowed []netip.Prefix
	for _, a := range cfg.Allow {
		p, err := netip.ParsePrefix(a)
		if err != nil {
			addr, aerr := netip.ParseAddr(a)
			if aerr != nil {
				return usagef("allow %q: %v", a, err)
			}
			p = netip.PrefixFrom(addr, addr.BitLen())
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
	for _, s := range cfg.Upstreams {
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
	np, err := proxy.ParseNoProxy(strings.Join(cfg.NoProxy, ","))
	if err != nil {
		return usagef("no-proxy: %v", err)
	}

	tr := &auth.Transport{Logger: logger}
	if cfg.Auth.User != "" {
		if tr.ProxyCredentials, err = proxyCredentials(e, &secret, &cfg.Auth); err != nil {
			return err
		}
	} else if secret.given() || cfg.Auth.NTLMv2Hash != "" || cfg.Auth.NTHash != "" || cfg.Auth.Password != "" || cfg.Auth.PasswordEnv != "" {
		return usagef("a password or hash needs a user (--user or auth.user)")
	}

	srv := &proxy.Server{
		Router:         &proxy.StaticRouter{Upstreams: ups, NoProxy: np, DirectFallback: cfg.DirectFallback},
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

// loadProxyConfig reads the configuration file, or imports an
// incumbent's, over the defaults, then applies SESAME_* variables.
func loadProxyConfig(e *env, file, imported string) (*config.Config, []config.ImportNote, error) {
	if file != "" && imported != "" {
		return nil, nil, usagef("--config and --import exclude each other")
	}
	cfg := config.Default()
	var notes []config.ImportNote
	var err error
	switch {
	case imported != "":
		f, err := os.Open(imported)
		if err != nil {
			return nil, nil, err
		}
		defer f.Close()
		head := make([]byte, 4096)
		n, _ := io.ReadFull(f, head)
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return nil, nil, err
		}
		// px.ini has [sections]; cntlm.conf never does.
		if strings.Contains(string(head[:n]), "[proxy]") || strings.Contains(string(head[:n]), "[settings]") {
			cfg, notes, err = config.ImportPx(f)
		} else {
			cfg, notes, err = config.ImportCntlm(f)
		}
		if err != nil {
			return nil, nil, fmt.Errorf("import %s: %w", imported, err)
		}
	case file != "":
		if cfg, err = config.Load(file); err != nil {
			return nil, nil, err
		}
	default:
		path := e.getenv("SESAME_CONFIG")
		if path == "" {
			if dir, err := os.UserConfigDir(); err == nil {
				if p := filepath.Join(dir, "sesame", "sesame.toml"); fileExists(p) {
					path = p
				}
			}
		}
		if path != "" {
			if cfg, err = config.Load(path); err != nil {
				return nil, nil, err
			}
		}
	}
	if err := cfg.ApplyEnv(e.getenv); err != nil {
		return nil, nil, err
	}
	return cfg, notes, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// proxyCredentials builds the credentials for an upstream proxy. A
// password serves every scheme; an NT hash only NTLM; an NTLMv2 hash only
// NTLMv2 for exactly that user and domain. With no secret configured the
// password is asked for on the terminal (or read from --password-stdin).
func proxyCredentials(e *env, secret *secretFlags, a *config.Auth) ([]auth.Credential, error) {
	want := map[string]bool{}
	for _, s := range a.Schemes {
		switch s = strings.ToLower(strings.TrimSpace(s)); s {
		case "any", "":
			want["ntlm"], want["digest"], want["basic"] = true, true, true
		case "ntlm", "digest", "basic":
			want[s] = true
		case "negotiate":
			return nil, usagef("auth negotiate: Kerberos is not available in this build yet")
		default:
			return nil, usagef("auth: unknown scheme %q", s)
		}
	}
	user, domain := a.User, a.Domain
	nc := ntlm.Client{User: user, Domain: domain, Workstation: a.Workstation}
	var password string
	var err error
	switch {
	case a.NTLMv2Hash != "":
		if nc.NTLMv2Hash, err = ntlm.ParseNTHash(a.NTLMv2Hash); err != nil {
			return nil, fmt.Errorf("NTLMv2 hash: %w", err)
		}
	case a.NTHash != "":
		if nc.NTHash, err = ntlm.ParseNTHash(a.NTHash); err != nil {
			return nil, fmt.Errorf("NT hash: %w", err)
		}
	case a.PasswordEnv != "":
		if password = e.getenv(a.PasswordEnv); password == "" {
			return nil, fmt.Errorf("environment variable %s is empty or not set", a.PasswordEnv)
		}
	case a.Password != "":
		password = a.Password
	case secret.passwordStdin || e.stdinTerminal:
		if password, err = readPassword(e, "Password for "+user+": "); err != nil {
			return nil, err
		}
	default:
		return nil, usagef("no secret for %s: give --password-stdin, --password-env VAR, --nt-hash or --ntlmv2-hash (or auth.* in the config)", user)
	}
	nc.Password = password
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
		return nil, usagef("no scheme in auth %v can use the secret given (a hash serves NTLM only)", a.Schemes)
	}
	return creds, nil
}
