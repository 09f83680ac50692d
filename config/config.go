package config

import (
	_ "embed"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"reflect"
	"sort"
	"strings"

	"github.com/BurntSushi/toml"
)

// MaxFileSize bounds a configuration file; real ones are a few KiB.
const MaxFileSize = 1 << 20

// ErrInvalid reports a configuration that does not parse or does not
// make sense; the message names the key.
var ErrInvalid = errors.New("config: invalid")

// Config is the proxy's configuration. The zero value is not useful; start
// from Default.
type Config struct {
	// Listen are the addresses to serve on.
	Listen []string `toml:"listen"`
	// Upstreams are the upstream proxies, tried in order.
	Upstreams []string `toml:"upstreams"`
	// PAC, if set, is a PAC file (path or http(s) URL) that chooses the
	// route per URL instead of Upstreams.
	PAC string `toml:"pac"`
	// PACFail is what happens when the PAC file cannot be fetched or
	// evaluated: "last-good" (default: keep the last script that
	// worked), "direct" or "fail".
	PACFail string `toml:"pac_fail"`
	// WPAD lets discovery (used when neither upstreams nor pac is set)
	// look for wpad.dat by DHCP and DNS. Off by default: WPAD trusts
	// whoever answers for wpad.<domain> on the network at hand.
	WPAD bool `toml:"wpad"`
	// NoProxy patterns go DIRECT (NO_PROXY syntax).
	NoProxy []string `toml:"no_proxy"`
	// DirectFallback goes DIRECT when every upstream is down.
	DirectFallback bool `toml:"direct_fallback"`
	// Allow are client networks served besides loopback (gateway mode).
	Allow []string `toml:"allow"`
	// AllowLocalhostTargets lets clients of a gateway (allow) reach the
	// proxy host's loopback, unspecified and own addresses through it
	// (squid's to_localhost). Refused by default in gateway mode.
	AllowLocalhostTargets bool `toml:"allow_localhost_targets"`
	// LogLevel is debug, info, warn or error.
	LogLevel string `toml:"log_level"`
	// NTLMToBasic makes clients authenticate to sesame with Basic as
	// DOMAIN\user and password; sesame then answers the upstream as that
	// user (cntlm's NTLMToBasic). auth.user and its secret are not used.
	NTLMToBasic bool `toml:"ntlm_to_basic"`
	// Admin is the loopback address of the status page, metrics and
	// /proxy.pac; empty for none.
	Admin string `toml:"admin"`
	// Auth is how sesame authenticates to the upstream proxy.
	Auth Auth `toml:"auth"`
	// Serve configures `sesame serve` (see serve.go).
	Serve Serve `toml:"serve"`
}

// Auth configures the credentials for the upstream proxy. At most one
// secret may be set: a password (from PasswordEnv, or Password, which
// works but is discouraged: the file then holds the password in clear),
// an NT hash, or an NTLMv2 hash (both from `sesame hash`).
type Auth struct {
	// Schemes allowed, strongest first is chosen among those offered:
	// "any", or some of "negotiate", "ntlm", "digest", "basic".
	// Negotiate uses the Kerberos credential cache (KRB5CCNAME) when no
	// user is given: single sign-on, no password anywhere.
	Schemes []string `toml:"schemes"`
	// User is DOMAIN\user, user@domain, or a user with Domain.
	User        string `toml:"user"`
	Domain      string `toml:"domain"`
	Workstation string `toml:"workstation"`
	Password    string `toml:"password"`
	PasswordEnv string `toml:"password_env"`
	NTHash      string `toml:"nt_hash"`
	NTLMv2Hash  string `toml:"ntlmv2_hash"`
	// Upstreams, when not empty, are the only upstream proxies
	// (host:port) that get the credentials; others are used without.
	Upstreams []string `toml:"upstreams"`

	// Negotiate toward the upstream (httpx-gssapi's options; see
	// NegotiateOptions). Mutual is "required", "optional" or
	// "disabled"; empty asks for mutual authentication but accepts a
	// proxy that does not give it (squid never does), as curl does.
	Mutual string `toml:"mutual"`
	// Opportunistic sends the Negotiate token with the first request on
	// a connection, before the upstream's 407.
	Opportunistic bool `toml:"opportunistic"`
	// Mech is the mechanism: "kerberos", "ntlm" (NTLM in SPNEGO, with
	// the account's secret), "spnego" or an OID; empty for Kerberos with
	// NTLM in SPNEGO as the fallback when there is a password.
	Mech string `toml:"mech"`
	// SPN is the upstream's Kerberos service principal; empty for
	// HTTP/<host of the upstream>.
	SPN string `toml:"spn"`
	// Principal (user@REALM, single sign-on only) picks the cache of that
	// principal in a collection (DIR:, KCM:, KEYRING:) rather than the
	// primary one.
	Principal string `toml:"principal"`
	// SanitizeMutualError, with Mutual "required": an error response
	// (400 and up) from an upstream that failed mutual authentication
	// reaches the client as its status alone, without the upstream's
	// headers and body, instead of as a 502.
	SanitizeMutualError bool `toml:"sanitize_mutual_error"`
}

