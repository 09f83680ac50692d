// Package ntlm implements the NTLM authentication protocol of MS-NLMP: its
// three messages (NEGOTIATE, CHALLENGE, AUTHENTICATE), the NTLMv1, NTLMv1
// with extended session security and NTLMv2 responses, session keys, the
// message integrity code (MIC) and channel bindings, plus session security
// (signing and sealing).
//
// Both sides live here, as in golang.org/x/crypto/ssh: [Client] is the
// initiator that answers a server's challenge, and [Server] is the acceptor
// that issues challenges and verifies answers against a [CredentialStore].
// [Describe] turns any NTLM token into a readable dump for debugging.
//
// The package knows nothing of HTTP: NTLM authenticates a connection, and
// carrying tokens in headers on one connection is the caller's job.
//
// Defaults are the safe ones: the client sends only NTLMv2 and the server
// refuses NTLMv1 and LM unless told otherwise; a MIC announced by the client
// must be present and valid; comparisons of secrets run in constant time.
package ntlm
