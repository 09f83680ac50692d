package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"os"
	"path"
	"strings"
	"syscall"
	"time"

	"golang.org/x/net/http/httpguts"
	"golang.org/x/net/http/httpproxy"

	"github.com/sesame-auth/sesame/auth"
	"github.com/sesame-auth/sesame/ntlm"
)

// getUsage is the help text of "sesame get"; it doubles as the
// reference for the exit statuses scripts may rely on.
const getUsage = `usage: sesame get [flags] URL

Fetch URL like curl, answering NTLM, Negotiate (Kerberos), Digest and Basic
challenges of the server (401) and of the proxy (407). The body goes to
stdout (or -o/-O), streamed.

flags (curl's names):
  -u, --user USER[:PASS]     origin account (DOMAIN\user for NTLM); without
                             :PASS the password is read from stdin (first
                             line), or asked for without echo on a terminal.
                             Negotiate uses the Kerberos ticket in the cache
                             only if it is this user's (CORP\bob matches
                             bob@CORP.TEST: the realm's first label); else
                             it logs in with the password, or uses NTLM.
                             -u : uses whatever ticket the cache holds
      --password-stdin       read the origin password from stdin (the default
                             when -u has no :PASS)
      --password-env VAR     read the origin password from environment VAR
      --nt-hash HEX          NTLM only: the NT hash (from 'sesame hash')
                             instead of a password
      --auth LIST            origin schemes to offer credentials for: any
                             (default), or a comma list of negotiate, ntlm,
                             digest, basic; the strongest offered is used.
                             Basic goes to an origin over plain http only
                             when named here (the password travels readable)
  -x, --proxy URL            proxy (http://host:port; the scheme defaults to
                             http); -x '' for none. Default: HTTP_PROXY,
                             HTTPS_PROXY and NO_PROXY as Go reads them
                             (loopback destinations always go direct)
      --noproxy LIST         hosts to reach directly (NO_PROXY syntax); '*'
                             for all
      --pac PATH|URL         let a PAC file choose the proxy (its first
                             PROXY entry, or DIRECT), as a browser would
  -U, --proxy-user USER[:PASS]
                             proxy account; without :PASS the password is read
                             like -u's (after it, when both come from stdin)
      --proxy-password-stdin read the proxy password from stdin (the default
                             when -U has no :PASS; after the origin's)
      --proxy-password-env VAR
                             read the proxy password from environment VAR
      --proxy-auth LIST      proxy schemes, as --auth (Basic always allowed)
      --negotiate, --ntlm, --digest, --basic, --anyauth
                             curl's names for --auth negotiate ... --auth any
      --proxy-negotiate, --proxy-ntlm, --proxy-digest, --proxy-basic,
      --proxy-anyauth        the same for --proxy-auth
  -X, --request METHOD       request method (default GET, POST with -d)
  -H, --header 'Name: value' extra header (repeatable); 'Name:' removes a
                             default header, 'Name;' sends it empty
  -d, --data DATA            request body, POST and form content type by
                             default; @FILE reads FILE (into memory, line
                             breaks removed, as curl), @- stdin; repeated
                             -d are joined with '&'
      --data-binary DATA     as -d but sent as is; a single --data-binary
                             @FILE is streamed from the file
  -I, --head                 send HEAD and print the response's header
  -i, --include              print the status line and header before the body
      --compressed           ask for gzip or deflate and decompress the body
  -w, --write-out FORMAT     print FORMAT after the transfer: %{http_code},
                             %{size_download}, %{time_total},
                             %{speed_download}, %{url_effective},
                             %{content_type}; \n for a newline
  -o, --output FILE          write the body to FILE
  -O, --remote-name          write the body to the URL's file name (in the
                             current directory)
  -L, --location             follow redirects (at most 20); credentials go
                             only to the URL's own scheme, host and port
  -k, --insecure             do not verify the server's TLS certificate
      --cacert FILE          trust the CA certificates in FILE (PEM)
  -v, --verbose              log requests, statuses and each authentication
                             leg's scheme to stderr (never a secret)
  -s, --silent               no progress bar (errors are still reported)
  -S, --show-error           accepted for curl compatibility (always so)
  -f, --fail                 exit 22, writing no body, on HTTP status >= 400
      --max-time SECONDS     give up after this long (default: no limit but
                             the transport's own bounded waits)
      --delegation none|policy|always
                             Kerberos only: credential delegation
      --spn SPN              Kerberos only: service principal (default
                             HTTP/host)
      --mutual required|optional|disabled
                             Negotiate: mutual authentication (the server's
                             AP-REP); default required
      --opportunistic        Negotiate: send the token with the first
                             request, before any 401
      --mech kerberos|ntlm|spnego|OID
                             Negotiate: the mechanism (default: Kerberos,
                             NTLM in SPNEGO when there is a password)
      --principal USER@REALM Kerberos: the cache of this principal in a
                             collection (DIR:, KCM:, KEYRING:)
      --sanitize-mutual-error
                             with --mutual required, an error response whose
                             server failed mutual authentication is shown
                             as its status alone (no headers, no body)
                             instead of failing
      --sspi                 Windows only: answer Negotiate and NTLM with
                             Windows' own security packages (SSPI), with the
                             account of -u, or as the logged-on user. Without
                             an account ("-u :") SSPI is the default there.

Short flags combine as in curl: -fsSL, -sSo FILE.

A progress bar is drawn on stderr when it is a terminal, the body goes to
a file, and the download is large or of unknown size.

exit status (curl's numbers):
   0  success
   1  other failure
   2  wrong usage
   3  malformed URL
   5  could not resolve the proxy
   6  could not resolve the host
   7  could not connect
  18  body ended early
  22  HTTP status >= 400 with --fail
  23  could not write the output
  28  timeout (--max-time)
  35  TLS error (handshake or certificate)
  47  too many redirects
  56  failure receiving data, or the proxy refused CONNECT
  67  authentication failed: 401 or 407 after credentials were offered
  77  could not read --cacert`

