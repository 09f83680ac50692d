package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/sesame-auth/sesame/auth"
	"github.com/sesame-auth/sesame/config"
	"github.com/sesame-auth/sesame/ntlm"
	"github.com/sesame-auth/sesame/pac"
	"github.com/sesame-auth/sesame/proxy"
)

const proxyUsage = `sesame proxy [--config FILE | --import cntlm.conf|px.ini] [--print-config]
                    [--listen ADDR]... [--upstream HOST:PORT]... [--no-proxy LIST] [--direct-fallback]
                    [--user 'DOMAIN\user' (--password-stdin | --password-env VAR | --nt-hash HEX | --ntlmv2-hash HEX)]
                    [--auth any|negotiate|ntlm|digest|basic] [--allow CIDR]... [--log-level debug|info|warn|error]
                    [--mutual required|optional|disabled] [--opportunistic] [--mech kerberos|ntlm|spnego|OID]
                    [--spn SPN] [--principal USER@REALM] [--sanitize-mutual-error]

Settings come from the built-in defaults, then the config file (--config, or
$SESAME_CONFIG, or ~/.config/sesame/sesame.toml if it exists), then SESAME_*
environment variables, then these flags. 'sesame proxy --print-config' prints
the result as TOML; 'sesame proxy --example-config' a commented example.`

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// proxyFlags are the flags of `sesame proxy`, shared by `sesame run`,
// which starts the same proxy when none is running.
type proxyFlags struct {
	fs                                             *flag.FlagSet
	configFile, importFile                         *string
	listens, upstreams, allows                     listFlag
	noProxy, user, domain, workstation, ntlmv2Hash *string
	schemes, logLevel, admin, pac                  *string
	directFallback, ntlmToBasic, localTargets      *bool
	discovered                                     bool              // the route came from discovery
	sources                                        map[string]string // setting -> where it came from (settingSources)
	secret                                         secretFlags
	gss                                            gssOptions // --mutual, --opportunistic, --mech, --principal, --sanitize-mutual-error
	spn                                            *string
}

