package sspi

import "errors"

// Sentinel errors. Errors of this package wrap one of them (and the
// auth sentinels the transport acts on); test with errors.Is.
var (
	// ErrNoCredentials reports that the security package has no
	// credentials to offer: no Kerberos ticket for the logged-on user and
	// no KDC to get one from (SEC_E_NO_CREDENTIALS), or a logon session
	// without NTLM secrets.
	ErrNoCredentials = errors.New("sspi: no credentials")
	// ErrPackageUnavailable reports a security package Windows does not
	// have (SEC_E_SECPKG_NOT_FOUND): NTLM under Wine without Samba's
	// ntlm_auth, or NTLM disabled by policy.
	ErrPackageUnavailable = errors.New("sspi: security package unavailable")
	// ErrLogonDenied reports explicit credentials the security package
	// or the KDC refused (SEC_E_LOGON_DENIED).
	ErrLogonDenied = errors.New("sspi: logon denied")
	// ErrTargetUnknown reports a service principal the KDC does not know
	// (SEC_E_TARGET_UNKNOWN, SEC_E_WRONG_PRINCIPAL).
	ErrTargetUnknown = errors.New("sspi: target unknown")
	// ErrHandshake reports any other failure of a security call.
	ErrHandshake = errors.New("sspi: handshake failed")
	// ErrCertificateNotFound reports that no certificate in the Windows
	// stores matched a thumbprint or subject.
	ErrCertificateNotFound = errors.New("sspi: certificate not found")
	// ErrNotWindows reports a use of SSPI on another system.
	ErrNotWindows = errors.New("sspi: Windows only")
)