// Exit statuses of "sesame get", curl's numbers for the same conditions.
const (
	exitURLMalformed     = 3
	exitResolveProxy     = 5
	exitResolveHost      = 6
	exitConnect          = 7
	exitPartialFile      = 18
	exitHTTPError        = 22
	exitWriteError       = 23
	exitTimeout          = 28
	exitTLS              = 35
	exitTooManyRedirects = 47
	exitRecvError        = 56
	exitAuthFailed       = 67
	exitCACert           = 77
)

// maxRedirects is curl's default for -L (--max-redirs).
const maxRedirects = 20

// optString is a string flag that remembers whether it was given, so that
// an empty -x (no proxy) differs from no -x at all.
type optString struct {
	set bool
	v   string
}

func (o *optString) String() string     { return o.v }
func (o *optString) Set(v string) error { o.set, o.v = true, v; return nil }

// getHeaders collects repeated -H values.
type getHeaders []string

func (h *getHeaders) String() string     { return strings.Join(*h, "\n") }
func (h *getHeaders) Set(v string) error { *h = append(*h, v); return nil }

// getDataArg is one -d or --data-binary value, in command-line order.
type getDataArg struct {
	value  string
	binary bool
}

// getDataFlag appends to a shared list, so -d and --data-binary keep
// their relative order as curl does.
type getDataFlag struct {
	list   *[]getDataArg
	binary bool
}

func (d getDataFlag) String() string { return "" }
func (d getDataFlag) Set(v string) error {
	*d.list = append(*d.list, getDataArg{value: v, binary: d.binary})
	return nil
}

// getOptions are the parsed flags of "sesame get".
type getOptions struct {
	user, proxyUser, proxy optString
	secret                 secretFlags
	authSchemes, proxyAuth string
	noProxy                optString
	pac                    string
	method                 string
	headers                getHeaders
	data                   []getDataArg
	output                 string
	remoteName             bool
	location, insecure     bool
	cacert                 string
	verbose, silent, fail  bool
	maxTime                float64
	delegation, spn        string
	sspi                   bool // Windows' own security packages (sspi_windows.go)
	curl                   getCurlOptions
	gss                    gssOptions // --mutual, --opportunistic, --mech, --principal
}

// runGet implements "sesame get": a curl-like fetch through the
// authenticating auth.Transport.
func runGet(e *env, args []string) error {
	o := &getOptions{}
	fs := newFlagSet("sesame get", "", e.stderr)
	fs.Usage = func() { fmt.Fprintln(e.stderr, getUsage) }
	for _, n := range []string{"u", "user"} {
		fs.Var(&o.user, n, "")
	}
	for _, n := range []string{"x", "proxy"} {
		fs.Var(&o.proxy, n, "")
	}
	for _, n := range []string{"U", "proxy-user"} {
		fs.Var(&o.proxyUser, n, "")
	}
	o.secret.register(fs)
	fs.StringVar(&o.authSchemes, "auth", "any", "")
	fs.StringVar(&o.proxyAuth, "proxy-auth", "any", "")
	fs.Var(&o.noProxy, "noproxy", "")
	fs.StringVar(&o.pac, "pac", "", "")
	for _, n := range []string{"X", "request"} {
		fs.StringVar(&o.method, n, "", "")
	}
	for _, n := range []string{"H", "header"} {
		fs.Var(&o.headers, n, "")
	}
	for _, n := range []string{"d", "data"} {
		fs.Var(getDataFlag{list: &o.data}, n, "")
	}
	fs.Var(getDataFlag{list: &o.data, binary: true}, "data-binary", "")
	for _, n := range []string{"o", "output"} {
		fs.StringVar(&o.output, n, "", "")
	}
	for _, n := range []string{"O", "remote-name"} {
		fs.BoolVar(&o.remoteName, n, false, "")
	}
	for _, n := range []string{"L", "location"} {
		fs.BoolVar(&o.location, n, false, "")
	}
	for _, n := range []string{"k", "insecure"} {
		fs.BoolVar(&o.insecure, n, false, "")
	}
	fs.StringVar(&o.cacert, "cacert", "", "")
	for _, n := range []string{"v", "verbose"} {
		fs.BoolVar(&o.verbose, n, false, "")
	}
	for _, n := range []string{"s", "silent"} {
		fs.BoolVar(&o.silent, n, false, "")
	}
	var showError bool
	for _, n := range []string{"S", "show-error"} {
		fs.BoolVar(&showError, n, false, "")
	}
	for _, n := range []string{"f", "fail"} {
		fs.BoolVar(&o.fail, n, false, "")
	}
	fs.Float64Var(&o.maxTime, "max-time", 0, "")
	fs.StringVar(&o.delegation, "delegation", "none", "")
	fs.StringVar(&o.spn, "spn", "", "")
	fs.BoolVar(&o.sspi, "sspi", false, "")
	o.gss.register(fs)
	o.registerCurl(fs)

	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(rest) == 0:
		return usagef("a URL is required (see sesame get -h)")
	case len(rest) > 1:
		return usagef("one URL at a time (got %q and %q)", rest[0], rest[1])
	}
	return o.fetch(e, rest[0])
}

