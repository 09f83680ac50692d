package ntlm

import (
	"crypto"
	"crypto/x509"
	"encoding/binary"
	"encoding/pem"
	"fmt"
	"os"

	// Hashes named by certificate signature algorithms.
	_ "crypto/sha256"
	_ "crypto/sha512"
)

// TLSServerEndPoint returns the RFC 5929 "tls-server-end-point" channel
// binding data for a server certificate: the prefix "tls-server-end-point:"
// followed by the certificate's hash. The hash is that of the certificate's
// signature algorithm, except that MD5 and SHA-1 become SHA-256.
func TLSServerEndPoint(cert *x509.Certificate) []byte {
	h := crypto.SHA256
	switch cert.SignatureAlgorithm {
	case x509.SHA384WithRSA, x509.ECDSAWithSHA384, x509.SHA384WithRSAPSS:
		h = crypto.SHA384
	case x509.SHA512WithRSA, x509.ECDSAWithSHA512, x509.SHA512WithRSAPSS:
		h = crypto.SHA512
	}
	d := h.New()
	d.Write(cert.Raw)
	return append([]byte("tls-server-end-point:"), d.Sum(nil)...)
}

// ChannelBindingHash returns the value of MsvAvChannelBindings: the MD5
// hash of a gss_channel_bindings_struct with empty addresses and the given
// application data (RFC 4121 4.1.1.2 layout, all lengths little-endian).
func ChannelBindingHash(applicationData []byte) [16]byte {
	b := make([]byte, 20, 20+len(applicationData))
	// initiator addrtype+length and acceptor addrtype+length are all zero.
	binary.LittleEndian.PutUint32(b[16:], uint32(len(applicationData)))
	b = append(b, applicationData...)
	var out [16]byte
	copy(out[:], md5Sum(b))
	return out
}

// LoadCertificate reads a PEM or DER certificate file, for the channel
// binding of a server whose certificate was saved to disk.
func LoadCertificate(path string) (*x509.Certificate, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("ntlm: read certificate: %w", err)
	}
	if blk, _ := pem.Decode(data); blk != nil {
		if blk.Type != "CERTIFICATE" {
			return nil, fmt.Errorf("ntlm: %s: PEM block is %q, want CERTIFICATE", path, blk.Type)
		}
		data = blk.Bytes
	}
	cert, err := x509.ParseCertificate(data)
	if err != nil {
		return nil, fmt.Errorf("ntlm: parse certificate %s: %w", path, err)
	}
	return cert, nil
}
