// Package winbind verifies NTLM logons against an Active Directory domain
// through Samba's winbindd, so a server stores no password hashes: the
// domain controller checks the client's response, as squid does with
// ntlm_auth.
//
// A [Verifier] keeps a small pool of long-lived
// `ntlm_auth --helper-protocol=ntlm-server-1` processes, each answering
// one request at a time, and asks wbinfo for the account's SID, canonical
// name and group SIDs. It implements [ntlm.CredentialStore] and
// [ntlm.ResponseVerifier], so it plugs into [ntlm.Server] as its Store.
//
// ntlm_auth talks to winbindd through the privileged pipe under
// /run/samba/winbindd (libwbclient does not let the path be changed): the
// server runs as root or in winbindd_privileged's group. Where winbindd
// runs in another mount or network namespace, set Verifier.Command to a
// wrapper that enters it.
package winbind
