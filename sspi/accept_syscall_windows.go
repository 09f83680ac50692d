//go:build windows

package sspi

import (
	"unsafe"

	"golang.org/x/sys/windows"
)

var (
	procAcceptSecurityContext     = secur32.NewProc("AcceptSecurityContext")
	procQuerySecurityContextToken = secur32.NewProc("QuerySecurityContextToken")
)

// Constants of the acceptor side (sspi.h).
const (
	secpkgCredInbound = 1

	ascReqConnection      = 0x800
	ascReqMutualAuth      = 0x2
	ascReqReplayDetect    = 0x4
	ascReqSequenceDetect  = 0x8
	ascReqConfidentiality = 0x10
	ascReqIntegrity       = 0x20000
)

// acceptResult is what one AcceptSecurityContext call produced.
type acceptResult struct {
	status uint32
	out    []byte
	attrs  uint32
}

// acquireInbound calls AcquireCredentialsHandleW for inbound use: the
// credentials of the process's account (the machine account for a
// service), which Kerberos needs to decrypt tickets for its SPNs.
func acquireInbound(pkg string) (secHandle, error) {
	var h secHandle
	var expiry int64
	p, err := windows.UTF16PtrFromString(pkg)
	if err != nil {
		return h, err
	}
	st, err := call(procAcquireCredentialsHandle, 0, uintptr(unsafe.Pointer(p)), secpkgCredInbound, 0,
		0, 0, 0, uintptr(unsafe.Pointer(&h)), uintptr(unsafe.Pointer(&expiry)))
	if err != nil {
		return h, err
	}
	if st != secEOK {
		return secHandle{}, &statusError{"AcquireCredentialsHandle(" + pkg + ", inbound)", st}
	}
	return h, nil
}

// accept calls AcceptSecurityContext with the client's token and, if
// set, the channel bindings (SEC_CHANNEL_BINDINGS). ctx is zero on the
// first call and filled in by it.
func accept(cred, ctx *secHandle, in, cb []byte, flags uint32) (acceptResult, error) {
	var inBufs [2]secBuffer
	inBufs[0] = secBuffer{size: uint32(len(in)), typ: secbufferToken, bytes: bytesPtr(in)}
	n := 1
	if cb != nil {
		inBufs[1] = secBuffer{size: uint32(len(cb)), typ: secbufferChannelBindings, bytes: bytesPtr(cb)}
		n++
	}
	inDesc := secBufferDesc{version: secbufferVersion, count: uint32(n), buffers: &inBufs[0]}
	outMem := make([]byte, maxToken)
	outBuf := secBuffer{size: maxToken, typ: secbufferToken, bytes: &outMem[0]}
	outDesc := secBufferDesc{version: secbufferVersion, count: 1, buffers: &outBuf}
	var attrs uint32
	var expiry int64
	prev := uintptr(0)
	if !ctx.isZero() {
		prev = uintptr(unsafe.Pointer(ctx))
	}
	st, err := call(procAcceptSecurityContext, uintptr(unsafe.Pointer(cred)), prev, uintptr(unsafe.Pointer(&inDesc)),
		uintptr(flags), securityNativeDrep, uintptr(unsafe.Pointer(ctx)), uintptr(unsafe.Pointer(&outDesc)),
		uintptr(unsafe.Pointer(&attrs)), uintptr(unsafe.Pointer(&expiry)))
	if err != nil {
		return acceptResult{}, err
	}
	r := acceptResult{status: st, attrs: attrs}
	if outBuf.size > 0 && outBuf.size <= maxToken {
		r.out = append([]byte(nil), outMem[:outBuf.size]...)
	}
	if r.status, r.out, err = completeToken(ctx, st, r.out); err != nil {
		return r, err
	}
	switch r.status {
	case secEOK, secIContinueNeeded:
		return r, nil
	}
	return r, &statusError{"AcceptSecurityContext", r.status}
}

// contextToken returns the access token of an accepted context
// (QuerySecurityContextToken); the caller closes it.
func contextToken(ctx *secHandle) (windows.Token, error) {
	var t windows.Token
	st, err := call(procQuerySecurityContextToken, uintptr(unsafe.Pointer(ctx)), uintptr(unsafe.Pointer(&t)))
	if err != nil {
		return 0, err
	}
	if st != secEOK {
		return 0, &statusError{"QuerySecurityContextToken", st}
	}
	return t, nil
}
