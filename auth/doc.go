// Package auth is sesame's HTTP authentication layer: it parses the
// challenges a server or proxy sends (RFC 7235) and answers them.
//
// The package will hold the client [net/http.RoundTripper] that answers 401 and
// 407 challenges (also on CONNECT), every scheme behind one interface (Basic,
// Digest, NTLM, Negotiate) and the server-side Middleware. For now it holds
// the first client pieces:
//
//   - [ParseChallenges] splits WWW-Authenticate / Proxy-Authenticate header
//     values into [Challenge]s. It is the one parser every scheme goes
//     through, so it is strict about limits (a hostile proxy controls its
//     input) and lenient about the harmless oddities real servers send.
//   - [BasicCredentials] builds a Basic Authorization value (RFC 7617).
//   - [DigestClient] answers Digest challenges (RFC 7616, with RFC 2069
//     compatibility), and [PreferDigest] picks the strongest of several.
//
// Deciding whether to send credentials at all (to which hosts, never Basic
// to an unexpected 401, see the project's security notes) is the caller's
// job: these functions only compute what to send.
//
// Errors wrap the sentinels in errors.go; test with [errors.Is].
package auth
