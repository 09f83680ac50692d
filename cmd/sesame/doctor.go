package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sesame-auth/sesame/auth"
	"github.com/sesame-auth/sesame/config"
	"github.com/sesame-auth/sesame/proxy"
)

const doctorUsage = `sesame doctor [--url URL] [proxy flags: --config, --upstream, --user, --password-env, ...]

Finds the proxy settings in effect (environment, configuration file), and for
each upstream proxy: connects, asks without credentials to see which
schemes it offers, then tries each configured credential once (never again
on failure: domain accounts lock out). Prints a verdict and a suggested
configuration. Exit status 0 when a working way through was found, 1 if not.`

// doctorTimeout bounds each probe.
const doctorTimeout = 15 * time.Second

// runDoctor diagnoses the way through the upstream proxy.
func runDoctor(e *env, args []string) error {
	fs := newFlagSet("sesame doctor", doctorUsage, e.stderr)
	pf := newProxyFlags(fs, "listen", "allow", "admin", "ntlm-to-basic", "allow-localhost-targets", "sanitize-mutual-error")
	probe := fs.String("url", "http://example.com/", "the URL to fetch through each upstream")
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("unexpected argument %q", rest[0])
	}
	probeURL, err := url.Parse(*probe)
	if err != nil || probeURL.Host == "" || probeURL.Scheme != "http" {
		return usagef("--url %q: an http:// URL (https goes through CONNECT, which hides the proxy's answer details)", *probe)
	}
	w := e.stdout
	fmt.Fprintln(w, "== Proxy settings")
	for _, k := range []string{"HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy", "SESAME_CONFIG"} {
		if v := e.getenv(k); v != "" {
			fmt.Fprintf(w, "  %s=%s\n", k, redactURL(v))
		}
	}
	cfg, _, err := pf.config(e)
	if err != nil {
		return err
	}
	if *pf.configFile != "" {
		fmt.Fprintf(w, "  config file: %s\n", *pf.configFile)
	}
	writeSettings(w, cfg, pf.sources)
	if len(cfg.Upstreams) == 0 || len(cfg.Upstreams) == 1 && isDirectRoute(cfg.Upstreams[0]) {
		fmt.Fprintln(w, "  no upstream proxy configured or in the environment: everything would go DIRECT")
		fmt.Fprintln(w, "\nVerdict: nothing to check. Name the proxy with --upstream HOST:PORT (or HTTP_PROXY).")
		return &exitError{code: 1, err: fmt.Errorf("no upstream proxy"), quiet: true}
	}
	// With no user this is single sign-on: Negotiate from the Kerberos
	// credential cache, if there is one.
	creds, err := proxyCredentials(e, &pf.secret, &cfg.Auth)
	if err != nil {
		return err
	}
	if len(creds) > 0 {
		fmt.Fprintln(w, "  credentials:")
		for _, c := range creds {
			fmt.Fprintf(w, "    %s\n", credentialLabel(c))
			writeIdentities(w, c, "      ")
		}
	}
	type success struct {
		upstream string
		cred     auth.Credential
	}
	var works []success
	var noAuthNeeded []string
	for _, raw := range cfg.Upstreams {
		if isDirectRoute(raw) {
			continue
		}
		u, err := proxy.ParseUpstream(raw)
		if err != nil {
			fmt.Fprintf(w, "\n== Upstream %s\n  invalid: %v\n", raw, err)
			continue
		}
		fmt.Fprintf(w, "\n== Upstream %s\n", u.Host)
		start := time.Now()
		c, err := net.DialTimeout("tcp", u.Host, doctorTimeout)
		if err != nil {
			fmt.Fprintf(w, "  connect: FAILED: %v\n", err)
			continue
		}
		c.Close()
		fmt.Fprintf(w, "  connect: ok (%v)\n", time.Since(start).Round(100*time.Microsecond))

		resp, err := doctorFetch(u, probeURL, nil, nil)
		if err != nil {
			fmt.Fprintf(w, "  request without credentials: FAILED: %v\n", err)
			continue
		}
		fmt.Fprintf(w, "  request without credentials: %s\n", resp.Status)
		if resp.StatusCode != http.StatusProxyAuthRequired {
			noAuthNeeded = append(noAuthNeeded, u.Host)
			fmt.Fprintln(w, "  the proxy does not ask for authentication")
			continue
		}
		chs, err := auth.ParseChallenges(resp.Header.Values("Proxy-Authenticate"))
		if err != nil {
			fmt.Fprintf(w, "  its challenge does not parse: %v\n", err)
			continue
		}
		var offered []string
		for _, ch := range chs {
			s := ch.Scheme
			if r := ch.Param("realm"); r != "" {
				s += fmt.Sprintf(" (realm %q)", r)
			}
			offered = append(offered, s)
		}
		fmt.Fprintf(w, "  offers: %s\n", strings.Join(offered, ", "))
		if len(creds) == 0 {
			fmt.Fprintln(w, "  no credentials to try: no Kerberos ticket (kinit) and no --user with a secret")
			continue
		}
		for _, cred := range creds {
			if !offers(chs, cred.Scheme()) {
				fmt.Fprintf(w, "  %s: not offered\n", credentialLabel(cred))
				continue
			}
			rep := &auth.Report{}
			resp, err := doctorFetch(u, probeURL, cred, rep)
			switch {
			case err != nil:
				fmt.Fprintf(w, "  %s: FAILED: %v\n", credentialLabel(cred), err)
				writeIdentities(w, cred, "    ")
			case resp.StatusCode == http.StatusProxyAuthRequired:
				fmt.Fprintf(w, "  %s: REJECTED (%s): wrong password, user or domain? Not tried again.\n", credentialLabel(cred), resp.Status)
				writeIdentities(w, cred, "    ")
			default:
				// Which mechanism and principal answered: Kerberos or
				// NTLM inside Negotiate, and whose ticket.
				how := ""
				if rep.ProxyMechanism != "" {
					how = fmt.Sprintf(", %s as %s", rep.ProxyMechanism, rep.ProxyIdentity)
				}
				fmt.Fprintf(w, "  %s: ok (%s)%s\n", credentialLabel(cred), resp.Status, how)
				writeIdentities(w, cred, "    ")
				if src := credentialSource(cred); src != "" {
					fmt.Fprintf(w, "    credentials from %s\n", src)
				}
				works = append(works, success{u.Host, cred})
			}
		}
	}

	fmt.Fprintln(w)
	switch {
	case len(works) > 0:
		best := works[0]
		fmt.Fprintf(w, "Verdict: works through %s with %s.\n\nSuggested configuration (sesame proxy --config FILE):\n\n", best.upstream, credentialLabel(best.cred))
		var ups []string
		for _, s := range works {
			if !contains(ups, s.upstream) {
				ups = append(ups, s.upstream)
			}
		}
		suggest := config.Default()
		suggest.Upstreams = ups
		suggest.NoProxy = cfg.NoProxy
		suggest.Auth = config.Auth{Schemes: []string{strings.ToLower(best.cred.Scheme())}, User: cfg.Auth.User, Domain: cfg.Auth.Domain,
			NTHash: cfg.Auth.NTHash, NTLMv2Hash: cfg.Auth.NTLMv2Hash, PasswordEnv: cfg.Auth.PasswordEnv}
		// Only what differs from the defaults: the file then says what is
		// particular to this network.
		b, err := suggest.MarshalChanges()
		if err != nil {
			return err
		}
		w.Write(b)
		if suggest.Auth.NTHash == "" && suggest.Auth.NTLMv2Hash == "" && suggest.Auth.PasswordEnv == "" {
			fmt.Fprintln(w, "\n# Add the secret: auth.nt_hash from `sesame hash --user ...`, or auth.password_env.")
		}
		return nil
	case len(noAuthNeeded) > 0:
		fmt.Fprintf(w, "Verdict: %s answered without authentication; sesame proxy --upstream %s works as a plain forwarder.\n", strings.Join(noAuthNeeded, ", "), noAuthNeeded[0])
		return nil
	default:
		fmt.Fprintln(w, "Verdict: no working way through was found; see the lines above.")
		return &exitError{code: 1, err: fmt.Errorf("no working way through"), quiet: true}
	}
}

// doctorFetch makes one request through the upstream with at most one
// credential, on a Transport of its own so that nothing is retried.
func doctorFetch(upstream, target *url.URL, cred auth.Credential, rep *auth.Report) (*http.Response, error) {
	tr := &auth.Transport{Proxy: http.ProxyURL(upstream)}
	if cred != nil {
		tr.ProxyCredentials = []auth.Credential{cred}
	}
	defer tr.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(context.Background(), doctorTimeout)
	defer cancel()
	if rep != nil {
		ctx = auth.WithReport(ctx, rep)
	}
	req, err := http.NewRequestWithContext(ctx, "GET", target.String(), nil)
	if err != nil {
		return nil, err
	}
	resp, err := tr.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	io.Copy(io.Discard, io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	return resp, nil
}

func offers(chs []auth.Challenge, scheme string) bool {
	for _, ch := range chs {
		if strings.EqualFold(ch.Scheme, scheme) {
			return true
		}
	}
	return false
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// redactURL hides a password in a proxy URL from the environment.
func redactURL(v string) string {
	if u, err := url.Parse(v); err == nil && u.User != nil {
		return u.Redacted()
	}
	return v
}