// newProxyFlags registers the proxy's flags on fs, but for those named in
// omit: a command that does not listen (doctor) takes no --listen.
func newProxyFlags(fs *flag.FlagSet, omit ...string) *proxyFlags {
	p := &proxyFlags{fs: fs}
	// Omitted flags keep their defaults, in a set nobody parses.
	hidden := flag.NewFlagSet("", flag.ContinueOnError)
	on := func(name string) *flag.FlagSet {
		if slices.Contains(omit, name) {
			return hidden
		}
		return fs
	}
	p.configFile = on("config").String("config", "", "configuration `FILE` (TOML)")
	p.importFile = on("import").String("import", "", "read a cntlm.conf or px.ini `FILE` instead, reporting what does not map")
	on("listen").Var(&p.listens, "listen", "`ADDR` to listen on (repeatable; default 127.0.0.1:3128)")
	on("upstream").Var(&p.upstreams, "upstream", "upstream proxy `HOST:PORT` or URL, tried in order, or DIRECT (repeatable; DIRECT last: the fallback; DIRECT or '' alone: no proxy; default: HTTPS_PROXY/HTTP_PROXY)")
	p.noProxy = on("no-proxy").String("no-proxy", "", "`LIST` of hosts reached directly (NO_PROXY syntax; default $NO_PROXY)")
	p.directFallback = on("direct-fallback").Bool("direct-fallback", false, "go DIRECT when every upstream is down")
	p.user = on("user").String("user", "", "account for the upstream proxy: `DOMAIN\\user`, user@domain or user")
	p.domain = on("domain").String("domain", "", "`DOMAIN`, if --user has none")
	p.workstation = on("workstation").String("workstation", "", "workstation `NAME` sent in NTLM")
	p.ntlmv2Hash = on("ntlmv2-hash").String("ntlmv2-hash", "", "NTLMv2 hash (`HEX`, PassNTLMv2 from 'sesame hash'); NTLM only")
	p.schemes = on("auth").String("auth", "", "schemes to answer the upstream with: any, or a comma `LIST` of negotiate, ntlm, digest, basic")
	on("allow").Var(&p.allows, "allow", "client network allowed besides loopback, e.g. 10.0.0.0/8 (`CIDR`, repeatable; needed to listen beyond loopback)")
	p.logLevel = on("log-level").String("log-level", "", "`LEVEL`: debug, info, warn or error (default info)")
	p.pac = on("pac").String("pac", "", "PAC file `PATH_OR_URL` choosing the route per URL (instead of --upstream)")
	p.ntlmToBasic = on("ntlm-to-basic").Bool("ntlm-to-basic", false, "clients give DOMAIN\\user:password in Basic; sesame answers the upstream as that user")
	p.localTargets = on("allow-localhost-targets").Bool("allow-localhost-targets", false, "gateway mode: let --allow clients reach this host's own addresses (127.0.0.1, ...) through the proxy")
	p.admin = on("admin").String("admin", "", "loopback `ADDR` for the status page, /metrics and /proxy.pac (e.g. 127.0.0.1:3129)")
	on("mutual").StringVar(&p.gss.mutual, "mutual", "", "Negotiate: mutual authentication `MODE`: required (the upstream must prove itself with an AP-REP; squid never does), optional or disabled (default: asked for, not required of a proxy)")
	on("opportunistic").BoolVar(&p.gss.opportunistic, "opportunistic", false, "Negotiate: send the token with the first request on a connection, before the upstream's 407")
	on("mech").StringVar(&p.gss.mech, "mech", "", "Negotiate mechanism `MECH`: kerberos, ntlm (NTLM in SPNEGO, with the account's secret), spnego or an OID (default: Kerberos, NTLM in SPNEGO as the fallback)")
	p.spn = on("spn").String("spn", "", "Kerberos service principal of the upstream (`SPN`; default HTTP/<upstream host>)")
	on("principal").StringVar(&p.gss.principal, "principal", "", "single sign-on from the cache of `USER@REALM` in a collection (DIR:, KCM:, KEYRING:) instead of the primary one")
	on("sanitize-mutual-error").BoolVar(&p.gss.sanitize, "sanitize-mutual-error", false, "with --mutual required, an error response from an upstream that failed mutual authentication reaches the client as its status alone (no headers, no body) instead of a 502")
	p.secret.register(fs)
	return p
}

