package main

import (
	"context"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/sesame-auth/sesame/kerberos"
)

// negotiateHint is the one line `sesame get` prints when a server's 401
// offers Negotiate, no credentials were offered (no -u), and the
// credential cache holds a ticket that could answer: curl users expect
// single sign-on to need asking for (-u :), but should learn that it is
// one flag away. "" when there is nothing to say.
func negotiateHint(getenv func(string) string, resp *http.Response) string {
	offered := false
	for _, s := range challengeSchemes(resp.Header.Values("WWW-Authenticate")) {
		offered = offered || strings.EqualFold(s, "Negotiate")
	}
	if !offered {
		return ""
	}
	principal := cachedPrincipal(getenv)
	if principal == "" {
		return ""
	}
	return fmt.Sprintf("sesame: the server offers Negotiate; -u : would use the ticket of %s", principal)
}

// cachedPrincipal names the principal of the default credential cache
// when it holds a TGT still valid, else "".
func cachedPrincipal(getenv func(string) string) string {
	kcfg, err := kerberos.LoadConfig(getenv("KRB5_CONFIG"))
	if err != nil {
		return ""
	}
	col, err := kerberos.ResolveCCache(kerberos.DefaultCCacheName(kcfg, getenv), kcfg)
	if err != nil {
		return ""
	}
	// A KCM daemon that does not answer must not hold up the output.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	_, cc, err := kerberos.FindCCache(ctx, col, "")
	if err != nil {
		return ""
	}
	if tgt := cc.TGT(); tgt == nil || !tgt.EndTime.After(time.Now()) {
		return ""
	}
	return cc.Principal.String()
}