// fetch checks the options against each other, then sends the request and
// writes the response.
func (o *getOptions) fetch(e *env, rawURL string) error {
	u, err := parseGetURL(rawURL)
	if err != nil {
		return err
	}
	originSchemes, originExplicit, err := parseSchemes("--auth", o.authSchemes)
	if err != nil {
		return err
	}
	proxySchemes, proxyExplicit, err := parseSchemes("--proxy-auth", o.proxyAuth)
	if err != nil {
		return err
	}
	switch o.delegation {
	case "none", "policy", "always":
	default:
		return usagef("--delegation must be none, policy or always, not %q", o.delegation)
	}
	if err := o.gss.check(); err != nil {
		return err
	}
	if o.maxTime < 0 {
		return usagef("--max-time must not be negative")
	}
	if o.output != "" && o.remoteName {
		return usagef("-o and -O exclude each other")
	}
	outName := o.output
	if o.remoteName {
		if outName, err = remoteFileName(u); err != nil {
			return err
		}
	}
	if o.method != "" && !httpguts.ValidHeaderFieldName(o.method) {
		return usagef("-X %q is not a valid method", o.method)
	}
	hdr, host, err := parseGetHeaders(o.headers)
	if err != nil {
		return err
	}

	// Credentials from the URL (http://user:pass@host/), as curl takes
	// them, unless -u names the account; never sent on as part of the URL.
	if u.User != nil {
		if !o.user.set {
			o.user.set, o.user.v = true, u.User.String()
			if s, err := url.PathUnescape(o.user.v); err == nil {
				o.user.v = s
			}
		}
		u.User = nil
	}
	proxyFunc, proxyHost, err := o.proxyFunc(e)
	if err != nil {
		return err
	}

	// stdin may carry one password or two (origin, then proxy) or the
	// body (@-), but not a body and a password.
	stdinForData := false
	for _, d := range o.data {
		if d.value == "@-" {
			stdinForData = true
		}
	}
	pw := &passwordReader{e: e}
	origin, err := o.originCredentials(pw, originSchemes, originExplicit, stdinForData)
	if err != nil {
		return err
	}
	proxyCreds, err := o.proxyCredentials(pw, proxySchemes, proxyExplicit, stdinForData)
	if err != nil {
		return err
	}

	tlsConf := &tls.Config{InsecureSkipVerify: o.insecure}
	if o.cacert != "" {
		pem, err := os.ReadFile(o.cacert)
		if err != nil {
			return exitf(exitCACert, "--cacert: %v", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return exitf(exitCACert, "--cacert %s: no PEM certificate in it", o.cacert)
		}
		tlsConf.RootCAs = pool
	}

	level := slog.LevelWarn
	if o.verbose {
		level = slog.LevelDebug
	}
	logger := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{
		Level: level,
		// A terminal log for one command: the time says nothing here.
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	}))

	newTransport := func(creds []auth.Credential) *auth.Transport {
		return &auth.Transport{
			Proxy:            proxyFunc,
			Credentials:      creds,
			ProxyCredentials: proxyCreds,
			// Only when the user named Basic: over plain http anyone on
			// the path reads the password.
			AllowBasicOverHTTP:   originExplicit && originSchemes["basic"],
			SanitizeMutualErrors: o.gss.sanitize,
			TLSClientConfig:      tlsConf,
			Logger:               logger,
		}
	}
	rt := &getRoundTripper{
		origin:  originKey(u),
		trusted: newTransport(origin),
		other:   newTransport(nil),
		log:     logger,
	}
	defer rt.trusted.CloseIdleConnections()
	defer rt.other.CloseIdleConnections()

	client := &http.Client{
		Transport: rt,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if !o.location {
				return http.ErrUseLastResponse
			}
			if len(via) > maxRedirects {
				return exitf(exitTooManyRedirects, "more than %d redirects", maxRedirects)
			}
			return nil
		},
	}

	ctx := context.Background()
	if o.maxTime > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, time.Duration(o.maxTime*float64(time.Second)))
		defer cancel()
	}
	body, cleanup, err := o.requestBody(e)
	if err != nil {
		return err
	}
	defer cleanup()
	method := o.method
	if method == "" {
		method = http.MethodGet
		if body != nil {
			method = http.MethodPost
		}
		if o.curl.head {
			method = http.MethodHead
		}
	}
	req, err := http.NewRequestWithContext(ctx, method, u.String(), nil)
	if err != nil {
		return exitf(exitURLMalformed, "%v", err)
	}
	req.Header.Set("User-Agent", "sesame")
	req.Header.Set("Accept", "*/*")
	if body != nil {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		body.attach(req)
	}
	for name, vs := range hdr {
		// A removed header stays as a key without values: Request.Write
		// then sends nothing for it, where a missing User-Agent would
		// get Go's default.
		req.Header[name] = vs
	}
	if host != "" {
		req.Host = host
	}
	if o.curl.compressed && req.Header.Get("Accept-Encoding") == "" {
		req.Header.Set("Accept-Encoding", "gzip, deflate")
	}

	o.curl.start = time.Now()
	resp, err := client.Do(req)
	if err != nil {
		return classifyGetError(err, proxyHost, len(proxyCreds) > 0)
	}
	defer resp.Body.Close()

	// The final answer of a server or proxy that was offered credentials:
	// they were refused (the transport tries each at most once, so a
	// wrong password cannot lock the account), or none fits its offer.
	final := u
	if resp.Request != nil {
		final = resp.Request.URL
	}
	if resp.StatusCode == http.StatusUnauthorized && len(origin) == 0 && !o.user.set && !o.sspi {
		if hint := negotiateHint(e.getenv, resp); hint != "" {
			fmt.Fprintln(e.stderr, hint)
		}
	}
	switch {
	case resp.StatusCode == http.StatusUnauthorized && len(origin) > 0 && originKey(final) == rt.origin:
		return exitf(exitAuthFailed, "authentication failed: %s from %s (%s)", resp.Status, final.Host,
			explainRefusal(resp.Header.Values("WWW-Authenticate"), origin, final.Scheme == "http" && !(originExplicit && originSchemes["basic"]))+credentialFailures(origin))
	case resp.StatusCode == http.StatusProxyAuthRequired && len(proxyCreds) > 0:
		return exitf(exitAuthFailed, "proxy authentication failed: %s (%s)", resp.Status,
			explainRefusal(resp.Header.Values("Proxy-Authenticate"), proxyCreds, false)+credentialFailures(proxyCreds))
	case o.fail && resp.StatusCode >= 400:
		return exitf(exitHTTPError, "the requested URL returned error: %s", resp.Status)
	}
	return o.writeBody(e, resp, outName)
}