// config returns the effective configuration: defaults, file, SESAME_*
// variables, then the flags that were given.
func (p *proxyFlags) config(e *env) (*config.Config, []config.ImportNote, error) {
	cfg, notes, err := loadProxyConfig(e, *p.configFile, *p.importFile)
	if err != nil {
		return nil, nil, err
	}
	set := map[string]bool{}
	p.fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	p.sources = settingSources(e, cfg, set)
	if len(p.listens) > 0 {
		cfg.Listen = p.listens
	}
	if len(p.upstreams) > 0 {
		// --upstream '' is how a shell says "none": DIRECT, and no
		// discovery either.
		cfg.Upstreams = nil
		for _, u := range p.upstreams {
			if strings.TrimSpace(u) == "" {
				u = "DIRECT"
			}
			cfg.Upstreams = append(cfg.Upstreams, u)
		}
	}
	if len(p.allows) > 0 {
		cfg.Allow = p.allows
	}
	if set["no-proxy"] {
		cfg.NoProxy = []string{*p.noProxy}
	}
	if set["direct-fallback"] {
		cfg.DirectFallback = *p.directFallback
	}
	if set["log-level"] {
		cfg.LogLevel = *p.logLevel
	}
	if set["admin"] {
		cfg.Admin = *p.admin
	}
	if set["pac"] {
		cfg.PAC = *p.pac
	}
	if set["ntlm-to-basic"] {
		cfg.NTLMToBasic = *p.ntlmToBasic
	}
	if set["allow-localhost-targets"] {
		cfg.AllowLocalhostTargets = *p.localTargets
	}
	if set["auth"] {
		cfg.Auth.Schemes = strings.Split(*p.schemes, ",")
	}
	if set["user"] {
		cfg.Auth.User, cfg.Auth.Domain = *p.user, ""
	}
	if set["domain"] {
		cfg.Auth.Domain = *p.domain
	}
	if set["workstation"] {
		cfg.Auth.Workstation = *p.workstation
	}
	if err := p.gss.check(); err != nil {
		return nil, nil, err
	}
	if set["mutual"] {
		cfg.Auth.Mutual = p.gss.mutual
	}
	if set["opportunistic"] {
		cfg.Auth.Opportunistic = p.gss.opportunistic
	}
	if set["mech"] {
		cfg.Auth.Mech = p.gss.mech
	}
	if set["spn"] {
		cfg.Auth.SPN = *p.spn
	}
	if set["principal"] {
		cfg.Auth.Principal = p.gss.principal
	}
	if set["sanitize-mutual-error"] {
		cfg.Auth.SanitizeMutualError = p.gss.sanitize
	}
	if set["ntlmv2-hash"] || p.secret.given() {
		// A secret on the command line replaces the configured one.
		cfg.Auth.Password, cfg.Auth.PasswordEnv, cfg.Auth.NTHash, cfg.Auth.NTLMv2Hash = "", p.secret.passwordEnv, p.secret.ntHash, *p.ntlmv2Hash
	}
	p.discovered = false
	if len(cfg.Upstreams) == 0 && cfg.PAC == "" {
		if src := discoverRoute(e, cfg); src != "" {
			p.sources["upstream"], p.sources["pac"] = "found: "+src, "found: "+src
		}
		p.discovered = true
	}
	if len(cfg.NoProxy) == 0 {
		if cfg.NoProxy = config.NoProxyList(e.getenv("NO_PROXY"), e.getenv("no_proxy")); len(cfg.NoProxy) > 0 {
			p.sources["no-proxy"] = "environment NO_PROXY/no_proxy"
		}
	}
	if err := cfg.Validate(); err != nil {
		return nil, nil, &usageError{err.Error()}
	}
	return cfg, notes, nil
}

// runProxy runs the local authenticating proxy until SIGINT or SIGTERM.
func runProxy(e *env, args []string) error {
	started := time.Now()
	fs := newFlagSet("sesame proxy", proxyUsage+"\n\n"+envVarsHelp(), e.stderr)
	pf := newProxyFlags(fs)
	printConfig := fs.Bool("print-config", false, "print the effective configuration as TOML and exit (secrets included: don't paste it)")
	exampleConfig := fs.Bool("example-config", false, "print a commented example configuration and exit")
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
	cfg, notes, err := pf.config(e)
	if err != nil {
		return err
	}
	if *printConfig {
		b, err := cfg.Marshal()
		if err != nil {
			return err
		}
		// Someone migrating reads the translation and what did not
		// translate together: the notes go to stderr, the TOML stays
		// clean on stdout for a redirect.
		for _, n := range notes {
			fmt.Fprintf(e.stderr, "sesame: import %s line %d: %s: %s\n", *pf.importFile, n.Line, n.Key, n.Msg)
		}
		for _, w := range cfg.Warnings() {
			fmt.Fprintf(e.stderr, "sesame: warning: %s\n", w)
		}
		_, err = e.stdout.Write(b)
		return err
	}
	logger, err := proxyLogger(e, cfg, notes)
	if err != nil {
		return err
	}
	srv, acct, err := newProxyServerAccount(e, cfg, &pf.secret, logger, nil, knownSecret{})
	if err != nil {
		return err
	}
	if srv, acct, err = checkTypedPassword(e, cfg, &pf.secret, logger, srv, acct); err != nil {
		return err
	}
	if err := checkPACAtStart(srv, cfg.PACFail, pf.discovered, logger); err != nil {
		return err
	}
	sw := &proxy.Switch{}
	sw.Store(srv)
	// At shutdown, the upstream connections of the Server in force close
	// (a reload closes those of the Server it replaces).
	defer func() { sw.Load().Close() }()
	// serviceContext: as a Windows service, the SCM's Stop cancels it.
	sd := drainOnSignal(serviceContext(), func() int64 { return sw.Load().Stats().InFlight.Load() }, logger)
	defer sd.release()
	ctx := sd.ctx
	lns, err := listenAll(cfg.Listen)
	if err != nil {
		return err
	}
	if cfg.Admin != "" {
		aln, err := net.Listen("tcp", cfg.Admin)
		if err != nil {
			for _, ln := range lns {
				ln.Close()
			}
			return fmt.Errorf("admin listener: %w", err)
		}
		admin := &proxy.Admin{Proxy: sw, ProxyAddrs: cfg.Listen, Version: version, Started: started}
		hs := &http.Server{Handler: admin, ReadHeaderTimeout: 10 * time.Second}
		go hs.Serve(aln)
		defer hs.Close()
		logger.Info("sesame admin listening", "url", "http://"+aln.Addr().String()+"/")
	}
	go reloadOnHangup(ctx, e, pf, sw, cfg, acct, logger)
	return serveAll(ctx, sd.stop, sd.hard, sw, lns, logger)
}

