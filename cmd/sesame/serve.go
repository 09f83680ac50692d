package main

import (
	"flag"
	"io"

	"github.com/BurntSushi/toml"

	"github.com/sesame-auth/sesame/config"
)

const serveUsage = `sesame serve --backend URL [--config FILE] [--print-config | --example-config]
                    [--listen ADDR]... [--allow CIDR]... [--tls-cert FILE --tls-key FILE]
                    [--keytab FILE] [--spn HTTP/host] [--basic-kerberos] [--krb5-conf FILE]
                    [--delegation-dir DIR] [--sid-map FILE] [--ntlm-users FILE | --ntlm-hashes FILE | --winbind | --sspi negotiate|ntlm]
                    [--htpasswd FILE] [--htdigest FILE] [--mode required|optional|off] [--login-path PATH]
       sesame serve --check [--keytab FILE] [--spn HTTP/host] [--check-user USER --password-env VAR]

An authenticating reverse proxy: visitors log in with Negotiate (Kerberos),
NTLM, Basic or Digest, and the backend gets the identity in X-Remote-User,
X-Remote-Groups and X-Remote-Realm (any such header a client sent is
removed). Settings come from the built-in defaults, then the [serve] table of
the config file (--config, or $SESAME_CONFIG, or ~/.config/sesame/sesame.toml
if it exists), then these flags. 'sesame serve --print-config' prints the
result as TOML; 'sesame serve --example-config' a commented example.

--check tests a keytab: the service principals and encryption types it holds
and, with --check-user and --password-env, whether it decrypts a ticket the
KDC issues to that user for each principal.`

// serveFlags are the flags of `sesame serve`.
type serveFlags struct {
	fs         *flag.FlagSet
	configFile *string
	// str holds the string flags by name; see serveStringFlags.
	str             map[string]*string
	winbind         *bool
	basicKerberos   *bool
	listens, allows listFlag
}

// serveStringFlags are the string flags that set one [serve] key each
// (log-level sets the top-level log_level).
var serveStringFlags = []struct{ name, usage string }{
	{"backend", "the application's `URL` that authenticated requests go to"},
	{"tls-cert", "serve HTTPS with this PEM certificate (chain) `FILE`"},
	{"tls-key", "the PEM private key `FILE` of --tls-cert"},
	{"keytab", "Kerberos service keytab `FILE` for Negotiate (default $KRB5_KTNAME)"},
	{"spn", "accept tickets for this service principal only, e.g. HTTP/www.corp.example (default: any in the keytab)"},
	{"krb5-conf", "krb5.conf `FILE` for --basic-kerberos and the LDAP Kerberos bind (default $KRB5_CONFIG, /etc/krb5.conf)"},
	{"delegation-dir", "write delegated Kerberos credentials as ccache files into `DIR` (path in X-Remote-Ccache)"},
	{"sid-map", "name group SIDs from this `FILE` of \"SID name\" lines"},
	{"ntlm-users", "NTLM accounts, lines DOMAIN:user:password (`FILE`)"},
	{"ntlm-hashes", "NTLM accounts, lines DOMAIN:user:NTHASH (`FILE`)"},
	{"sspi", "on Windows: answer `negotiate` or ntlm with Windows' own security packages, as IIS does (no keytab or user file)"},
	{"ntlm-domain", "NetBIOS domain announced in NTLM challenges"},
	{"htpasswd", "Basic accounts: an Apache htpasswd `FILE`"},
	{"htdigest", "Digest accounts: an Apache htdigest `FILE` (its realm is --realm)"},
	{"realm", "realm of the Basic and Digest challenges"},
	{"mode", "required (default), optional (anonymous visitors get the page; log in at --login-path) or off"},
	{"login-path", "path that always asks for a login, then redirects to ?return= (default /login)"},
	{"log-level", "debug, info, warn or error (default info)"},
}