// writeBody streams the response body to stdout or the output file,
// with a progress bar when a person watches a large download.
func (o *getOptions) writeBody(e *env, resp *http.Response, outName string) (err error) {
	var out io.Writer = e.stdout
	if outName != "" {
		// Created only now, as curl does: a failed request (-f, 67)
		// leaves no empty or error-page file behind.
		f, err := os.Create(outName)
		if err != nil {
			return exitf(exitWriteError, "%v", err)
		}
		defer func() {
			if cerr := f.Close(); cerr != nil && err == nil {
				err = exitf(exitWriteError, "%v", cerr)
			}
		}()
		out = f
	}
	w := &trackingWriter{w: out}
	if o.curl.include || o.curl.head {
		if err := writeHead(w, resp); err != nil {
			return exitf(exitWriteError, "writing the header: %v", err)
		}
	}
	received := &countingReader{r: resp.Body}
	var src io.Reader = received
	if o.curl.compressed {
		if src, err = decodedBody(resp, received); err != nil {
			return exitf(exitRecvError, "%v", err)
		}
	}
	if o.curl.writeOut != "" {
		defer func() {
			if err == nil {
				_, err = io.WriteString(e.stdout, writeOutText(o.curl.writeOut, resp, received.n, time.Since(o.curl.start)))
			}
		}()
	}
	var dst io.Writer = w
	stderrTerminal := false
	if f, ok := e.stderr.(*os.File); ok {
		stderrTerminal = isTerminal(f)
	}
	var bar *progress
	if showProgress(stderrTerminal, o.silent, outName != "", resp.ContentLength) {
		bar = startProgress(e.stderr, resp.ContentLength, path.Base(outName))
		dst = io.MultiWriter(w, bar)
	}
	// A plain buffer-sized copy: the body streams through, never held
	// whole in memory.
	_, err = io.CopyBuffer(dst, src, make([]byte, 64<<10))
	if bar != nil {
		bar.done(err == nil)
	}
	switch {
	case err == nil:
		return nil
	case w.err != nil:
		return exitf(exitWriteError, "writing the body: %v", w.err)
	case isTimeout(err):
		return exitf(exitTimeout, "receiving the body: %v", err)
	case errors.Is(err, io.ErrUnexpectedEOF):
		return exitf(exitPartialFile, "the body ended early: %v", err)
	default:
		return exitf(exitRecvError, "receiving the body: %v", err)
	}
}

// trackingWriter remembers a write error, to tell a full disk (23) from a
// broken connection when io.Copy returns.
type trackingWriter struct {
	w   io.Writer
	err error
}

func (t *trackingWriter) Write(p []byte) (int, error) {
	n, err := t.w.Write(p)
	if err != nil && t.err == nil {
		t.err = err
	}
	return n, err
}

// getRoundTripper sends requests to the URL's own origin through the
// transport that holds the origin credentials and everything else (a
// redirect elsewhere) through one without them, as curl does without
// --location-trusted: a redirect must not hand the password to another
// host. Proxy credentials are in both: the proxy is the same.
type getRoundTripper struct {
	origin         string
	trusted, other *auth.Transport
	log            *slog.Logger
}

func (r *getRoundTripper) RoundTrip(req *http.Request) (*http.Response, error) {
	t := r.other
	if originKey(req.URL) == r.origin {
		t = r.trusted
	}
	r.log.Debug("request", "method", req.Method, "url", req.URL.Redacted(), "credentials", t == r.trusted && len(t.Credentials) > 0)
	rep := &auth.Report{}
	req = req.WithContext(auth.WithReport(req.Context(), rep))
	resp, err := t.RoundTrip(req)
	if err != nil {
		r.log.Debug("request failed", "err", err)
		return nil, err
	}
	attrs := []any{"status", resp.Status}
	// Who answered each challenge, and with which mechanism: a named
	// user is the one that authenticates, never the cache's principal.
	if rep.ProxyScheme != "" {
		attrs = append(attrs, "proxy_auth", rep.ProxyScheme)
		if rep.ProxyMechanism != "" {
			attrs = append(attrs, "proxy_mechanism", rep.ProxyMechanism, "proxy_principal", rep.ProxyIdentity)
		}
	}
	if rep.OriginScheme != "" {
		attrs = append(attrs, "auth", rep.OriginScheme)
		if rep.OriginMechanism != "" {
			attrs = append(attrs, "mechanism", rep.OriginMechanism, "principal", rep.OriginIdentity)
		}
	}
	// Only the scheme names of a challenge: its parameters may carry
	// an NTLM CHALLENGE or a Negotiate token.
	for _, h := range []string{"WWW-Authenticate", "Proxy-Authenticate"} {
		if vs := resp.Header.Values(h); len(vs) > 0 {
			attrs = append(attrs, strings.ToLower(h), strings.Join(challengeSchemes(vs), ","))
		}
	}
	if loc := resp.Header.Get("Location"); loc != "" {
		attrs = append(attrs, "location", loc)
	}
	r.log.Debug("response", attrs...)
	return resp, nil
}

