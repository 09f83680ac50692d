package main

import (
	"github.com/sesame-auth/sesame/auth"
)

// cacheUnreadable says why the Kerberos credential cache behind a
// Negotiate credential among creds could not be used (no cache, no TGT,
// an expired one, no KCM daemon), or "" when it could or there is none.
// A handshake that never started is not a refusal by the server.
func cacheUnreadable(creds []auth.Credential) string {
	for _, c := range creds {
		n, ok := c.(*auth.Negotiate)
		if !ok || n.Kerberos == nil || n.Kerberos.CCache() == "" {
			continue
		}
		if err := n.Kerberos.CacheError(); err != nil {
			return "no Kerberos ticket could be sent: " + err.Error()
		}
	}
	return ""
}
