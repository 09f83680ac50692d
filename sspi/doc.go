// Package sspi answers NTLM and Negotiate challenges through Windows'
// Security Support Provider Interface (secur32.dll): single sign-on as
// the logged-on user, with the Negotiate, Kerberos and NTLM security
// packages, the way browsers and px do.
//
// [Credential] implements auth.Credential on Windows only; elsewhere the
// package holds just the portable pieces (its errors and the token
// classification it relies on), so that code naming it builds everywhere.
// Nothing here panics or touches the system at import: secur32.dll is
// loaded on first use, and a package Windows lacks (NTLM under Wine
// without winbind) is an error of the handshake that needs it.
package sspi
