package main

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/sesame-auth/sesame/auth"
	"github.com/sesame-auth/sesame/config"
	"github.com/sesame-auth/sesame/kerberos"
	"github.com/sesame-auth/sesame/proxy"
)

// proxyAccount is what `sesame proxy` knows of its upstream account
// besides the credentials: where the secret came from, so that a reload
// can tell a corrected one and a refusal can say how to fix it.
type proxyAccount struct {
	// source: "keyring", "prompt", "stdin", "env", "config", "hash", or
	// "" (no account: single sign-on or pass-through).
	source  string
	account string // DOMAIN\user as given
	// password is the one in use (memory only; never logged), to tell
	// whether the keyring holds another one on reload.
	password string
	// reprompt, for a password typed on a terminal, hears of its
	// refusal: the reload loop then asks again.
	reprompt chan auth.Rejection
}

// knownSecret is a password already in hand for a rebuilt proxy: read
// from the keyring on reload, or typed again.
type knownSecret struct{ password, source string }

// hint says how to correct a refused credential.
func (a *proxyAccount) hint(cfg *config.Config) string {
	pid := os.Getpid()
	switch a.source {
	case "keyring":
		return fmt.Sprintf("store the right password with `sesame login --user %s`, then reload with `kill -HUP %d`", shellQuote(a.account), pid)
	case "prompt":
		return fmt.Sprintf("type the right password where sesame runs (it asks again), or store it with `sesame login --user %s` and restart sesame", shellQuote(a.account))
	case "config":
		return fmt.Sprintf("correct auth.password in the configuration, then reload with `kill -HUP %d`", pid)
	case "env":
		return fmt.Sprintf("correct the password in $%s and restart sesame, or store it with `sesame login --user %s` and remove auth.password_env", cfg.Auth.PasswordEnv, shellQuote(a.account))
	case "hash":
		return fmt.Sprintf("make a new hash with `sesame hash` and put it in the configuration, then reload with `kill -HUP %d`", pid)
	case "stdin":
		return "restart sesame with the right password on stdin"
	}
	if cfg.NTLMToBasic {
		return ""
	}
	// Single sign-on: the ticket in the credential cache.
	return fmt.Sprintf("get a ticket the proxy accepts with kinit (or name an account with `sesame login --user`), then reload with `kill -HUP %d`", pid)
}

// secretOnReload decides what password a reload uses when the
// configuration names no other secret: one typed after a refusal, a new
// one in the keyring (`sesame login`), else the one in use (stdin and a
// prompt cannot be read again). changed reports a password that differs
// from the one in use.
func (a *proxyAccount) secretOnReload(e *env, cfg, next *config.Config, typed knownSecret) (known knownSecret, changed bool) {
	if a == nil || a.source == "" || next.Auth.User != cfg.Auth.User || next.Auth.Domain != cfg.Auth.Domain {
		return knownSecret{}, false
	}
	switch {
	case typed.password != "":
		return typed, typed.password != a.password
	case a.source == "keyring":
		pw, err := keyringPassword(e, a.account)
		if err != nil || pw == "" {
			return knownSecret{a.password, a.source}, false
		}
		return knownSecret{pw, "keyring"}, pw != a.password
	case a.source == "prompt" || a.source == "stdin":
		return knownSecret{a.password, a.source}, false
	}
	return knownSecret{}, false
}

// maxPasswordTries bounds how often a password typed at start-up is
// asked again after the upstream refused it.
const maxPasswordTries = 3

// checkTypedPassword tries a password read at start-up (typed at the
// prompt, or from --password-stdin) once against the upstream, as
// `sesame doctor` does, so that a typo shows at once rather than as
// failed requests later: on a terminal it is asked for again, else the
// refusal is logged (loudly) and the proxy runs on.
func checkTypedPassword(e *env, cfg *config.Config, secret *secretFlags, logger *slog.Logger, srv *proxy.Server, acct *proxyAccount) (*proxy.Server, *proxyAccount, error) {
	if acct.source != "prompt" && acct.source != "stdin" {
		return srv, acct, nil
	}
	for try := 1; ; try++ {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		refused, err := srv.CheckCredentials(ctx)
		cancel()
		if err != nil {
			logger.Warn("could not check the password with the upstream proxy", "err", err)
			return srv, acct, nil
		}
		if len(refused) == 0 || acct.source != "prompt" || !e.stdinTerminal {
			return srv, acct, nil
		}
		if try >= maxPasswordTries {
			srv.Close()
			return nil, nil, fmt.Errorf("the upstream proxy %s refused the password for %s %d times", refused[0].Upstream, acct.account, try)
		}
		fmt.Fprintf(e.stderr, "sesame: the upstream proxy %s refused the password for %s.\n", refused[0].Upstream, acct.account)
		pw, err := readPassword(e, "Password for "+acct.account+": ")
		if err != nil {
			return nil, nil, err
		}
		srv.Close()
		if srv, acct, err = newProxyServerAccount(e, cfg, secret, logger, nil, knownSecret{pw, "prompt"}); err != nil {
			return nil, nil, err
		}
	}
}

// waitingSSO is single sign-on from the default credential cache before
// there is one: a Negotiate credential that cannot start (and is passed
// over) until kinit writes the cache, and is then used without a restart.
// nil without a krb5.conf or with a cache type sesame cannot read
// (API:, MSLSA:).
// spn and gss are those of [auth] (mech neither ntlm nor kerberos).
func waitingSSO(e *env, spn string, gss gssOptions) auth.Credential {
	kcfg, err := kerberos.LoadConfig(e.getenv("KRB5_CONFIG"))
	if err != nil {
		return nil
	}
	k, err := kerberos.NewFromCCache(kerberos.DefaultCCacheName(kcfg, e.getenv), kcfg)
	if err != nil {
		return nil
	}
	n := &auth.Negotiate{Kerberos: k, SPN: spn}
	if gss.apply(n) != nil {
		return nil
	}
	return n
}

// renewSSO keeps the single sign-on TGT of a proxy without an account
// fresh: renewed before it expires and stored back into the user's
// cache, and once renewal is over, replaced with the password `sesame
// login` stored for the cache's principal — no restart, no prompt.
func renewSSO(e *env, creds []auth.Credential, logger *slog.Logger) {
	for _, c := range creds {
		if n, ok := c.(*auth.Negotiate); ok && n.Kerberos != nil && n.Kerberos.CCache() != "" {
			n.Kerberos.StartRenewal(kerberos.RenewOptions{Password: keyringKerberosPassword(e), Logger: logger})
		}
	}
}

// keyringKerberosPassword looks a principal's password up in the OS
// keyring, under "user@REALM" and then the bare user name, the names
// `sesame login --user` would have been given.
func keyringKerberosPassword(e *env) kerberos.PasswordFunc {
	return func(_ context.Context, principal string) (string, error) {
		pw, err := keyringPassword(e, principal)
		if err == nil && pw != "" {
			return pw, nil
		}
		if name, _, ok := strings.Cut(principal, "@"); ok {
			if pw, err2 := keyringPassword(e, name); err2 == nil && pw != "" {
				return pw, nil
			}
		}
		return "", fmt.Errorf("no password for %s in the OS keyring: %w", principal, err)
	}
}
