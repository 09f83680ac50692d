//go:build windows

package sspi

import (
	"errors"
	"fmt"
	"unsafe"

	"golang.org/x/sys/windows"
)

// secur32.dll is loaded on the first call, never at import: a system
// without it (or without a package) fails a handshake, not the program.
var (
	secur32                       = windows.NewLazySystemDLL("secur32.dll")
	procAcquireCredentialsHandle  = secur32.NewProc("AcquireCredentialsHandleW")
	procFreeCredentialsHandle     = secur32.NewProc("FreeCredentialsHandle")
	procInitializeSecurityContext = secur32.NewProc("InitializeSecurityContextW")
	procDeleteSecurityContext     = secur32.NewProc("DeleteSecurityContext")
	procCompleteAuthToken         = secur32.NewProc("CompleteAuthToken")
	procFreeContextBuffer         = secur32.NewProc("FreeContextBuffer")
	procQueryContextAttributes    = secur32.NewProc("QueryContextAttributesW")
)

// secHandle is CredHandle and CtxtHandle.
type secHandle struct{ lower, upper uintptr }

func (h *secHandle) isZero() bool { return h.lower == 0 && h.upper == 0 }

// secBuffer is SecBuffer.
type secBuffer struct {
	size  uint32
	typ   uint32
	bytes *byte
}

// secBufferDesc is SecBufferDesc.
type secBufferDesc struct {
	version uint32
	count   uint32
	buffers *secBuffer
}

// winntAuthIdentity is SEC_WINNT_AUTH_IDENTITY_W: lengths in characters,
// without the terminating NUL.
type winntAuthIdentity struct {
	user           *uint16
	userLength     uint32
	domain         *uint16
	domainLength   uint32
	password       *uint16
	passwordLength uint32
	flags          uint32
}

// Constants of sspi.h / sspi.h's ISC_REQ_* and SECBUFFER_*.
const (
	secpkgCredOutbound          = 2
	securityNativeDrep          = 0x10
	secbufferVersion            = 0
	secbufferToken              = 2
	secbufferChannelBindings    = 14
	secWinntAuthIdentityUnicode = 2

	iscReqDelegate        = 0x1
	iscReqMutualAuth      = 0x2
	iscReqReplayDetect    = 0x4
	iscReqSequenceDetect  = 0x8
	iscReqConfidentiality = 0x10
	iscReqAllocateMemory  = 0x100
	iscReqConnection      = 0x800
	iscReqIntegrity       = 0x10000

	iscRetDelegate   = 0x1
	iscRetMutualAuth = 0x2

	secpkgAttrNames = 1

	// maxToken is the largest token a security package may produce
	// (Kerberos's MaxTokenSize registry limit).
	maxToken = 65535
)

// SECURITY_STATUS values sesame acts on.
const (
	secEOK                  = 0
	secIContinueNeeded      = 0x00090312
	secICompleteNeeded      = 0x00090313
	secICompleteAndContinue = 0x00090314
	secELogonDenied         = 0x8009030C
	secENoCredentials       = 0x8009030E
	secESecpkgNotFound      = 0x80090305
	secETargetUnknown       = 0x80090303
	secEWrongPrincipal      = 0x80090322
	secENoAuthority         = 0x80090311
	secEInvalidToken        = 0x80090308
	secEInvalidHandle       = 0x80090301
	secEInternalError       = 0x80090304
	secEUnsupportedFunction = 0x80090302
	secEMutualAuthFailed    = 0x80090363
)

// statusError is a failed SECURITY_STATUS.
type statusError struct {
	call   string
	status uint32
}

func (e *statusError) Error() string {
	name := statusNames[e.status]
	if name == "" {
		name = "SECURITY_STATUS"
	}
	return fmt.Sprintf("%s: %s (%#08x)", e.call, name, e.status)
}

// Unwrap maps the status to this package's sentinels.
func (e *statusError) Unwrap() error {
	switch e.status {
	case secENoCredentials, secENoAuthority:
		return ErrNoCredentials
	case secESecpkgNotFound:
		return ErrPackageUnavailable
	case secELogonDenied:
		return ErrLogonDenied
	case secETargetUnknown, secEWrongPrincipal:
		return ErrTargetUnknown
	}
	return ErrHandshake
}