func newServeFlags(fs *flag.FlagSet) *serveFlags {
	f := &serveFlags{fs: fs, str: map[string]*string{}}
	f.configFile = fs.String("config", "", "configuration `FILE` (TOML; the [serve] table)")
	fs.Var(&f.listens, "listen", "address to listen on (repeatable; default 127.0.0.1:8080)")
	fs.Var(&f.allows, "allow", "client network allowed besides loopback, e.g. 10.0.0.0/8 (repeatable; needed to listen beyond loopback)")
	for _, sf := range serveStringFlags {
		f.str[sf.name] = fs.String(sf.name, "", sf.usage)
	}
	f.basicKerberos = fs.Bool("basic-kerberos", false, "check Basic passwords with the KDC, the ticket verified with the keytab")
	f.winbind = fs.Bool("winbind", false, "verify NTLM against this host's Active Directory domain through Samba's ntlm_auth")
	return f
}

// config returns the effective configuration: defaults, file, then the
// flags that were given. Only the [serve] table and log_level matter.
func (f *serveFlags) config(e *env) (*config.Config, error) {
	cfg, _, err := loadProxyConfig(e, *f.configFile, "")
	if err != nil {
		return nil, err
	}
	s := &cfg.Serve
	set := map[string]bool{}
	f.fs.Visit(func(fl *flag.Flag) { set[fl.Name] = true })
	if len(f.listens) > 0 {
		s.Listen = f.listens
	}
	if len(f.allows) > 0 {
		s.Allow = f.allows
	}
	dst := map[string]*string{
		"backend": &s.Backend, "tls-cert": &s.TLSCert, "tls-key": &s.TLSKey, "keytab": &s.Keytab, "spn": &s.SPN,
		"krb5-conf": &s.Krb5Conf, "delegation-dir": &s.DelegationDir, "sid-map": &s.SIDMap,
		"ntlm-users": &s.NTLMUsers, "ntlm-hashes": &s.NTLMHashes, "ntlm-domain": &s.NTLMDomain, "sspi": &s.SSPI,
		"htpasswd": &s.Htpasswd, "htdigest": &s.Htdigest, "realm": &s.Realm,
		"mode": &s.Mode, "login-path": &s.LoginPath, "log-level": &cfg.LogLevel,
	}
	for name, v := range f.str {
		if set[name] {
			*dst[name] = *v
		}
	}
	if set["basic-kerberos"] {
		s.BasicKerberos = *f.basicKerberos
	}
	if set["winbind"] {
		s.Winbind = *f.winbind
	}
	// A user file on the command line replaces the configured one.
	if set["ntlm-users"] {
		s.NTLMHashes = ""
	}
	if set["ntlm-hashes"] {
		s.NTLMUsers = ""
	}
	if err := cfg.Validate(); err != nil {
		return nil, &usageError{err.Error()}
	}
	return cfg, nil
}

// runServe runs `sesame serve` until SIGINT or SIGTERM.
func runServe(e *env, args []string) error {
	fs := newFlagSet("sesame serve", serveUsage, e.stderr)
	sf := newServeFlags(fs)
	printConfig := fs.Bool("print-config", false, "print the effective [serve] configuration as TOML and exit")
	exampleConfig := fs.Bool("example-config", false, "print a commented example configuration and exit")
	check := fs.Bool("check", false, "test the keytab (principals, encryption types, a ticket from the KDC) and exit")
	checkUser := fs.String("check-user", "", "with --check: get a ticket as this `USER` for each principal and decrypt it")
	var secret secretFlags
	fs.StringVar(&secret.passwordEnv, "password-env", "", "with --check-user: the password is in environment variable `VAR`")
	fs.BoolVar(&secret.passwordStdin, "password-stdin", false, "with --check-user: read the password from the first line of stdin")
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("unexpected argument %q", rest[0])
	}
	if *exampleConfig {
		_, err := io.WriteString(e.stdout, config.ServeExample)
		return err
	}
	cfg, err := sf.config(e)
	if err != nil {
		return err
	}
	if *printConfig {
		return toml.NewEncoder(e.stdout).Encode(struct {
			LogLevel string       `toml:"log_level"`
			Serve    config.Serve `toml:"serve"`
		}{cfg.LogLevel, cfg.Serve})
	}
	if *check {
		return runServeCheck(e, &cfg.Serve, *checkUser, &secret)
	}
	if *checkUser != "" || secret.given() {
		return usagef("--check-user, --password-env and --password-stdin go with --check")
	}
	if cfg.Serve.Backend == "" {
		return usagef("--backend URL is required (or serve.backend in the config file)")
	}
	return serve(e, sf, cfg)
}