// reloadOnHangup re-reads the configuration on SIGHUP and swaps the proxy
// for new requests. Listen addresses stay (they need a restart); the
// upstream connections, authenticated already, are kept when the
// credentials did not change.
//
// When the route came from discovery (nothing configured), a change of
// network (pac.Watch) reloads too, so docking or a VPN coming up switches
// to that network's proxy without a restart.
//
// The Transport (and its authenticated connections) carries on when
// neither the account, its secret nor the NTLM-to-Basic mode changed;
// credentials it had refused are offered again then. The secret counts
// as changed when the OS keyring now holds another password (`sesame
// login`), or when the user typed a new one at the prompt after a
// refusal.
func reloadOnHangup(ctx context.Context, e *env, pf *proxyFlags, sw *proxy.Switch, cfg *config.Config, acct *proxyAccount, logger *slog.Logger) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	var network <-chan []pac.Setting
	if pf.discovered {
		network = pac.Watch(ctx, pac.DiscoverOptions{Getenv: e.getenv, NoWPAD: !cfg.WPAD}, 0)
		<-network // the first result is the one in force
	}
	for {
		var typed knownSecret // a password typed after a refusal
		select {
		case <-ctx.Done():
			return
		case <-hup:
		case r := <-acct.reprompt:
			pw, err := readPassword(e, fmt.Sprintf("The upstream proxy %s refused the password for %s. Password for %s: ", r.Peer, acct.account, acct.account))
			if err != nil || pw == "" {
				logger.Warn("reload: no new password read", "err", err)
				continue
			}
			typed = knownSecret{password: pw, source: "prompt"}
		case _, ok := <-network:
			if !ok {
				network = nil
				continue
			}
			logger.Info("reload: the network's proxy settings changed")
		}
		next, notes, err := pf.config(e)
		if err != nil {
			logger.Error("reload: configuration not changed", "err", err)
			continue
		}
		for _, n := range notes {
			logger.Warn("import: "+n.Msg, "key", n.Key, "line", n.Line)
		}
		if !slices.Equal(next.Listen, cfg.Listen) || next.Admin != cfg.Admin {
			logger.Warn("reload: listen and admin addresses change only with a restart")
			next.Listen, next.Admin = cfg.Listen, cfg.Admin
		}
		old := sw.Load()
		known, changed := acct.secretOnReload(e, cfg, next, typed)
		var reuse *auth.Transport
		if !changed && reflect.DeepEqual(next.Auth, cfg.Auth) && next.NTLMToBasic == cfg.NTLMToBasic {
			reuse = old.Transport
		}
		srv, nacct, err := newProxyServerAccount(e, next, &pf.secret, logger, reuse, known)
		if err != nil {
			logger.Error("reload: configuration not changed", "err", err)
			continue
		}
		if reuse != nil {
			nacct = acct
			srv.RefusedHint = acct.hint(next)
		}
		srv.Counters = old.Stats()
		sw.Store(srv)
		if reuse != nil {
			// The same credentials: offered again, in case what
			// they were refused for was fixed upstream.
			srv.ResetRejections()
			old.CloseClients()
		} else {
			old.Close()
		}
		cfg, acct = next, nacct
		logger.Info("reload: configuration reloaded", "upstreams", strings.Join(next.Upstreams, ","))
	}
}

