package main

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/sesame-auth/sesame/kerberos"
)

const kinitUsage = "sesame kinit [-c CACHE] [--keytab FILE | --password-stdin | --password-env VAR | --keyring] [PRINCIPAL]"

// kinitTimeout bounds the login and the cache write.
const kinitTimeout = 60 * time.Second

// runKinit gets a TGT as MIT kinit does and stores it in the default
// cache (KRB5CCNAME or krb5.conf's default_ccache_name), whatever its
// type: FILE:, DIR:, KCM:, KEYRING: or MEMORY:.
func runKinit(e *env, args []string) error {
	fs := newFlagSet("sesame kinit", kinitUsage, e.stderr)
	cache := fs.String("c", "", "credential cache `NAME` (default: KRB5CCNAME, else default_ccache_name)")
	kt := fs.String("keytab", "", "log in with the key in keytab `FILE` instead of a password")
	stdin := fs.Bool("password-stdin", false, "read the password from the first line of stdin")
	penv := fs.String("password-env", "", "read the password from environment variable `VAR`")
	fromKeyring := fs.Bool("keyring", false, "use the password 'sesame login' stored in the OS keyring for PRINCIPAL")
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 1 {
		return usagef("at most one principal")
	}
	n := 0
	for _, b := range []bool{*kt != "", *stdin, *penv != "", *fromKeyring} {
		if b {
			n++
		}
	}
	if n > 1 {
		return usagef("--keytab, --password-stdin, --password-env and --keyring exclude each other")
	}
	kcfg, err := kerberos.LoadConfig(e.getenv("KRB5_CONFIG"))
	if err != nil {
		return err
	}
	name := *cache
	if name == "" {
		name = kerberos.DefaultCCacheName(kcfg, e.getenv)
	}
	col, err := kerberos.ResolveCCache(name, kcfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), kinitTimeout)
	defer cancel()
	user := ""
	if len(rest) == 1 {
		user = rest[0]
	} else if _, cc, err := kerberos.FindCCache(ctx, col, ""); err == nil {
		user = cc.Principal.String() // kinit with no name renews whoever the cache holds
	} else {
		user = e.getenv("USER")
	}
	principal, _ := kerberos.UserPrincipal(user, kcfg)
	var c *kerberos.Client
	switch {
	case *kt != "":
		c, err = kerberos.NewWithKeytab(principal, *kt, kcfg)
	default:
		var pw string
		switch {
		case *penv != "":
			if pw = e.getenv(*penv); pw == "" {
				return fmt.Errorf("environment variable %s is empty or not set", *penv)
			}
		case *fromKeyring:
			if err := keyringUsable(e); err != nil {
				return err
			}
			if pw, err = keyringPassword(e, user); err != nil {
				return fmt.Errorf("password of %s from the OS keyring: %w (store it with: sesame login --user %s)", user, err, user)
			}
		default:
			if pw, err = readPassword(e, "Password for "+principal+": "); err != nil {
				return err
			}
		}
		c, err = kerberos.NewWithPassword(principal, pw, kcfg)
	}
	if err != nil {
		return err
	}
	defer c.Close()
	contents, err := c.LoginContents(ctx)
	if err != nil {
		return err
	}
	dst, err := kinitTarget(ctx, col, contents.Principal.String())
	if err != nil {
		return err
	}
	if err := dst.Store(ctx, contents); err != nil {
		return err
	}
	if err := col.SetPrimary(ctx, dst); err != nil {
		return err
	}
	return nil
}

// kinitTarget picks the cache to write, as MIT kinit does: the cache of
// the principal in the collection, else the primary if it is empty or
// holds that principal, else a new cache.
func kinitTarget(ctx context.Context, col kerberos.CCacheCollection, principal string) (kerberos.CCache, error) {
	if c, _, err := kerberos.FindCCache(ctx, col, principal); err == nil {
		return c, nil
	}
	prim, err := col.Primary(ctx)
	if err != nil {
		return nil, err
	}
	if _, err := prim.Load(ctx); err != nil {
		if errors.Is(err, kerberos.ErrCacheEmpty) {
			return prim, nil
		}
		return nil, err
	}
	return col.New(ctx)
}