var statusNames = map[uint32]string{
	secELogonDenied:         "SEC_E_LOGON_DENIED",
	secENoCredentials:       "SEC_E_NO_CREDENTIALS",
	secESecpkgNotFound:      "SEC_E_SECPKG_NOT_FOUND",
	secETargetUnknown:       "SEC_E_TARGET_UNKNOWN",
	secEWrongPrincipal:      "SEC_E_WRONG_PRINCIPAL",
	secENoAuthority:         "SEC_E_NO_AUTHENTICATING_AUTHORITY",
	secEInvalidToken:        "SEC_E_INVALID_TOKEN",
	secEInvalidHandle:       "SEC_E_INVALID_HANDLE",
	secEInternalError:       "SEC_E_INTERNAL_ERROR",
	secEUnsupportedFunction: "SEC_E_UNSUPPORTED_FUNCTION",
	secEMutualAuthFailed:    "SEC_E_MUTUAL_AUTH_FAILED",
}

// call runs a secur32 procedure that returns a SECURITY_STATUS. A DLL or
// export that cannot be found is an error, never a panic.
//
// Callers convert pointers to uintptr in the argument list, and
// go:uintptrescapes makes those objects live on the heap and stay alive
// until call returns, as LazyProc.Call's own directive does for its
// callers. Without it (a plain wrapper loses LazyProc.Call's guarantee)
// the compiler keeps SecBufferDesc, the attributes and the like on the
// goroutine's stack; when that stack grows on the way to the system call
// it is copied elsewhere, the package writes the output token's length
// and ISC_RET_* into the old copy, and the caller reads its stale values:
// a Kerberos handshake whose AP-REP was verified then showed attributes
// 0 and failed mutual authentication, now and then, under load.
//
//go:uintptrescapes
func call(p *windows.LazyProc, args ...uintptr) (uint32, error) {
	if err := p.Find(); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrPackageUnavailable, err)
	}
	r, _, _ := p.Call(args...)
	return uint32(r), nil
}

// acquireCredentials calls AcquireCredentialsHandleW for outbound use;
// id nil means the logged-on user.
func acquireCredentials(pkg string, id *winntAuthIdentity) (secHandle, error) {
	var h secHandle
	var expiry int64
	p, err := windows.UTF16PtrFromString(pkg)
	if err != nil {
		return h, fmt.Errorf("%w: package name: %w", ErrHandshake, err)
	}
	st, err := call(procAcquireCredentialsHandle, 0, uintptr(unsafe.Pointer(p)), secpkgCredOutbound, 0,
		uintptr(unsafe.Pointer(id)), 0, 0, uintptr(unsafe.Pointer(&h)), uintptr(unsafe.Pointer(&expiry)))
	if err != nil {
		return h, err
	}
	if st != secEOK {
		return secHandle{}, &statusError{"AcquireCredentialsHandle(" + pkg + ")", st}
	}
	return h, nil
}

func freeCredentials(h *secHandle) {
	if h.isZero() {
		return
	}
	call(procFreeCredentialsHandle, uintptr(unsafe.Pointer(h)))
	*h = secHandle{}
}

func deleteContext(h *secHandle) {
	if h.isZero() {
		return
	}
	call(procDeleteSecurityContext, uintptr(unsafe.Pointer(h)))
	*h = secHandle{}
}

// initResult is what one InitializeSecurityContext call produced.
type initResult struct {
	status uint32
	out    []byte // copied out of the package's buffer, which is freed
	attrs  uint32 // ISC_RET_* flags
}