// challengeSchemes returns the schemes named in challenge header values.
func challengeSchemes(values []string) []string {
	chs, err := auth.ParseChallenges(values)
	if err != nil {
		return []string{"(malformed)"}
	}
	var out []string
	for _, c := range chs {
		out = append(out, c.Scheme)
	}
	return out
}

// explainRefusal says why a 401/407 ended the request: no offered scheme
// fits the credentials, or they were refused.
func explainRefusal(challenges []string, creds []auth.Credential, basicWithheld bool) string {
	offered := challengeSchemes(challenges)
	var ours []string
	for _, c := range creds {
		ours = append(ours, c.Scheme())
	}
	fits := false
	basicOffered := false
	for _, s := range offered {
		for _, c := range creds {
			if strings.EqualFold(s, c.Scheme()) {
				if strings.EqualFold(s, "Basic") && basicWithheld {
					basicOffered = true
					continue
				}
				fits = true
			}
		}
	}
	switch {
	case fits && cacheUnreadable(creds) != "":
		return fmt.Sprintf("%s; offered: %s", cacheUnreadable(creds), strings.Join(offered, ", "))
	case fits:
		return fmt.Sprintf("the credentials were refused; offered: %s", strings.Join(offered, ", "))
	case basicOffered:
		return "the server asks for Basic over plain http, which would send the password readable; --auth basic sends it anyway"
	case len(offered) == 0:
		return "no challenge offered"
	default:
		return fmt.Sprintf("offered %s, credentials for %s", strings.Join(offered, ", "), strings.Join(ours, ", "))
	}
}

// originKey identifies an origin as curl does for sending credentials
// after a redirect: scheme, host and port.
func originKey(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = "80"
		if u.Scheme == "https" {
			port = "443"
		}
	}
	return strings.ToLower(u.Scheme) + "://" + net.JoinHostPort(strings.ToLower(u.Hostname()), port)
}

