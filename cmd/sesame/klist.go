package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/sesame-auth/sesame/kerberos"
)

const klistUsage = "sesame klist [-c CACHE] [-l | -A]"

// klistTime is MIT klist's time format in the C locale.
const klistTime = "01/02/2006 15:04:05"

// runKlist lists a credential cache's tickets like MIT klist; -l lists
// the caches of the collection, -A the tickets of every cache.
func runKlist(e *env, args []string) error {
	fs := newFlagSet("sesame klist", klistUsage, e.stderr)
	cache := fs.String("c", "", "credential cache `NAME` (default: KRB5CCNAME, else default_ccache_name)")
	list := fs.Bool("l", false, "list the caches of the collection")
	all := fs.Bool("A", false, "show the tickets of every cache in the collection")
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) == 1 && *cache == "" {
		*cache = rest[0]
	} else if len(rest) > 0 {
		return usagef("at most one cache name")
	}
	kcfg, err := kerberos.LoadConfig(e.getenv("KRB5_CONFIG"))
	if err != nil {
		kcfg = nil // klist of a FILE: or DIR: cache needs no krb5.conf
	}
	name := *cache
	if name == "" {
		name = kerberos.DefaultCCacheName(kcfg, e.getenv)
	}
	col, err := kerberos.ResolveCCache(name, kcfg)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if *list || *all {
		infos, err := kerberos.ListCCaches(ctx, col)
		if err != nil {
			return err
		}
		if len(infos) == 0 {
			return fmt.Errorf("no credentials caches found in %s", col.Name())
		}
		if *list {
			fmt.Fprintf(e.stdout, "%-30s %s\n%-30s %s\n", "Principal name", "Cache name", "--------------", "----------")
			for _, in := range infos {
				p := "(unreadable)"
				if in.Contents != nil {
					p = in.Contents.Principal.String()
				}
				fmt.Fprintf(e.stdout, "%-30s %s\n", p, in.Cache.Name())
			}
			return nil
		}
		for i, in := range infos {
			if i > 0 {
				fmt.Fprintln(e.stdout)
			}
			if in.Err != nil {
				fmt.Fprintf(e.stdout, "Ticket cache: %s\n%v\n", in.Cache.Name(), in.Err)
				continue
			}
			printCache(e.stdout, in.Cache.Name(), in.Contents)
		}
		return nil
	}
	c, err := col.Primary(ctx)
	if err != nil {
		return err
	}
	cc, err := c.Load(ctx)
	if err != nil {
		return err
	}
	printCache(e.stdout, c.Name(), cc)
	return nil
}

func printCache(w io.Writer, name string, cc *kerberos.CCacheContents) {
	fmt.Fprintf(w, "Ticket cache: %s\nDefault principal: %s\n\n", name, cc.Principal)
	fmt.Fprintf(w, "%-20s %-20s %s\n", "Valid starting", "Expires", "Service principal")
	for _, cr := range cc.Credentials {
		if cr.IsConfig() {
			continue
		}
		start := cr.StartTime
		if start.IsZero() {
			start = cr.AuthTime
		}
		fmt.Fprintf(w, "%-20s %-20s %s\n", start.Local().Format(klistTime), cr.EndTime.Local().Format(klistTime), cr.Server)
		if !cr.RenewTill.IsZero() {
			fmt.Fprintf(w, "\trenew until %s\n", cr.RenewTill.Local().Format(klistTime))
		}
	}
}
