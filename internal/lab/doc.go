// Package lab starts real, independent authentication peers for sesame's
// interop tests: programs nobody on this project wrote, so that a test
// passing means sesame speaks the protocol the way the rest of the world
// does, not merely the way its own other half expects.
//
// It follows the pattern of golang.org/x/crypto/ssh/test, which runs a real
// sshd from a templated config: each fixture renders its configuration from
// an embedded template into the test's own temporary directory, starts the
// peer in the foreground as a child process of the test, listens on
// 127.0.0.1 only on a free port, waits until it answers, and stops it (and
// every process it forked) in t.Cleanup. Nothing under /etc is changed and
// no system service is used, so tests can run in parallel and leave nothing
// behind.
//
// Fixtures:
//
//   - [StartApache]: Apache httpd with stock mod_auth_gssapi + gss-ntlmssp,
//     a real NTLMv2 verifier. Deliberately without any compatibility shim:
//     gss-ntlmssp rejects the compact messages some clients (curl, cntlm)
//     send, and sesame's client must work against it anyway.
//   - [StartKDC]: MIT krb5kdc with a realm of its own (default CORP.TEST),
//     users that need pre-authentication, HTTP/localhost and
//     HTTP/127.0.0.1 in a service keytab, a client krb5.conf without DNS
//     or reverse lookups, and [KDC.Kinit] for FILE ccaches.
//   - [StartSquid]: squid as an upstream proxy demanding Basic, Digest,
//     Negotiate (with a [KDC]) or NTLM (real gss-ntlmssp verification,
//     strict by default) or nothing; loopback destinations only, and an
//     access log that shows the handshakes per client connection
//     ([Squid.Connections]).
//   - [StartCntlm]: cntlm 0.92.3, the incumbent local NTLM proxy, in the
//     foreground, for side-by-side benchmarks (its compact NTLM messages
//     need a squid with NTLMShim).
//   - [ChromiumDumpDOM] and [ChromiumScreenshot]: headless Chromium with
//     all background traffic stopped or sent to loopback, optionally
//     through a proxy (loopback pages included).
//   - [StartSessionBus] and [StartSecretService]: a private D-Bus session
//     bus and gnome-keyring's Secret Service with an unlocked keyring in
//     the test's own HOME.
//   - [StartWine]: a private Wine prefix (with the bcryptprimitives.dll
//     shim Go needs) to run GOOS=windows binaries, services included.
//   - [StartADDC]: a real Active Directory (Samba AD DC: KDC with PACs
//     and group memberships, LDAP, DNS, winbindd) with squid demanding
//     Negotiate, NTLM (verified by the DC through winbind) and Basic, in a
//     network namespace the test creates (root; about 10 s to start).
//   - [Isolate]: re-runs a test in a network and mount namespace of its
//     own with a test-owned /etc/hosts (only loopback inside).
//
// Missing peers fail the test (via [Require]); they never skip it. A
// skipped interop test looks like a passing one in CI, which is how interop
// breakage goes unnoticed. scripts/install-test-deps.sh installs everything
// (Debian packages; as root).
package lab
