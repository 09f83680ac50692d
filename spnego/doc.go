// Package spnego implements the Simple and Protected GSS-API Negotiation
// mechanism of RFC 4178, as carried by HTTP "Negotiate" (RFC 4559): the
// NegTokenInit and NegTokenResp messages (plus Microsoft's NegTokenInit2
// with negHints, MS-SPNG 2.2.1), the mechListMIC that protects the
// negotiation against downgrades, and an initiator state machine that is
// neutral about the mechanism it negotiates.
//
// Mechanisms plug in through the small [Mechanism] interface. [NTLMMechanism]
// adapts the initiator of package ntlm; Kerberos lives in its own package and
// implements the same interface.
//
// Like package ntlm, spnego knows nothing of HTTP: [Initiator.Step] turns the
// acceptor's token into the next one to send, and carrying them in
// Authorization and WWW-Authenticate headers on one connection is the
// caller's job.
//
// Decoders bound every size ([MaxTokenSize], [MaxMechTypes]), never panic,
// and wrap the sentinel errors of errors.go so callers can test for them
// with errors.Is. [Parse] also recognises the raw NTLMSSP and Kerberos tokens
// some servers send under "Negotiate" instead of SPNEGO.
package spnego