// initialize calls InitializeSecurityContextW. ctx is the context handle:
// zero on the first call (then it is filled in). in nil passes no input
// buffer at all; cb, if set, adds a SECBUFFER_CHANNEL_BINDINGS.
func initialize(cred, ctx *secHandle, target *uint16, flags uint32, in, cb []byte) (initResult, error) {
	var inBufs [2]secBuffer
	n := 0
	if in != nil {
		inBufs[n] = secBuffer{size: uint32(len(in)), typ: secbufferToken, bytes: bytesPtr(in)}
		n++
	}
	if cb != nil {
		inBufs[n] = secBuffer{size: uint32(len(cb)), typ: secbufferChannelBindings, bytes: bytesPtr(cb)}
		n++
	}
	var inDesc *secBufferDesc
	if n > 0 {
		inDesc = &secBufferDesc{version: secbufferVersion, count: uint32(n), buffers: &inBufs[0]}
	}
	// The caller's buffer, not ISC_REQ_ALLOCATE_MEMORY: Wine 8's
	// Kerberos provider does not support that flag ("flags 0x100 not
	// supported"), fails with its buffer too small, and Negotiate then
	// falls back to NTLM. Windows takes a buffer of cbMaxToken (48,000
	// for Kerberos by default, MaxTokenSize at most 65,535).
	outMem := make([]byte, maxToken)
	outBuf := secBuffer{size: maxToken, typ: secbufferToken, bytes: &outMem[0]}
	outDesc := secBufferDesc{version: secbufferVersion, count: 1, buffers: &outBuf}
	var attrs uint32
	var expiry int64
	prev := uintptr(0)
	if !ctx.isZero() {
		prev = uintptr(unsafe.Pointer(ctx))
	}
	st, err := call(procInitializeSecurityContext, uintptr(unsafe.Pointer(cred)), prev, uintptr(unsafe.Pointer(target)),
		uintptr(flags), 0, securityNativeDrep, uintptr(unsafe.Pointer(inDesc)), 0,
		uintptr(unsafe.Pointer(ctx)), uintptr(unsafe.Pointer(&outDesc)), uintptr(unsafe.Pointer(&attrs)), uintptr(unsafe.Pointer(&expiry)))
	if err != nil {
		return initResult{}, err
	}
	r := initResult{status: st, attrs: attrs}
	if outBuf.size > 0 && outBuf.size <= maxToken {
		r.out = outMem[:outBuf.size:outBuf.size]
	}
	if r.status, r.out, err = completeToken(ctx, st, r.out); err != nil {
		return r, err
	}
	switch r.status {
	case secEOK, secIContinueNeeded:
		return r, nil
	}
	return r, &statusError{"InitializeSecurityContext", r.status}
}

// contextUserName returns SECPKG_ATTR_NAMES of a context: the client's
// name (DOMAIN\user or user@REALM), "" if the package does not say.
// completeToken finishes out with CompleteAuthToken when status asks
// for it (NTLM on some Windows versions, either side) and returns the
// status the caller goes on with: SEC_E_OK or SEC_I_CONTINUE_NEEDED.
// Other statuses are returned as they are.
func completeToken(ctx *secHandle, status uint32, out []byte) (uint32, []byte, error) {
	if status != secICompleteNeeded && status != secICompleteAndContinue {
		return status, out, nil
	}
	if len(out) > 0 {
		b := secBuffer{size: uint32(len(out)), typ: secbufferToken, bytes: &out[0]}
		d := secBufferDesc{version: secbufferVersion, count: 1, buffers: &b}
		cs, err := call(procCompleteAuthToken, uintptr(unsafe.Pointer(ctx)), uintptr(unsafe.Pointer(&d)))
		if err != nil {
			return status, out, err
		}
		if cs != secEOK {
			return status, out, &statusError{"CompleteAuthToken", cs}
		}
		out = out[:b.size]
	}
	if status == secICompleteNeeded {
		return secEOK, out, nil
	}
	return secIContinueNeeded, out, nil
}

func contextUserName(ctx *secHandle) string {
	var names struct{ user *uint16 }
	st, err := call(procQueryContextAttributes, uintptr(unsafe.Pointer(ctx)), secpkgAttrNames, uintptr(unsafe.Pointer(&names)))
	if err != nil || st != secEOK || names.user == nil {
		return ""
	}
	s := windows.UTF16PtrToString(names.user)
	call(procFreeContextBuffer, uintptr(unsafe.Pointer(names.user)))
	return s
}

func bytesPtr(b []byte) *byte {
	if len(b) == 0 {
		return nil
	}
	return &b[0]
}

// errIs reports whether err is a statusError with status st.
func errIs(err error, st uint32) bool {
	var se *statusError
	return errors.As(err, &se) && se.status == st
}
