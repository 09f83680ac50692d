package config

import (
	_ "embed"
	"fmt"
	"net"
	"net/netip"
	"net/textproto"
	"net/url"
	"strings"
)

// Serve configures `sesame serve`, the authenticating reverse proxy in
// front of a web application: the [serve] table of the configuration
// file. The zero value is not useful; Default fills it in.
type Serve struct {
	// Backend is the application's URL (http or https) that
	// authenticated requests are forwarded to.
	Backend string `toml:"backend"`
	// Listen are the addresses to serve on. Anything but loopback needs
	// Allow.
	Listen []string `toml:"listen"`
	// Allow are the client networks (CIDRs or addresses) served besides
	// loopback; required to listen on another address.
	Allow []string `toml:"allow"`
	// TLSCert and TLSKey are PEM files; with both set sesame serves
	// HTTPS (and NTLM channel bindings can be checked).
	TLSCert string `toml:"tls_cert"`
	TLSKey  string `toml:"tls_key"`

	// Schemes offered to clients, among "negotiate", "ntlm", "basic"
	// and "digest"; empty: every scheme whose verifier is configured.
	Schemes []string `toml:"schemes"`
	// Realm is the realm shown in Basic and Digest challenges.
	Realm string `toml:"realm"`

	// Keytab is the Kerberos service keytab for Negotiate; empty: none,
	// unless KRB5_KTNAME names one.
	Keytab string `toml:"keytab"`
	// SPN, if set, is the one service principal accepted
	// ("HTTP/www.corp.example"); empty: any principal in the keytab.
	SPN string `toml:"spn"`
	// BasicKerberos checks Basic passwords by getting a ticket from the
	// KDC and verifying it with the keytab (mod_auth_gssapi's
	// GssapiBasicAuth). Needs a keytab and krb5.conf (KRB5_CONFIG).
	BasicKerberos bool `toml:"basic_kerberos"`
	// Krb5Conf is the krb5.conf that basic_kerberos and the LDAP
	// Kerberos bind find the KDC with; empty: KRB5_CONFIG, else
	// /etc/krb5.conf.
	Krb5Conf string `toml:"krb5_conf"`

	// NTLMUsers is a file of "DOMAIN:user:password" lines; NTLMHashes
	// one of "DOMAIN:user:NTHASH" lines (from `sesame hash`).
	NTLMUsers  string `toml:"ntlm_users"`
	NTLMHashes string `toml:"ntlm_hashes"`
	// NTLMDomain is the NetBIOS domain announced in NTLM challenges.
	NTLMDomain string `toml:"ntlm_domain"`
	// Winbind verifies NTLM against the Active Directory domain this
	// host is joined to, through Samba's ntlm_auth: no hashes stored.
	Winbind bool `toml:"winbind"`
	// NTLMAuth is the ntlm_auth program for Winbind; default from PATH.
	NTLMAuth string `toml:"ntlm_auth"`
	// SSPI, on Windows, answers "negotiate" or "ntlm" with Windows' own
	// security packages (AcceptSecurityContext, as IIS does): the
	// machine's domain account instead of a keytab, the domain controller
	// checking NTLM, groups from the logon's access token. Empty: off.
	SSPI string `toml:"sspi"`
	// ChannelBinding is the NTLM Extended Protection mode over TLS:
	// "off", "accept" (default) or "required".
	ChannelBinding string `toml:"channel_binding"`

	// Htpasswd is an Apache htpasswd file for Basic (bcrypt, SHA,
	// MD5-crypt); Htdigest an htdigest file for Digest (its realm is
	// Realm).
	Htpasswd string `toml:"htpasswd"`
	Htdigest string `toml:"htdigest"`

	// Mode is the default for paths no list below names: "required",
	// "optional" (anonymous visitors get the page; the challenge is
	// offered on LoginPath) or "off".
	Mode string `toml:"mode"`
	// RequiredPaths, OptionalPaths and OffPaths are path prefixes with
	// that mode; the longest matching prefix wins.
	RequiredPaths []string `toml:"required_paths"`
	OptionalPaths []string `toml:"optional_paths"`
	OffPaths      []string `toml:"off_paths"`
	// LoginPath always demands authentication, then redirects back to
	// the page named by its ?return= parameter (a local path) or to /.
	LoginPath string `toml:"login_path"`

	// UserHeader, GroupsHeader and RealmHeader are the request headers
	// the backend gets the identity in. Whatever a client sent under
	// these names (in any case, and with '_' for '-') is removed first.
	UserHeader   string `toml:"user_header"`
	GroupsHeader string `toml:"groups_header"`
	RealmHeader  string `toml:"realm_header"`
	// UserFormat is how the user is written in UserHeader: "principal"
	// (alice@CORP.TEST or CORP\alice, default), "name" (alice) or
	// "domain" (CORP\alice).
	UserFormat string `toml:"user_format"`

	// SessionKeyFile holds the keys of the session cookie, one per line
	// as 64 hex digits, newest first; empty: no sessions, every new
	// connection authenticates again.
	SessionKeyFile string `toml:"session_key_file"`
	// DelegationDir, if set, receives delegated Kerberos credentials
	// as ccache files, named in the X-Remote-Ccache header.
	DelegationDir string `toml:"delegation_dir"`

	// SIDMap is a file of "SID name" lines naming group SIDs.
	SIDMap string `toml:"sid_map"`
	// LDAPURL, LDAPBaseDN, LDAPBindDN and LDAPPasswordEnv name group
	// SIDs from a directory (ldap:// or ldaps://); without LDAPBindDN
	// the bind uses the service's keytab (GSSAPI).
	LDAPURL         string `toml:"ldap_url"`
	LDAPBaseDN      string `toml:"ldap_base_dn"`
	LDAPBindDN      string `toml:"ldap_bind_dn"`
	LDAPPasswordEnv string `toml:"ldap_password_env"`
	// LDAPPrincipal is the principal of the keytab the Kerberos bind
	// logs in as; empty: spn, else the keytab's first principal.
	LDAPPrincipal string `toml:"ldap_principal"`
}