func proxyLogger(e *env, cfg *config.Config, notes []config.ImportNote) (*slog.Logger, error) {
	var level slog.Level
	if err := level.UnmarshalText([]byte(cfg.LogLevel)); err != nil {
		return nil, usagef("log level: %v", err)
	}
	logger := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: level}))
	for _, n := range notes {
		logger.Warn("import: "+n.Msg, "key", n.Key, "line", n.Line)
	}
	for _, w := range cfg.Warnings() {
		logger.Warn(w)
	}
	return logger, nil
}

// newProxyServer builds the proxy from a configuration: client
// allow-list, upstream list, NoProxy, credentials.
//
// With reuse set, that Transport (its authenticated connections and
// credentials) carries on instead of a new one.
func newProxyServer(e *env, cfg *config.Config, secret *secretFlags, logger *slog.Logger, reuse *auth.Transport) (*proxy.Server, error) {
	srv, _, err := newProxyServerAccount(e, cfg, secret, logger, reuse, knownSecret{})
	return srv, err
}

// newProxyServerAccount is newProxyServer that also says where the
// account's secret came from. known, if set, is the password to use
// instead of the keyring, stdin or a prompt (a reload, a password typed
// again).
func newProxyServerAccount(e *env, cfg *config.Config, secret *secretFlags, logger *slog.Logger, reuse *auth.Transport, known knownSecret) (*proxy.Server, *proxyAccount, error) {
	acct := &proxyAccount{}
	srv, err := buildProxyServer(e, cfg, secret, logger, reuse, known, acct)
	if err != nil {
		return nil, nil, err
	}
	srv.RefusedHint = acct.hint(cfg)
	return srv, acct, nil
}

