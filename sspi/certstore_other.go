//go:build !windows

package sspi

import (
	"crypto/x509"
	"fmt"
	"runtime"
)

// FindCertificate looks certificates up in the Windows certificate
// stores; elsewhere it returns an error wrapping [ErrNotWindows].
func FindCertificate(query string) (*x509.Certificate, error) {
	return nil, fmt.Errorf("%w: no Windows certificate store on %s", ErrNotWindows, runtime.GOOS)
}
