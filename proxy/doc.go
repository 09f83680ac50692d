// Package proxy is sesame's local forward proxy: it accepts plain-HTTP
// requests in absolute form and CONNECT tunnels from tools such as pip,
// go, git, npm, curl and browsers, chooses a route for each (an upstream
// proxy from a static list with failover, or DIRECT for NoProxy hosts),
// and answers the upstream proxy's authentication challenge on the
// tools' behalf through an [auth.Transport].
//
// Upstream connections are pooled and stay authenticated, so an NTLM or
// Negotiate handshake happens once per upstream connection, not once per
// request, whichever client the request came from.
//
// By default only clients on loopback are served; [Server.AllowedClients]
// opens it to other networks (gateway mode).
package proxy
