package sidname

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/go-ldap/ldap/v3"
	"github.com/go-ldap/ldap/v3/gssapi"
)

// Defaults of the LDAP resolver.
const (
	DefaultLDAPTimeout = 10 * time.Second
	// ldapBatch is how many SIDs one search asks for.
	ldapBatch = 50
)

// LDAP names SIDs by searching an Active Directory domain controller for
// (objectSid=<SID>) and reading sAMAccountName. It keeps one connection,
// bound once, and dials and binds again when it breaks. Set the fields
// before first use; it is then safe for concurrent use (searches share
// the connection). Put a Cache in front of it.
type LDAP struct {
	// URL is the server: "ldap://dc1.corp.test" or "ldaps://dc1.corp.test".
	URL string
	// BaseDN is where to search, the domain's naming context
	// ("DC=corp,DC=test"); builtin groups (S-1-5-32-…) are below it too.
	BaseDN string
	// TLSConfig is for ldaps:// and StartTLS; nil means the system's
	// roots and the URL's host name. Samba's self-made certificate has a
	// negative serial number and no subjectAltName, both of which Go
	// refuses: give the DC a proper certificate, or verify it in
	// VerifyConnection (and run with GODEBUG=x509negativeserial=1).
	TLSConfig *tls.Config
	// StartTLS upgrades an ldap:// connection before binding. Active
	// Directory refuses simple binds on a connection without TLS.
	StartTLS bool

	// GSSAPI, when set, binds with Kerberos (SASL GSSAPI) as the service
	// itself: gssapi.NewClientWithKeytab of go-ldap's gssapi package with
	// the service's keytab (it must hold the account's own name, such as
	// httpsvc@CORP.TEST; a KDC does not take an SPN as a client name).
	// On ldap:// without StartTLS every message is then signed (the SASL
	// integrity layer), which AD with LDAP signing required and Samba by
	// default insist on. SPN is the directory's service principal,
	// "ldap/dc1.corp.test".
	GSSAPI *gssapi.Client
	SPN    string
	// BindDN and BindPassword bind with a simple bind instead (a DN or,
	// on AD, "user@domain"). Neither set means an anonymous search,
	// which AD refuses.
	BindDN, BindPassword string

	// Timeout bounds dialing, binding and each search; default
	// DefaultLDAPTimeout.
	Timeout time.Duration
	// Dialer dials the server's TCP connection; default a net.Dialer.
	Dialer func(ctx context.Context, network, addr string) (net.Conn, error)

	mu   sync.Mutex
	conn *ldap.Conn
}

// Names implements Resolver.
func (l *LDAP) Names(ctx context.Context, sids []string) (map[string]string, error) {
	want := make(map[string][]string) // canonical SID -> the spellings asked for
	var order []string
	for _, s := range sids {
		c, err := CanonicalSID(s)
		if err != nil {
			continue
		}
		if _, seen := want[c]; !seen {
			order = append(order, c)
		}
		want[c] = append(want[c], s)
	}
	out := make(map[string]string)
	for len(order) > 0 {
		n := min(len(order), ldapBatch)
		found, err := l.search(ctx, order[:n])
		if err != nil {
			return out, err
		}
		for c, name := range found {
			for _, s := range want[c] {
				out[s] = name
			}
		}
		order = order[n:]
	}
	return out, nil
}

// search looks one batch up, dialing again once if the kept connection
// turns out broken.
func (l *LDAP) search(ctx context.Context, sids []string) (map[string]string, error) {
	var b strings.Builder
	b.WriteString("(|")
	for _, s := range sids {
		bin, _ := ParseSID(s) // canonical already
		b.WriteString("(objectSid=")
		for _, x := range bin {
			fmt.Fprintf(&b, `\%02x`, x)
		}
		b.WriteString(")")
	}
	b.WriteString(")")
	req := ldap.NewSearchRequest(l.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases, len(sids)*2, int(l.timeout()/time.Second), false,
		b.String(), []string{"objectSid", "sAMAccountName"}, nil)
	for attempt := 0; ; attempt++ {
		conn, fresh, err := l.connection(ctx)
		if err != nil {
			return nil, err
		}
		ctx, cancel := context.WithTimeout(ctx, l.timeout())
		res, err := l.collect(ctx, conn, req)
		cancel()
		if err == nil {
			return res, nil
		}
		if broken(err) || conn.IsClosing() {
			l.drop(conn)
			if !fresh && attempt == 0 && ctx.Err() == nil {
				continue
			}
		}
		return nil, fmt.Errorf("%w: ldap search in %s: %w", ErrUnavailable, l.BaseDN, err)
	}
}

