// Package auth is sesame's HTTP authentication layer: it answers the 401
// and 407 challenges of servers and proxies that demand Negotiate
// (Kerberos), NTLM, Digest or Basic authentication.
//
// The main entry point is [Transport], an [net/http.RoundTripper]. A Go
// program gets through an authenticating corporate proxy by changing one
// line, the client's transport:
//
//	client := &http.Client{Transport: &auth.Transport{
//		ProxyCredentials: []auth.Credential{&auth.NTLM{Client: ntlm.Client{User: `CORP\alice`, Password: pw}}},
//	}}
//
// The Transport takes the proxy from the environment (HTTP_PROXY,
// HTTPS_PROXY, NO_PROXY) unless Proxy is set; it answers the proxy's 407
// for plain-HTTP requests and on the CONNECT that opens an HTTPS tunnel,
// and an origin's 401 with Credentials. It chooses the strongest scheme
// the peer offers among those it has credentials for (Negotiate > NTLM >
// Digest > Basic).
//
// NTLM and Negotiate authenticate a connection, not a request, so the
// Transport speaks HTTP/1.1 on connections of its own (package httpconn):
// all legs of a handshake share one connection, and an authenticated
// connection is reused without a new handshake, filed under the identity
// that authenticated it. Request bodies are replayed with GetBody; one
// that cannot be replayed, or is large, is held back with "Expect:
// 100-continue" until the peer has shown whether it will challenge, and
// the legs of a multi-leg handshake carry no body, so an upload is sent
// once. A credential a peer rejects is not tried there again (domain
// accounts lock out), and the 401 or 407 is handed to the caller.
//
// The building blocks are exported too:
//
//   - [ParseChallenges] splits WWW-Authenticate / Proxy-Authenticate
//     header values into [Challenge]s. It is the one parser every scheme
//     goes through, so it is strict about limits (a hostile proxy controls
//     its input) and lenient about the harmless oddities real servers send.
//   - [Credential] and [Handshake] are the interface each scheme
//     implements: [Basic], [Digest], [NTLM] and [Negotiate].
//   - [BasicCredentials] builds a Basic Authorization value (RFC 7617);
//     [DigestClient] answers Digest challenges (RFC 7616, with RFC 2069
//     compatibility), and [PreferDigest] picks the strongest of several.
//
// Errors wrap the sentinels in errors.go; test with [errors.Is].
package auth
