//go:build windows

package sspi

import (
	"crypto/x509"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"
	"unsafe"

	"golang.org/x/sys/windows"
)

// CertificateStores are the current user's system stores FindCertificate
// searches, in order: the personal store, then the trusted roots.
var CertificateStores = []string{"MY", "ROOT"}

// FindCertificate returns a certificate from the current user's system
// certificate stores ([CertificateStores]): by SHA-1 thumbprint (40 hex
// digits, spaces and colons ignored, as certmgr shows it) or else by a
// substring of its subject (CERT_FIND_SUBJECT_STR, case-insensitive).
// The first match wins; none is an error wrapping ErrCertificateNotFound.
func FindCertificate(query string) (*x509.Certificate, error) {
	q := strings.TrimSpace(query)
	if q == "" {
		return nil, fmt.Errorf("sspi: %w: empty certificate name", ErrCertificateNotFound)
	}
	thumb, isThumb := thumbprint(q)
	var tried []string
	for _, name := range CertificateStores {
		c, err := findIn(name, q, thumb, isThumb)
		if err != nil {
			tried = append(tried, fmt.Sprintf("%s: %v", name, err))
			continue
		}
		if c != nil {
			return c, nil
		}
		tried = append(tried, name+": no match")
	}
	what := "subject containing"
	if isThumb {
		what = "thumbprint"
	}
	return nil, fmt.Errorf("sspi: %w: %s %q in the current user's stores (%s)", ErrCertificateNotFound, what, q, strings.Join(tried, "; "))
}

// thumbprint reads q as a SHA-1 thumbprint.
func thumbprint(q string) ([]byte, bool) {
	h := strings.NewReplacer(" ", "", ":", "", "\u200e", "").Replace(q)
	if len(h) != 40 {
		return nil, false
	}
	b, err := hex.DecodeString(h)
	return b, err == nil
}

func findIn(store, q string, thumb []byte, isThumb bool) (*x509.Certificate, error) {
	name, err := windows.UTF16PtrFromString(store)
	if err != nil {
		return nil, err
	}
	h, err := windows.CertOpenSystemStore(0, name)
	if err != nil {
		return nil, fmt.Errorf("CertOpenSystemStore: %w", err)
	}
	defer windows.CertCloseStore(h, 0)
	enc := uint32(windows.X509_ASN_ENCODING | windows.PKCS_7_ASN_ENCODING)
	var ctx *windows.CertContext
	if isThumb {
		blob := windows.CryptHashBlob{Size: uint32(len(thumb)), Data: &thumb[0]}
		ctx, err = windows.CertFindCertificateInStore(h, enc, 0, windows.CERT_FIND_SHA1_HASH, unsafe.Pointer(&blob), nil)
	} else {
		s, err2 := windows.UTF16PtrFromString(q)
		if err2 != nil {
			return nil, err2
		}
		ctx, err = windows.CertFindCertificateInStore(h, enc, 0, windows.CERT_FIND_SUBJECT_STR, unsafe.Pointer(s), nil)
	}
	if err != nil {
		if errors.Is(err, windows.Errno(windows.CRYPT_E_NOT_FOUND)) {
			return nil, nil
		}
		return nil, fmt.Errorf("CertFindCertificateInStore: %w", err)
	}
	defer windows.CertFreeCertificateContext(ctx)
	der := unsafe.Slice(ctx.EncodedCert, ctx.Length)
	c, err := x509.ParseCertificate(append([]byte(nil), der...))
	if err != nil {
		return nil, fmt.Errorf("parse certificate from %s: %w", store, err)
	}
	return c, nil
}