// Default returns the configuration with no file: listen on
// 127.0.0.1:3128, upstream from the environment (empty here; the caller
// fills it in), no authentication.
func Default() *Config {
	return &Config{Listen: []string{"127.0.0.1:3128"}, LogLevel: "info", Auth: Auth{Schemes: []string{"any"}}, Serve: DefaultServe()}
}

// Example is a complete, commented configuration file.
//
//go:embed example.toml
var Example string

// Load reads a TOML configuration file over the defaults.
func Load(path string) (*Config, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	defer f.Close()
	c, err := Parse(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return c, nil
}

// Parse decodes a TOML configuration over the defaults and validates it.
func Parse(r io.Reader) (*Config, error) {
	data, err := io.ReadAll(io.LimitReader(r, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("config: read: %w", err)
	}
	if len(data) > MaxFileSize {
		return nil, fmt.Errorf("%w: file larger than %d bytes", ErrInvalid, MaxFileSize)
	}
	c := Default()
	md, err := toml.Decode(string(data), c)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if und := md.Undecoded(); len(und) > 0 {
		keys := make([]string, len(und))
		for i, k := range und {
			keys[i] = k.String()
		}
		sort.Strings(keys)
		msg := "unknown key " + strings.Join(keys, ", ")
		if len(keys) == 1 {
			if s := Closest(keys[0], Keys()); s != "" {
				msg += " (did you mean " + s + "?)"
			}
		}
		return nil, fmt.Errorf("%w: %s", ErrInvalid, msg)
	}
	if err := c.Validate(); err != nil {
		return nil, err
	}
	return c, nil
}

// ApplyEnv overrides settings from SESAME_* variables: SESAME_LISTEN,
// SESAME_UPSTREAMS, SESAME_NO_PROXY and SESAME_ALLOW (comma lists),
// SESAME_DIRECT_FALLBACK (true/false), SESAME_LOG_LEVEL, SESAME_ADMIN,
// SESAME_PAC, SESAME_AUTH
// (schemes), SESAME_USER, SESAME_DOMAIN, SESAME_WORKSTATION,
// SESAME_PASSWORD_ENV, SESAME_NT_HASH and SESAME_NTLMV2_HASH.
func (c *Config) ApplyEnv(getenv func(string) string) error {
	list := func(name string, dst *[]string) {
		if v := getenv(name); v != "" {
			*dst = splitList(v)
		}
	}
	str := func(name string, dst *string) {
		if v := getenv(name); v != "" {
			*dst = v
		}
	}
	list("SESAME_LISTEN", &c.Listen)
	list("SESAME_UPSTREAMS", &c.Upstreams)
	list("SESAME_NO_PROXY", &c.NoProxy)
	list("SESAME_ALLOW", &c.Allow)
	list("SESAME_AUTH", &c.Auth.Schemes)
	str("SESAME_LOG_LEVEL", &c.LogLevel)
	str("SESAME_ADMIN", &c.Admin)
	str("SESAME_PAC", &c.PAC)
	str("SESAME_USER", &c.Auth.User)
	str("SESAME_DOMAIN", &c.Auth.Domain)
	str("SESAME_WORKSTATION", &c.Auth.Workstation)
	str("SESAME_PASSWORD_ENV", &c.Auth.PasswordEnv)
	str("SESAME_NT_HASH", &c.Auth.NTHash)
	str("SESAME_NTLMV2_HASH", &c.Auth.NTLMv2Hash)
	switch v := strings.ToLower(getenv("SESAME_DIRECT_FALLBACK")); v {
	case "":
	case "1", "true", "yes", "on":
		c.DirectFallback = true
	case "0", "false", "no", "off":
		c.DirectFallback = false
	default:
		return fmt.Errorf("%w: SESAME_DIRECT_FALLBACK=%q is not a boolean", ErrInvalid, v)
	}
	return c.Validate()
}

func splitList(s string) []string {
	var out []string
	for _, f := range strings.FieldsFunc(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		out = append(out, f)
	}
	return out
}

// NoProxyList splits NO_PROXY-style values (comma or space separated, as
// in the NO_PROXY and no_proxy variables) into one pattern per entry,
// dropping empty entries and repeats: NoProxyList("", "") is empty, not
// [","].
func NoProxyList(values ...string) []string {
	var out []string
	seen := map[string]bool{}
	for _, v := range values {
		for _, p := range splitList(v) {
			if !seen[p] {
				seen[p] = true
				out = append(out, p)
			}
		}
	}
	return out
}

// Normalize puts list settings in their canonical form: NoProxy entries
// that hold a whole NO_PROXY value ("a,b", or "," from two unset
// variables) become one pattern each, without empty ones. Validate calls
// it.
func (c *Config) Normalize() {
	if len(c.NoProxy) > 0 {
		c.NoProxy = NoProxyList(c.NoProxy...)
	}
}

// Validate normalises the configuration (Normalize) and checks what can
// be checked without the network.
func (c *Config) Validate() error {
	c.Normalize()
	if len(c.Listen) == 0 {
		return fmt.Errorf("%w: listen: at least one address", ErrInvalid)
	}
	for _, a := range c.Allow {
		if _, err := netip.ParsePrefix(a); err != nil {
			if _, err2 := netip.ParseAddr(a); err2 != nil {
				return fmt.Errorf("%w: allow: %q is not an address or CIDR network", ErrInvalid, a)
			}
		}
	}
	switch c.PACFail {
	case "", "last-good", "direct", "fail":
	default:
		return fmt.Errorf("%w: pac_fail %q (last-good, direct or fail)", ErrInvalid, c.PACFail)
	}
	if c.Admin != "" {
		host, _, err := net.SplitHostPort(c.Admin)
		ip, perr := netip.ParseAddr(host)
		if err != nil || (host != "localhost" && (perr != nil || !ip.IsLoopback())) {
			return fmt.Errorf("%w: admin %q: must be a loopback address with a port (it shows the network's layout)", ErrInvalid, c.Admin)
		}
	}
	switch strings.ToLower(c.LogLevel) {
	case "debug", "info", "warn", "error":
	default:
		return fmt.Errorf("%w: log_level %q (debug, info, warn or error)", ErrInvalid, c.LogLevel)
	}
	for _, s := range c.Auth.Schemes {
		switch strings.ToLower(s) {
		case "any", "negotiate", "ntlm", "digest", "basic":
		default:
			return fmt.Errorf("%w: auth.schemes: unknown scheme %q", ErrInvalid, s)
		}
	}
	n := 0
	for _, set := range []bool{c.Auth.Password != "", c.Auth.PasswordEnv != "", c.Auth.NTHash != "", c.Auth.NTLMv2Hash != ""} {
		if set {
			n++
		}
	}
	if n > 1 {
		return fmt.Errorf("%w: auth: password, password_env, nt_hash and ntlmv2_hash exclude each other", ErrInvalid)
	}
	if n > 0 && c.Auth.User == "" {
		return fmt.Errorf("%w: auth: a secret needs auth.user", ErrInvalid)
	}
	gss := c.Auth.Negotiate()
	if err := gss.Normalize(func(key string) string { return "auth." + key }); err != nil {
		return fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if c.Auth.Principal != "" && c.Auth.User != "" {
		return fmt.Errorf("%w: auth.principal picks a single sign-on cache, auth.user an account (whose own cache is used if the collection holds one): give one of them", ErrInvalid)
	}
	if strings.ContainsAny(c.Auth.SPN, " \t\r\n") {
		return fmt.Errorf("%w: auth.spn %q: a service principal has no spaces (HTTP/proxy.corp.example)", ErrInvalid, c.Auth.SPN)
	}
	return c.Serve.Validate()
}

// Warnings lists settings that work but should be changed.
func (c *Config) Warnings() []string {
	var w []string
	if c.Auth.Password != "" {
		w = append(w, "auth.password holds the password in clear text: use `sesame hash` and auth.nt_hash (or auth.ntlmv2_hash), or auth.password_env")
	}
	return w
}

// MarshalChanges encodes as TOML only the settings that differ from
// Default(), in the order of the full form: a configuration file that
// says what is particular to this network and leaves the rest to the
// defaults (and their future improvements).
func (c *Config) MarshalChanges() ([]byte, error) {
	var b strings.Builder
	if err := encodeChanges(&b, reflect.ValueOf(*c), reflect.ValueOf(*Default()), ""); err != nil {
		return nil, err
	}
	return []byte(b.String()), nil
}

// encodeChanges writes the fields of the struct v that differ from def:
// plain keys first, then each nested struct as a [table] holding its own
// changes (omitted when it has none).
func encodeChanges(b *strings.Builder, v, def reflect.Value, table string) error {
	t := v.Type()
	var tables []int
	wroteHeader := false
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		key, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
		if !f.IsExported() || key == "-" {
			continue
		}
		if f.Type.Kind() == reflect.Struct {
			tables = append(tables, i)
			continue
		}
		fv, dv := v.Field(i), def.Field(i)
		if reflect.DeepEqual(fv.Interface(), dv.Interface()) || (fv.Kind() == reflect.Slice && fv.Len() == 0 && dv.Len() == 0) {
			continue
		}
		if table != "" && !wroteHeader {
			if b.Len() > 0 {
				b.WriteString("\n")
			}
			fmt.Fprintf(b, "[%s]\n", table)
			wroteHeader = true
		}
		if err := toml.NewEncoder(b).Encode(map[string]any{key: fv.Interface()}); err != nil {
			return err
		}
	}
	for _, i := range tables {
		key, _, _ := strings.Cut(t.Field(i).Tag.Get("toml"), ",")
		name := key
		if table != "" {
			name = table + "." + key
		}
		if err := encodeChanges(b, v.Field(i), def.Field(i), name); err != nil {
			return err
		}
	}
	return nil
}

// Marshal encodes the configuration as TOML.
func (c *Config) Marshal() ([]byte, error) {
	var b strings.Builder
	if err := toml.NewEncoder(&b).Encode(c); err != nil {
		return nil, err
	}
	return []byte(b.String()), nil
}