func buildProxyServer(e *env, cfg *config.Config, secret *secretFlags, logger *slog.Logger, reuse *auth.Transport, known knownSecret, acct *proxyAccount) (*proxy.Server, error) {
	allowed, err := allowList(cfg.Allow, cfg.Listen, " (gateway mode)")
	if err != nil {
		return nil, err
	}
	if len(allowed) > 0 {
		// Loopback stays allowed in gateway mode.
		allowed = append(allowed, netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128"))
	}
	ups := &proxy.Upstreams{}
	directFallback := cfg.DirectFallback
	for i, s := range cfg.Upstreams {
		if isDirectRoute(s) {
			// DIRECT is a route as in a PAC's "PROXY p:8080; DIRECT":
			// alone, no proxy; last, the fallback.
			if i != len(cfg.Upstreams)-1 {
				return nil, usagef("upstream DIRECT must come last (the proxies before it are tried first)")
			}
			directFallback = true
			continue
		}
		u, err := proxy.ParseUpstream(s)
		if err != nil {
			return nil, usagef("%v", err)
		}
		if containsAddr(cfg.Listen, u.Host) {
			logger.Warn("ignoring an upstream that is this proxy itself", "upstream", u.Host)
			continue
		}
		ups.List = append(ups.List, u)
	}
	np, err := proxy.ParseNoProxy(strings.Join(cfg.NoProxy, ","))
	if err != nil {
		return nil, usagef("no-proxy: %v", err)
	}
	tr := reuse // credentials unchanged on a reload: keep them and the pool
	var fromClient proxy.ClientCredentials
	if cfg.NTLMToBasic {
		fromClient = clientCredentials(cfg)
		if cfg.Auth.Negotiate() != (config.NegotiateOptions{}) || cfg.Auth.SPN != "" {
			// Clients' accounts answer with NTLM there: say so rather
			// than let the settings look in force.
			logger.Warn("proxy: auth.mutual, opportunistic, mech, spn, principal and sanitize_mutual_error do nothing with NTLM-to-Basic (clients' accounts answer with NTLM)")
		}
		if tr == nil {
			tr = &auth.Transport{Logger: logger, Proxy: proxy.ContextRoute}
		}
	}
	if tr == nil {
		tr = &auth.Transport{Logger: logger, Proxy: proxy.ContextRoute, SanitizeMutualErrors: cfg.Auth.SanitizeMutualError}
		a := &cfg.Auth
		if a.User == "" && (secret.given() || a.NTLMv2Hash != "" || a.NTHash != "" || a.Password != "" || a.PasswordEnv != "") {
			return nil, usagef("a password or hash needs a user (--user or auth.user)")
		}
		if tr.ProxyCredentials, err = proxyCredentialsAccount(e, secret, a, acct, known, true); err != nil {
			return nil, err
		}
		if a.User == "" {
			renewSSO(e, tr.ProxyCredentials, logger)
		}
		if acct.source == "prompt" && e.stdinTerminal {
			// A typed password that the upstream refuses is asked
			// for again (see reloadOnHangup).
			acct.reprompt = make(chan auth.Rejection, 1)
			tr.OnReject = func(r auth.Rejection) {
				// A failed mutual authentication is no wrong password.
				if r.Proxy && !r.MutualFailed {
					select {
					case acct.reprompt <- r:
					default:
					}
				}
			}
		}
	}
	var router proxy.Router = &proxy.StaticRouter{Upstreams: ups, NoProxy: np, DirectFallback: directFallback}
	if cfg.PAC != "" {
		router = &proxy.PACRouter{Loader: newPACLoader(cfg.PAC, cfg.PACFail, logger), NoProxy: np, Health: ups, Logger: logger}
	}
	return &proxy.Server{
		FromClient:           fromClient,
		CredentialUpstreams:  cfg.Auth.Upstreams,
		Router:               router,
		Upstreams:            ups,
		Transport:            tr,
		AllowedClients:       allowed,
		AllowLoopbackTargets: cfg.AllowLocalhostTargets,
		Listeners:            cfg.Listen, // a route to one of these is a loop
		Logger:               logger,
	}, nil
}

func listenAll(addrs []string) ([]net.Listener, error) {
	var lns []net.Listener
	for _, l := range addrs {
		ln, err := net.Listen("tcp", l)
		if err != nil {
			for _, o := range lns {
				o.Close()
			}
			return nil, fmt.Errorf("listen %s: %w", l, err)
		}
		lns = append(lns, ln)
	}
	return lns, nil
}

// serveAll serves on every listener until ctx ends or one fails, then
// waits for the requests in progress to end, or for hard to close (nil:
// 10 s after ctx ends).
func serveAll(ctx context.Context, stop func(), hard <-chan struct{}, sw *proxy.Switch, lns []net.Listener, logger *slog.Logger) error {
	if hard == nil {
		h := make(chan struct{})
		defer context.AfterFunc(ctx, func() { time.AfterFunc(10*time.Second, func() { close(h) }) })()
		hard = h
	}
	srv := sw.Load()
	route := routeSummary(srv)
	errc := make(chan error, len(lns))
	for _, ln := range lns {
		auth := authSummary(srv.Transport.ProxyCredentials)
		if srv.FromClient != nil {
			auth = "each client's own account (NTLM-to-Basic)"
		}
		logger.Info("sesame proxy listening", "addr", ln.Addr().String(), "upstream", route, "auth", auth)
		go func(ln net.Listener) { errc <- proxy.ServeDrain(ctx, hard, ln, sw, logger) }(ln)
	}
	var first error
	for range lns {
		if err := <-errc; err != nil && first == nil && !errors.Is(err, net.ErrClosed) {
			first = err
			stop()
		}
	}
	drained(sw.Load().Stats(), hard)
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
	return strings.Join(proxy.DescribeCredentials(creds), ", ")
}

// discoverRoute fills in the route when the configuration names none: the
// environment first, then the desktop's or OS's proxy settings, then (only
// with wpad = true) WPAD. It returns where the setting was found.
func discoverRoute(e *env, cfg *config.Config) string {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	found, err := pac.Discover(ctx, pac.DiscoverOptions{Getenv: e.getenv, NoWPAD: !cfg.WPAD})
	if err != nil || len(found) == 0 {
		return ""
	}
	s := found[0]
	switch {
	case s.PACURL != "":
		cfg.PAC = s.PACURL
	default:
		list := s.ProxiesFor("https")
		if len(list) == 0 {
			list = s.Proxies
		}
		for _, p := range list {
			switch p.Type {
			case pac.PROXY, pac.HTTP:
				cfg.Upstreams = append(cfg.Upstreams, p.Host)
			case pac.HTTPS:
				cfg.Upstreams = append(cfg.Upstreams, "https://"+p.Host)
			}
		}
	}
	if s.NoProxy != "" && len(cfg.NoProxy) == 0 {
		cfg.NoProxy = []string{s.NoProxy}
	}
	return s.Source
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
// password is read from --password-stdin, else taken from the OS keyring
// (`sesame login`), else asked for on the terminal.
func proxyCredentials(e *env, secret *secretFlags, a *config.Auth) ([]auth.Credential, error) {
	return proxyCredentialsAccount(e, secret, a, &proxyAccount{}, knownSecret{}, false)
}

// proxyCredentialsAccount is proxyCredentials recording in acct where the
// secret came from. known, if set, replaces the keyring, stdin and the
// prompt. waitSSO: with no account, single sign-on is configured even
// while there is no credential cache yet (the proxy started before
// kinit); the credential then cannot start, and is passed over, until
// kinit writes the cache.
func proxyCredentialsAccount(e *env, secret *secretFlags, a *config.Auth, acct *proxyAccount, known knownSecret, waitSSO bool) ([]auth.Credential, error) {
	want := map[string]bool{}
	explicitNegotiate := false
	for _, s := range a.Schemes {
		switch s = strings.ToLower(strings.TrimSpace(s)); s {
		case "any", "":
			want["negotiate"], want["ntlm"], want["digest"], want["basic"] = true, true, true, true
		case "negotiate":
			want[s], explicitNegotiate = true, true
		case "ntlm", "digest", "basic":
			want[s] = true
		default:
			return nil, usagef("auth: unknown scheme %q", s)
		}
	}
	gss, err := gssFromAuth(a)
	if err != nil {
		return nil, err
	}
	if a.User == "" {
		// No account: only single sign-on can answer, from the Kerberos
		// credential cache.
		if !want["negotiate"] {
			return nil, nil
		}
		if gss.mech == "ntlm" {
			return nil, usagef("mech ntlm: NTLM needs an account: auth.user (--user) with a password or NT hash")
		}
		// Without an account Kerberos is the only mechanism: mech
		// kerberos asks for nothing more, and must not refuse the cache
		// that kinit has yet to write (waitSSO).
		if gss.mech == "kerberos" {
			gss.mech = ""
		}
		c, err := newNegotiate(negotiateConfig{getenv: e.getenv, required: explicitNegotiate, proxy: true, spn: a.SPN, gss: gss})
		if err != nil {
			return nil, err
		}
		if c == nil && waitSSO {
			c = waitingSSO(e, a.SPN, gss)
		}
		if c == nil {
			return nil, nil
		}
		return []auth.Credential{c}, nil
	}
	user, domain := a.User, a.Domain
	acct.account = qualifiedUser(user, domain)
	nc := ntlm.Client{User: user, Domain: domain, Workstation: a.Workstation}
	var password string
	switch {
	case a.NTLMv2Hash != "":
		acct.source = "hash"
		if nc.NTLMv2Hash, err = ntlm.ParseNTHash(a.NTLMv2Hash); err != nil {
			return nil, fmt.Errorf("NTLMv2 hash: %w", err)
		}
	case a.NTHash != "":
		acct.source = "hash"
		if nc.NTHash, err = ntlm.ParseNTHash(a.NTHash); err != nil {
			return nil, fmt.Errorf("NT hash: %w", err)
		}
	case a.PasswordEnv != "":
		acct.source = "env"
		if password = e.getenv(a.PasswordEnv); password == "" {
			return nil, fmt.Errorf("environment variable %s is empty or not set", a.PasswordEnv)
		}
	case a.Password != "":
		acct.source = "config"
		password = a.Password
	case secret.passwordStdin:
		acct.source = "stdin"
		if password = known.password; password == "" {
			if password, err = readPassword(e, "Password for "+user+": "); err != nil {
				return nil, err
			}
		}
	case known.password != "":
		// A reload: the password read from the keyring, or typed.
		acct.source, password = known.source, known.password
	default:
		// Nothing configured: what `sesame login` stored in the OS
		// keyring, else a prompt. A keyring that cannot be asked (no
		// Secret Service on a headless box) is normal, not an error.
		account := qualifiedUser(user, domain)
		var kerr error
		if password, kerr = keyringPassword(e, account); kerr == nil {
			acct.source = "keyring"
			break
		}
		if e.stdinTerminal {
			// Say why only when a keyring is there and failed (locked,
			// prompt dismissed): without one, asking is the old normal.
			if !keyringNotFound(kerr) && !keyringUnavailable(kerr) {
				fmt.Fprintf(e.stderr, "sesame: %v\n", kerr)
			}
			if password, err = readPassword(e, "Password for "+user+": "); err != nil {
				return nil, err
			}
			acct.source = "prompt"
			break
		}
		return nil, usagef("no secret for %s (%s); store one with `sesame login --user %s`, or give --password-stdin, --password-env VAR, --nt-hash or --ntlmv2-hash (or auth.* in the config)",
			user, keyringMiss(kerr), shellQuote(account))
	}
	nc.Password = password
	acct.password = password
	var creds []auth.Credential
	if want["negotiate"] {
		// Kerberos with the password when there is one, and NTLM inside
		// SPNEGO for proxies that offer only Negotiate.
		// The account is authoritative: a ticket in the cache serves
		// only if it is this user's (with a hash and no password, no
		// Kerberos otherwise).
		cfg := negotiateConfig{getenv: e.getenv, required: explicitNegotiate, proxy: true, ntlm: &nc,
			user: qualifiedUser(user, domain), password: password, spn: a.SPN, gss: gss}
		c, err := newNegotiate(cfg)
		if err != nil {
			return nil, err
		}
		if c != nil {
			creds = append(creds, c)
		}
	}
	if want["ntlm"] {
		creds = append(creds, &auth.NTLM{Client: nc})
	}
	if password != "" {
		u := qualifiedUser(user, domain)
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

// clientCredentials is NTLM-to-Basic mode: the account a client gives
// sesame in Basic is used upstream with the configured schemes (Negotiate
// aside: a Kerberos login per client is not what NTLMToBasic users expect).
func clientCredentials(cfg *config.Config) proxy.ClientCredentials {
	schemes := map[string]bool{}
	for _, s := range cfg.Auth.Schemes {
		s = strings.ToLower(strings.TrimSpace(s))
		if s == "any" || s == "" {
			schemes["ntlm"], schemes["digest"], schemes["basic"] = true, true, true
		}
		schemes[s] = true
	}
	workstation := cfg.Auth.Workstation
	return func(user, password string) []auth.Credential {
		var creds []auth.Credential
		if schemes["ntlm"] {
			creds = append(creds, &auth.NTLM{Client: ntlm.Client{User: user, Password: password, Workstation: workstation}})
		}
		if schemes["digest"] {
			creds = append(creds, &auth.Digest{User: user, Password: password})
		}
		if schemes["basic"] {
			creds = append(creds, &auth.Basic{User: user, Password: password})
		}
		return creds
	}
}

// qualifiedUser writes DOMAIN\user when the domain was given apart.
func qualifiedUser(user, domain string) string {
	if domain != "" && !strings.ContainsAny(user, `\@`) {
		return domain + `\` + user
	}
	return user
}