// parseGetURL parses the URL argument; like curl it assumes http:// when
// the scheme is left out.
func parseGetURL(raw string) (*url.URL, error) {
	if !strings.Contains(raw, "://") {
		raw = "http://" + raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, exitf(exitURLMalformed, "malformed URL: %v", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("unsupported protocol %q (http and https only)", u.Scheme)
	}
	if u.Hostname() == "" {
		return nil, exitf(exitURLMalformed, "malformed URL %q: no host", u.Redacted())
	}
	return u, nil
}

// remoteFileName derives -O's file name from the URL's last path
// segment, refusing anything that would write outside the current
// directory.
func remoteFileName(u *url.URL) (string, error) {
	name := ""
	if i := strings.LastIndex(u.Path, "/"); i >= 0 {
		name = u.Path[i+1:]
	} else {
		name = u.Path
	}
	if name == "" || name == "." || name == ".." || strings.ContainsAny(name, "/\\\x00") {
		return "", usagef("-O: the URL %s has no usable file name; use -o FILE", u.Redacted())
	}
	return name, nil
}

// parseSchemes reads an --auth or --proxy-auth list. explicit is false for
// "any", which offers every scheme that applies.
func parseSchemes(flagName, v string) (schemes map[string]bool, explicit bool, err error) {
	schemes = map[string]bool{}
	for _, s := range strings.Split(strings.ToLower(v), ",") {
		switch s = strings.TrimSpace(s); s {
		case "any":
			for _, a := range []string{"negotiate", "ntlm", "digest", "basic"} {
				schemes[a] = true
			}
		case "negotiate", "ntlm", "digest", "basic":
			schemes[s] = true
			explicit = true
		default:
			return nil, false, usagef("%s: unknown scheme %q (any, negotiate, ntlm, digest, basic)", flagName, s)
		}
	}
	if strings.Contains(","+strings.ToLower(v)+",", ",any,") {
		explicit = false
	}
	return schemes, explicit, nil
}

// parseGetHeaders reads -H values. A nil slice in the result removes a
// default header ("Name:"); "Name;" sends it empty, as in curl. Host sets
// the request's Host rather than a header field.
func parseGetHeaders(raw []string) (http.Header, string, error) {
	h := http.Header{}
	host := ""
	for _, line := range raw {
		name, value, ok := strings.Cut(line, ":")
		empty := false
		if !ok {
			if n, rest, semi := strings.Cut(line, ";"); semi && strings.TrimSpace(rest) == "" {
				name, empty = n, true
			} else {
				return nil, "", usagef("-H %q: want 'Name: value'", line)
			}
		}
		name = strings.TrimSpace(name)
		value = strings.TrimSpace(value)
		if !httpguts.ValidHeaderFieldName(name) || !httpguts.ValidHeaderFieldValue(value) {
			return nil, "", usagef("-H %q: not a valid header field", line)
		}
		key := http.CanonicalHeaderKey(name)
		switch {
		case key == "Host" && value != "":
			host = value
		case value == "" && !empty:
			h[key] = nil
		default:
			h[key] = append(h[key], value)
		}
	}
	return h, host, nil
}

// proxyFunc returns the proxy choice for each request and the proxy's
// host name when one is fixed (to tell "could not resolve the proxy"
// from "... the host").
func (o *getOptions) proxyFunc(e *env) (func(*http.Request) (*url.URL, error), string, error) {
	direct := func(*http.Request) (*url.URL, error) { return nil, nil }
	if strings.TrimSpace(o.noProxy.v) == "*" {
		return direct, "", nil
	}
	if o.pac != "" {
		if o.proxy.set {
			return nil, "", usagef("--pac and -x exclude each other")
		}
		return newPACLoader(o.pac, "fail", nil).ProxyFunc(), "", nil
	}
	if o.proxy.set {
		if o.proxy.v == "" {
			return direct, "", nil
		}
		raw := o.proxy.v
		if !strings.Contains(raw, "://") {
			raw = "http://" + raw
		}
		pu, err := url.Parse(raw)
		if err != nil || pu.Hostname() == "" {
			return nil, "", usagef("-x %q: not a proxy URL", o.proxy.v)
		}
		if pu.Scheme != "http" && pu.Scheme != "https" {
			return nil, "", usagef("-x %q: only http and https proxies are supported", o.proxy.v)
		}
		// user:pass in the proxy URL, as curl takes it, unless -U
		// names the account.
		if pu.User != nil {
			if !o.proxyUser.set {
				o.proxyUser.set, o.proxyUser.v = true, pu.User.String()
				if s, err := url.PathUnescape(o.proxyUser.v); err == nil {
					o.proxyUser.v = s
				}
			}
			pu.User = nil
		}
		if !o.noProxy.set {
			return http.ProxyURL(pu), pu.Hostname(), nil
		}
		f := (&httpproxy.Config{HTTPProxy: pu.String(), HTTPSProxy: pu.String(), NoProxy: o.noProxy.v}).ProxyFunc()
		return func(r *http.Request) (*url.URL, error) { return f(r.URL) }, pu.Hostname(), nil
	}
	// The environment, read through e so tests can set it, with Go's
	// rules (http.ProxyFromEnvironment reads the process's environment
	// once and caches it).
	getenv := func(names ...string) string {
		for _, n := range names {
			if v := e.getenv(n); v != "" {
				return v
			}
		}
		return ""
	}
	cfg := &httpproxy.Config{
		HTTPProxy:  getenv("HTTP_PROXY", "http_proxy"),
		HTTPSProxy: getenv("HTTPS_PROXY", "https_proxy"),
		NoProxy:    getenv("NO_PROXY", "no_proxy"),
		CGI:        e.getenv("REQUEST_METHOD") != "",
	}
	if o.noProxy.set {
		cfg.NoProxy = o.noProxy.v
	}
	f := cfg.ProxyFunc()
	return func(r *http.Request) (*url.URL, error) { return f(r.URL) }, "", nil
}

// passwordReader reads the passwords "sesame get" needs from stdin, in
// order (origin, then proxy).
type passwordReader struct {
	e    *env
	used bool
}

// read reads one password. On a pipe it takes exactly one line, reading
// byte by byte, so that a second password on the next line is still there
// for the next call (readPassword's buffered reader would swallow it).
func (p *passwordReader) read(prompt string) (string, error) {
	p.used = true
	if p.e.stdinTerminal {
		return readPassword(p.e, prompt)
	}
	one := *p.e
	one.stdin = oneByteReader{p.e.stdin}
	return readPassword(&one, prompt)
}

// oneByteReader hands out at most one byte per Read.
type oneByteReader struct{ r io.Reader }

func (o oneByteReader) Read(b []byte) (int, error) {
	if len(b) > 1 {
		b = b[:1]
	}
	return o.r.Read(b)
}

// splitUser splits curl's USER[:PASS].
func splitUser(v string) (user, password string, hasPassword bool) {
	return strings.Cut(v, ":")
}

// originCredentials builds the credentials for the server's 401.
func (o *getOptions) originCredentials(pw *passwordReader, schemes map[string]bool, explicit, stdinForData bool) ([]auth.Credential, error) {
	user, password, hasPassword := splitUser(o.user.v)
	if user == "" && password == "" {
		// curl's "-u :" names no account: single sign-on, below, and
		// not also an NTLM attempt with an empty user name.
		hasPassword = false
	}
	sources := 0
	for _, b := range []bool{hasPassword, o.secret.passwordStdin, o.secret.passwordEnv != "", o.secret.ntHash != ""} {
		if b {
			sources++
		}
	}
	if sources > 1 {
		return nil, usagef("give the origin password one way: -u USER:PASS, --password-stdin, --password-env or --nt-hash")
	}
	if !o.user.set || (user == "" && sources == 0) {
		if sources > 0 {
			return nil, usagef("--password-stdin, --password-env and --nt-hash need -u USER")
		}
		if o.sspi {
			return sspiCredentials(schemes, "", "", o.spn, o.delegation)
		}
		// No account, or curl's "-u :": only Kerberos single sign-on
		// could answer, from the credential cache.
		// "-u :" asks for it with any scheme, as curl's --negotiate -u :
		// does; naming negotiate in --auth asks for it by name.
		if schemes["negotiate"] && (explicit || o.user.set) {
			c, err := newNegotiate(negotiateConfig{getenv: pw.e.getenv, required: explicit, spn: o.spn, delegation: o.delegation, gss: o.gss})
			if err != nil || c == nil {
				return nil, err
			}
			return []auth.Credential{c}, nil
		}
		return nil, nil
	}
	var ntHash []byte
	switch {
	case o.secret.ntHash != "":
		if explicit && (schemes["basic"] || schemes["digest"] || schemes["negotiate"]) {
			return nil, usagef("--nt-hash works with NTLM only (--auth ntlm)")
		}
		h, err := ntlm.ParseNTHash(o.secret.ntHash)
		if err != nil {
			return nil, usagef("--nt-hash: %v", err)
		}
		ntHash = h
	case o.secret.passwordEnv != "":
		password = pw.e.getenv(o.secret.passwordEnv)
		if password == "" {
			return nil, fmt.Errorf("environment variable %s is empty or not set", o.secret.passwordEnv)
		}
	case !hasPassword:
		if stdinForData && !pw.e.stdinTerminal {
			return nil, usagef("stdin cannot carry both the body (@-) and the password: use -u USER:PASS or --password-env")
		}
		p, err := pw.read(fmt.Sprintf("Enter host password for user '%s': ", user))
		if err != nil {
			return nil, err
		}
		password = p
	}

	if o.sspi {
		if ntHash != nil {
			return nil, usagef("--sspi takes a password, not --nt-hash")
		}
		return sspiCredentials(schemes, user, password, o.spn, o.delegation)
	}
	var creds []auth.Credential
	if schemes["negotiate"] && ntHash == nil {
		// NTLM inside SPNEGO too, for servers whose Negotiate takes
		// only NTLM (or whose realm does not trust ours).
		nc := &ntlm.Client{User: user, Password: password}
		c, err := newNegotiate(negotiateConfig{getenv: pw.e.getenv, required: explicit, user: user, password: password, spn: o.spn, delegation: o.delegation, ntlm: nc, gss: o.gss})
		if err != nil {
			return nil, err
		}
		if c != nil {
			creds = append(creds, c)
		}
	}
	if schemes["ntlm"] {
		creds = append(creds, &auth.NTLM{Client: ntlm.Client{User: user, Password: password, NTHash: ntHash}})
	}
	if ntHash == nil {
		if schemes["digest"] {
			creds = append(creds, &auth.Digest{User: user, Password: password})
		}
		if schemes["basic"] {
			creds = append(creds, &auth.Basic{User: user, Password: password})
		}
	}
	return creds, nil
}

// proxyCredentials builds the credentials for the proxy's 407.
func (o *getOptions) proxyCredentials(pw *passwordReader, schemes map[string]bool, explicit, stdinForData bool) ([]auth.Credential, error) {
	if !o.proxyUser.set {
		return nil, nil
	}
	user, password, hasPassword := splitUser(o.proxyUser.v)
	explicitNegotiate := explicit && schemes["negotiate"]
	if user == "" && !hasPassword {
		// "-U :" (or --proxy-auth negotiate): single sign-on from the
		// credential cache.
		if schemes["negotiate"] {
			c, err := newNegotiate(negotiateConfig{getenv: pw.e.getenv, required: explicitNegotiate, proxy: true, delegation: o.delegation})
			if err != nil || c == nil {
				return nil, err
			}
			return []auth.Credential{c}, nil
		}
		return nil, nil
	}
	if hasPassword && (o.curl.proxyPasswordEnv != "" || o.curl.proxyPasswordStdin) {
		return nil, usagef("give the proxy password one way: -U USER:PASS, --proxy-password-stdin or --proxy-password-env")
	}
	if !hasPassword && o.curl.proxyPasswordEnv != "" {
		if password = pw.e.getenv(o.curl.proxyPasswordEnv); password == "" {
			return nil, fmt.Errorf("environment variable %s is empty or not set", o.curl.proxyPasswordEnv)
		}
		hasPassword = true
	}
	if !hasPassword {
		if stdinForData && !pw.e.stdinTerminal {
			return nil, usagef("stdin cannot carry both the body (@-) and the proxy password: use -U USER:PASS or --proxy-password-env")
		}
		p, err := pw.read(fmt.Sprintf("Enter proxy password for user '%s': ", user))
		if err != nil {
			return nil, err
		}
		password = p
	}
	var creds []auth.Credential
	if schemes["negotiate"] {
		nc := &ntlm.Client{User: user, Password: password}
		c, err := newNegotiate(negotiateConfig{getenv: pw.e.getenv, required: explicitNegotiate, user: user, password: password, proxy: true, delegation: o.delegation, ntlm: nc})
		if err != nil {
			return nil, err
		}
		if c != nil {
			creds = append(creds, c)
		}
	}
	if schemes["ntlm"] {
		creds = append(creds, &auth.NTLM{Client: ntlm.Client{User: user, Password: password}})
	}
	if schemes["digest"] {
		creds = append(creds, &auth.Digest{User: user, Password: password})
	}
	if schemes["basic"] {
		creds = append(creds, &auth.Basic{User: user, Password: password})
	}
	return creds, nil
}

// getBody is a request body: a file streamed from disk (sent again from
// the start after a challenge) or a small in-memory form.
type getBody struct {
	path string // file to stream; "" for data
	size int64
	data []byte
}

// attach sets req's body so that the transport and http.Client (307/308
// redirects) can send it again: GetBody reopens the file.
func (b *getBody) attach(req *http.Request) {
	if b.path == "" {
		req.Body = io.NopCloser(bytes.NewReader(b.data))
		req.ContentLength = int64(len(b.data))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b.data)), nil }
		if len(b.data) == 0 {
			req.Body, req.GetBody = http.NoBody, func() (io.ReadCloser, error) { return http.NoBody, nil }
		}
		return
	}
	open := func() (io.ReadCloser, error) { return os.Open(b.path) }
	f, err := open()
	if err != nil {
		// Reported by the first send, like any other body error.
		req.Body = io.NopCloser(errReader{err})
	} else {
		req.Body = f
	}
	req.ContentLength = b.size
	req.GetBody = open
	if b.size == 0 {
		req.Body, req.GetBody = http.NoBody, func() (io.ReadCloser, error) { return http.NoBody, nil }
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// requestBody assembles -d and --data-binary. A lone --data-binary @FILE
// is streamed from the file; @- (stdin) is first copied to a temporary
// file, so its size is known and it can be sent again after a challenge
// without holding it in memory. Everything else is small form data.
func (o *getOptions) requestBody(e *env) (*getBody, func(), error) {
	cleanup := func() {}
	if len(o.data) == 0 {
		return nil, cleanup, nil
	}
	if len(o.data) == 1 && o.data[0].binary && strings.HasPrefix(o.data[0].value, "@") {
		name := o.data[0].value[1:]
		if name == "-" {
			tmp, err := os.CreateTemp("", "sesame-get-body-*")
			if err != nil {
				return nil, cleanup, err
			}
			cleanup = func() { os.Remove(tmp.Name()) }
			n, err := io.Copy(tmp, e.stdin)
			if cerr := tmp.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				cleanup()
				return nil, func() {}, fmt.Errorf("reading the body from stdin: %w", err)
			}
			return &getBody{path: tmp.Name(), size: n}, cleanup, nil
		}
		st, err := os.Stat(name)
		if err != nil {
			return nil, cleanup, fmt.Errorf("--data-binary: %w", err)
		}
		if !st.Mode().IsRegular() {
			return nil, cleanup, fmt.Errorf("--data-binary: %s is not a regular file", name)
		}
		return &getBody{path: name, size: st.Size()}, cleanup, nil
	}
	var parts [][]byte
	for _, d := range o.data {
		b := []byte(d.value)
		if strings.HasPrefix(d.value, "@") {
			var err error
			if d.value == "@-" {
				b, err = io.ReadAll(e.stdin)
			} else {
				b, err = os.ReadFile(d.value[1:])
			}
			if err != nil {
				return nil, cleanup, fmt.Errorf("-d %s: %w", d.value, err)
			}
			if !d.binary {
				// curl -d @file drops CR and LF: form files are
				// written one field per line.
				b = bytes.ReplaceAll(bytes.ReplaceAll(b, []byte("\r"), nil), []byte("\n"), nil)
			}
		}
		parts = append(parts, b)
	}
	return &getBody{data: bytes.Join(parts, []byte("&"))}, cleanup, nil
}

