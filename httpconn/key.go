package httpconn

// Key says where a connection leads and whom it speaks for. Connections
// are only ever reused under an equal Key, so an authenticated connection
// of one identity is never handed to another.
type Key struct {
	// Addr is the host:port dialled: the origin, or the proxy.
	Addr string
	// TLS is set when the connection runs TLS to Addr.
	TLS bool
	// Identity names the credentials that authenticated (or will
	// authenticate) the connection, e.g. "ntlm:CORP\alice" or
	// "negotiate:alice@CORP.TEST"; "" for none. It is a label, never a
	// secret.
	Identity string
	// Via, when set, names a tunnel the connection runs through (a
	// CONNECT through that proxy address), so direct and tunnelled
	// connections to one address are kept apart.
	Via string
}

// String formats the key for logs.
func (k Key) String() string {
	s := k.Addr
	if k.TLS {
		s = "tls:" + s
	}
	if k.Via != "" {
		s += " via " + k.Via
	}
	if k.Identity != "" {
		s += " as " + k.Identity
	}
	return s
}
