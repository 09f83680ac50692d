package spnego

import "encoding/asn1"

// Object identifiers of SPNEGO and of the mechanisms it negotiates over
// HTTP. They are variables because asn1.ObjectIdentifier is a slice; do not
// modify them.
var (
	// OIDSPNEGO identifies SPNEGO itself (RFC 4178), the thisMech of the
	// GSS-API framing around a NegTokenInit.
	OIDSPNEGO = asn1.ObjectIdentifier{1, 3, 6, 1, 5, 5, 2}

	// OIDKerberos is the Kerberos V5 GSS-API mechanism (RFC 4121).
	OIDKerberos = asn1.ObjectIdentifier{1, 2, 840, 113554, 1, 2, 2}

	// OIDMSKerberos is the Kerberos OID Windows lists first: a historical
	// mis-encoding of OIDKerberos (the arc 113554 truncated to 16 bits,
	// 48018) that Microsoft kept for compatibility. It names the same
	// mechanism, so the initiator treats the two as one when the acceptor
	// answers with the other.
	OIDMSKerberos = asn1.ObjectIdentifier{1, 2, 840, 48018, 1, 2, 2}

	// OIDNTLMSSP is NTLM as a GSS-API mechanism (MS-NLMP, gss-ntlmssp).
	OIDNTLMSSP = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 311, 2, 2, 10}
)

// isKerberos reports whether oid is one of the two Kerberos OIDs.
func isKerberos(oid asn1.ObjectIdentifier) bool {
	return oid.Equal(OIDKerberos) || oid.Equal(OIDMSKerberos)
}

// sameMech reports whether two mechanism OIDs name the same mechanism,
// counting OIDKerberos and OIDMSKerberos as one (see OIDMSKerberos).
func sameMech(a, b asn1.ObjectIdentifier) bool {
	return a.Equal(b) || (isKerberos(a) && isKerberos(b))
}
