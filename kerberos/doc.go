// Package kerberos is sesame's Kerberos V5 initiator: glue over
// github.com/jcmturner/gokrb5/v8 that adds what HTTP Negotiate (RFC 4559)
// needs and gokrb5 leaves out.
//
// A [Client] holds one principal's credentials, from one of three sources:
//
//   - a FILE credential cache written by kinit ([NewFromCCache]); it is
//     re-read when the file changes or its TGT expires, so a ticket that
//     appears or is renewed after the Client was made is picked up;
//   - a keytab ([NewWithKeytab]) or a password ([NewWithPassword]), with
//     which the Client asks the KDC for a TGT itself and again before it
//     expires.
//
// [Client.InitContext] builds the initiator's GSS-API token for a service
// principal (RFC 4121 section 4.1: an AP-REQ for a service ticket obtained
// with a TGS exchange, framed with the Kerberos mechanism OID and TOK_ID
// 0x0100, with the GSS checksum carrying the context flags and, when
// delegation is asked for and allowed, a forwarded TGT in a KRB-CRED).
// [SecContext] then verifies the acceptor's AP-REP (mutual authentication,
// [MutualRequired], [MutualOptional] or [MutualDisabled]) and makes and
// checks RFC 4121 MIC tokens for SPNEGO's mechListMIC.
//
// Service principal names follow the literal host name by default
// ([ServiceName]); DNS canonicalisation ([CanonicalHost]) is opt-in,
// because DNS would otherwise choose which key the client trusts.
//
// Configuration comes from KRB5_CONFIG or /etc/krb5.conf ([LoadConfig]).
// Credential caches of the types FILE:, DIR:, KCM: (sssd-kcm, Heimdal
// kcm), KEYRING: (Linux) and MEMORY: are read and written in pure Go
// ([ResolveCCache], [CCache]); API: and MSLSA: give an error wrapping
// [ErrCacheUnsupported].
//
// Errors wrap the sentinels of errors.go (test with errors.Is) and never
// contain keys or passwords.
package kerberos