func (l *LDAP) collect(ctx context.Context, conn *ldap.Conn, req *ldap.SearchRequest) (map[string]string, error) {
	resp := conn.SearchAsync(ctx, req, 16)
	out := make(map[string]string)
	for resp.Next() {
		e := resp.Entry()
		if e == nil {
			continue
		}
		sid, err := FormatSID(e.GetRawAttributeValue("objectSid"))
		name := e.GetAttributeValue("sAMAccountName")
		if err != nil || name == "" {
			continue // objects without an account name (foreign security principals) stay unnamed
		}
		out[sid] = name
	}
	if err := resp.Err(); err != nil {
		if ctx.Err() != nil {
			return nil, fmt.Errorf("%w (%w)", err, context.Cause(ctx))
		}
		return nil, err
	}
	return out, nil
}

// broken tells errors after which the connection is not worth keeping.
func broken(err error) bool {
	var le *ldap.Error
	if errors.As(err, &le) {
		return le.ResultCode == ldap.ErrorNetwork || le.ResultCode == ldap.LDAPResultUnavailable ||
			le.ResultCode == ldap.LDAPResultBusy || le.ResultCode == ldap.LDAPResultOperationsError
	}
	return true
}

// connection returns the kept connection, or a new bound one (fresh).
func (l *LDAP) connection(ctx context.Context) (*ldap.Conn, bool, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn != nil && !l.conn.IsClosing() {
		return l.conn, false, nil
	}
	conn, err := l.dial(ctx)
	if err != nil {
		return nil, false, err
	}
	l.conn = conn
	return conn, true, nil
}

func (l *LDAP) drop(conn *ldap.Conn) {
	l.mu.Lock()
	if l.conn == conn {
		l.conn = nil
	}
	l.mu.Unlock()
	conn.Close()
}

// Close closes the kept connection; a later Names dials again.
func (l *LDAP) Close() error {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.conn != nil {
		err := l.conn.Close()
		l.conn = nil
		return err
	}
	return nil
}

func (l *LDAP) dial(ctx context.Context) (*ldap.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, l.timeout())
	defer cancel()
	u, host, err := l.target()
	if err != nil {
		return nil, err
	}
	dial := l.Dialer
	if dial == nil {
		dial = (&net.Dialer{}).DialContext
	}
	nc, err := dial(ctx, "tcp", host)
	if err != nil {
		return nil, fmt.Errorf("%w: ldap: dial %s: %w", ErrUnavailable, host, err)
	}
	if u == "ldaps" {
		tc := tls.Client(nc, l.tlsConfig(host))
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, fmt.Errorf("%w: ldap: TLS with %s: %w", ErrUnavailable, host, err)
		}
		nc = tc
	}
	var layer *saslConn
	if l.GSSAPI != nil && u == "ldap" && !l.StartTLS {
		layer = &saslConn{Conn: nc}
		nc = layer
	}
	conn := ldap.NewConn(nc, u == "ldaps")
	conn.Start()
	conn.SetTimeout(l.timeout())
	// Binding has no context in go-ldap: a deadline on the socket stands
	// in for it, and closing it ends a bind when ctx does.
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	if l.StartTLS && u == "ldap" {
		if err := conn.StartTLS(l.tlsConfig(host)); err != nil {
			conn.Close()
			return nil, fmt.Errorf("%w: ldap: StartTLS with %s: %w", ErrUnavailable, host, err)
		}
	}
	switch {
	case layer != nil:
		if err = conn.GSSAPIBind(&integrityClient{Client: l.GSSAPI, conn: layer}, l.SPN, ""); err == nil {
			err = layer.activate()
		}
	case l.GSSAPI != nil:
		err = conn.GSSAPIBind(l.GSSAPI, l.SPN, "")
	case l.BindDN != "":
		err = conn.Bind(l.BindDN, l.BindPassword)
	}
	if err != nil {
		conn.Close()
		return nil, fmt.Errorf("%w: ldap: bind to %s: %w", ErrUnavailable, host, err)
	}
	return conn, nil
}

// target splits URL into scheme and host:port.
func (l *LDAP) target() (scheme, hostport string, err error) {
	scheme, rest, ok := strings.Cut(l.URL, "://")
	scheme = strings.ToLower(scheme)
	if !ok || (scheme != "ldap" && scheme != "ldaps") {
		return "", "", fmt.Errorf("sidname: ldap URL %q: want ldap://host[:port] or ldaps://host[:port]", l.URL)
	}
	rest, _, _ = strings.Cut(rest, "/")
	if _, _, err := net.SplitHostPort(rest); err != nil {
		port := "389"
		if scheme == "ldaps" {
			port = "636"
		}
		rest = net.JoinHostPort(strings.Trim(rest, "[]"), port)
	}
	return scheme, rest, nil
}

func (l *LDAP) tlsConfig(hostport string) *tls.Config {
	var c *tls.Config
	if l.TLSConfig != nil {
		c = l.TLSConfig.Clone()
	} else {
		c = &tls.Config{}
	}
	if c.ServerName == "" {
		c.ServerName, _, _ = net.SplitHostPort(hostport)
	}
	return c
}

func (l *LDAP) timeout() time.Duration {
	if l.Timeout > 0 {
		return l.Timeout
	}
	return DefaultLDAPTimeout
}