// classifyGetError maps a failed request to curl's exit status.
func classifyGetError(err error, proxyHost string, proxyCreds bool) error {
	var xe *exitError
	if errors.As(err, &xe) {
		return xe // CheckRedirect's own status
	}
	var pce *auth.ProxyConnectError
	var dns *net.DNSError
	var op *net.OpError
	switch {
	case errors.As(err, &pce) && pce.StatusCode == http.StatusProxyAuthRequired && proxyCreds:
		return exitf(exitAuthFailed, "proxy authentication failed: %v", err)
	case errors.As(err, &pce):
		return exitf(exitRecvError, "%v", err)
	case errors.Is(err, auth.ErrRejected):
		return exitf(exitAuthFailed, "%v", err)
	case isTimeout(err):
		return exitf(exitTimeout, "%v", err)
	case errors.As(err, &dns) && proxyHost != "" && strings.EqualFold(dns.Name, proxyHost):
		return exitf(exitResolveProxy, "%v", err)
	case errors.As(err, &dns):
		return exitf(exitResolveHost, "%v", err)
	case isTLSError(err):
		return exitf(exitTLS, "%v", err)
	case errors.As(err, &op) && op.Op == "dial", errors.Is(err, syscall.ECONNREFUSED):
		return exitf(exitConnect, "%v", err)
	}
	return err
}

// isTimeout reports a --max-time expiry or a network timeout.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || errors.Is(err, os.ErrDeadlineExceeded) ||
		(errors.As(err, &ne) && ne.Timeout())
}

// isTLSError reports a failed TLS handshake or certificate check.
func isTLSError(err error) bool {
	var (
		cve  *tls.CertificateVerificationError
		rhe  tls.RecordHeaderError
		ae   tls.AlertError
		uae  x509.UnknownAuthorityError
		he   x509.HostnameError
		cie  x509.CertificateInvalidError
		echo *tls.ECHRejectionError
	)
	if errors.As(err, &cve) || errors.As(err, &rhe) || errors.As(err, &ae) || errors.As(err, &uae) ||
		errors.As(err, &he) || errors.As(err, &cie) || errors.As(err, &echo) {
		return true
	}
	// Most handshake failures are plain errors; httpconn and auth name
	// the handshake in their wrapping.
	return strings.Contains(err.Error(), "TLS handshake")
}