// DefaultServe returns the defaults of the [serve] table.
func DefaultServe() Serve {
	return Serve{
		Listen:         []string{"127.0.0.1:8080"},
		ChannelBinding: "accept",
		Mode:           "required",
		LoginPath:      "/login",
		UserHeader:     "X-Remote-User",
		GroupsHeader:   "X-Remote-Groups",
		RealmHeader:    "X-Remote-Realm",
		UserFormat:     "principal",
	}
}

// Validate checks the [serve] table without touching files or the
// network. An empty Backend is accepted here (the proxy's configuration
// has none); `sesame serve` requires it.
func (s *Serve) Validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: serve.%s", ErrInvalid, fmt.Sprintf(format, args...))
	}
	if s.Backend != "" {
		u, err := url.Parse(s.Backend)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return bad("backend %q: want an http:// or https:// URL", s.Backend)
		}
	}
	if len(s.Listen) == 0 {
		return bad("listen: at least one address")
	}
	for _, l := range s.Listen {
		if _, _, err := net.SplitHostPort(l); err != nil {
			return bad("listen %q: %v", l, err)
		}
	}
	for _, a := range s.Allow {
		if _, err := netip.ParsePrefix(a); err != nil {
			if _, err2 := netip.ParseAddr(a); err2 != nil {
				return bad("allow: %q is not an address or CIDR network", a)
			}
		}
	}
	if (s.TLSCert == "") != (s.TLSKey == "") {
		return bad("tls_cert and tls_key go together")
	}
	for _, sc := range s.Schemes {
		switch strings.ToLower(sc) {
		case "negotiate", "ntlm", "basic", "digest":
		default:
			return bad("schemes: unknown scheme %q (negotiate, ntlm, basic, digest)", sc)
		}
	}
	switch strings.ToLower(s.ChannelBinding) {
	case "off", "accept", "required":
	default:
		return bad("channel_binding %q (off, accept or required)", s.ChannelBinding)
	}
	if s.NTLMUsers != "" && s.NTLMHashes != "" {
		return bad("ntlm_users and ntlm_hashes exclude each other")
	}
	if s.Winbind && (s.NTLMUsers != "" || s.NTLMHashes != "") {
		return bad("winbind excludes ntlm_users and ntlm_hashes")
	}
	switch strings.ToLower(s.SSPI) {
	case "":
	case "negotiate":
		if s.Keytab != "" || s.NTLMUsers != "" || s.NTLMHashes != "" || s.Winbind {
			return bad("sspi = \"negotiate\" answers Negotiate and NTLM itself: it excludes keytab, ntlm_users, ntlm_hashes and winbind")
		}
	case "ntlm":
		if s.NTLMUsers != "" || s.NTLMHashes != "" || s.Winbind {
			return bad("sspi = \"ntlm\" answers NTLM itself: it excludes ntlm_users, ntlm_hashes and winbind")
		}
	default:
		return bad("sspi %q (negotiate or ntlm)", s.SSPI)
	}
	if s.BasicKerberos && s.Htpasswd != "" {
		return bad("basic_kerberos and htpasswd exclude each other (both verify Basic)")
	}
	switch s.Mode {
	case "required", "optional", "off":
	default:
		return bad("mode %q (required, optional or off)", s.Mode)
	}
	for key, list := range map[string][]string{"required_paths": s.RequiredPaths, "optional_paths": s.OptionalPaths, "off_paths": s.OffPaths} {
		for _, p := range list {
			if !strings.HasPrefix(p, "/") {
				return bad("%s: %q does not start with /", key, p)
			}
		}
	}
	if s.LoginPath != "" && !strings.HasPrefix(s.LoginPath, "/") {
		return bad("login_path %q does not start with /", s.LoginPath)
	}
	seen := map[string]string{}
	for key, h := range map[string]string{"user_header": s.UserHeader, "groups_header": s.GroupsHeader, "realm_header": s.RealmHeader} {
		if h == "" {
			continue // not sent
		}
		if !validHeaderName(h) {
			return bad("%s %q is not a header name", key, h)
		}
		canon := HeaderKey(h)
		if other, dup := seen[canon]; dup {
			return bad("%s and %s name the same header %q", key, other, h)
		}
		seen[canon] = key
	}
	switch s.UserFormat {
	case "principal", "name", "domain":
	default:
		return bad("user_format %q (principal, name or domain)", s.UserFormat)
	}
	if s.LDAPURL != "" {
		u, err := url.Parse(s.LDAPURL)
		if err != nil || (u.Scheme != "ldap" && u.Scheme != "ldaps") || u.Host == "" {
			return bad("ldap_url %q: want ldap://HOST or ldaps://HOST", s.LDAPURL)
		}
		if s.LDAPBaseDN == "" {
			return bad("ldap_url needs ldap_base_dn")
		}
	}
	if s.LDAPURL == "" && (s.LDAPBindDN != "" || s.LDAPPrincipal != "") {
		return bad("ldap_bind_dn and ldap_principal need ldap_url")
	}
	return nil
}

// HeaderKey folds a header name to the form under which the identity
// headers are compared: lower case, '_' as '-'. A backend behind CGI or
// PHP sees X-Remote-User and X_Remote_User as the same variable
// (HTTP_X_REMOTE_USER), so both spellings are one header here.
func HeaderKey(name string) string {
	return strings.ReplaceAll(strings.ToLower(textproto.TrimString(name)), "_", "-")
}

func validHeaderName(h string) bool {
	for _, r := range h {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_') {
			return false
		}
	}
	return h != ""
}

// ServeExample is a complete, commented configuration for `sesame serve`.
//
//go:embed serve_example.toml
var ServeExample string
