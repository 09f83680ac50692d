package kerberos

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/jcmturner/gokrb5/v8/config"
)

// DefaultConfigPath is the krb5.conf read when KRB5_CONFIG is not set.
const DefaultConfigPath = "/etc/krb5.conf"

// Config is a parsed krb5.conf: gokrb5's configuration plus the few
// settings it does not keep.
type Config struct {
	// Config is gokrb5's view: [libdefaults], [realms] (KDCs) and
	// [domain_realm].
	*config.Config
	// Path is the file it was read from ("" when parsed from a string).
	Path string
	// DefaultCCacheName is [libdefaults] default_ccache_name as written
	// (MIT's %{uid} style tokens unexpanded), or "".
	DefaultCCacheName string
	// KCMSocket is [libdefaults] kcm_socket: the KCM daemon's socket
	// ("" means DefaultKCMSocket).
	KCMSocket string
}

// LoadConfig reads the Kerberos configuration. With path "" it reads the
// first existing file of the colon-separated list in KRB5_CONFIG, or
// DefaultConfigPath when KRB5_CONFIG is unset, as MIT Kerberos does.
func LoadConfig(path string) (*Config, error) {
	if path == "" {
		path = DefaultConfigPath
		if env := os.Getenv("KRB5_CONFIG"); env != "" {
			path = ""
			for _, p := range filepath.SplitList(env) {
				if _, err := os.Stat(p); err == nil {
					path = p
					break
				}
			}
			if path == "" {
				return nil, fmt.Errorf("%w: none of the files in KRB5_CONFIG=%q exists", ErrConfig, env)
			}
		}
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	c, err := ParseConfig(b)
	if err != nil {
		return nil, fmt.Errorf("%w (%s)", err, path)
	}
	c.Path = path
	return c, nil
}

// ParseConfig parses the text of a krb5.conf.
func ParseConfig(text []byte) (*Config, error) {
	gc, err := config.NewFromString(string(text))
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrConfig, err)
	}
	return &Config{Config: gc, DefaultCCacheName: libdefault(text, "default_ccache_name"), KCMSocket: libdefault(text, "kcm_socket")}, nil
}

// libdefault returns the value of key in [libdefaults], which gokrb5
// does not keep for a few keys.
func libdefault(text []byte, key string) string {
	sc := bufio.NewScanner(bytes.NewReader(text))
	in := false
	for sc.Scan() {
		l := strings.TrimSpace(sc.Text())
		if strings.HasPrefix(l, "#") || strings.HasPrefix(l, ";") || l == "" {
			continue
		}
		if strings.HasPrefix(l, "[") {
			in = strings.HasPrefix(l, "[libdefaults]")
			continue
		}
		if !in {
			continue
		}
		k, v, ok := strings.Cut(l, "=")
		if ok && strings.TrimSpace(k) == key {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

// RealmFor returns the realm of a host: the most specific [domain_realm]
// entry, else the default realm.
func (c *Config) RealmFor(host string) string {
	if r := c.ResolveRealm(strings.ToLower(host)); r != "" {
		return r
	}
	return c.LibDefaults.DefaultRealm
}

// CCachePath returns the file of the credential cache to use: name if
// set, else KRB5CCNAME, else default_ccache_name from cfg (may be nil),
// else /tmp/krb5cc_<uid>. A "FILE:" prefix is removed; any other type
// (KCM:, KEYRING:, DIR:, MEMORY:, API:) yields an error wrapping
// ErrUnsupportedCCache.
func CCachePath(name string, cfg *Config) (string, error) {
	if name == "" {
		name = os.Getenv("KRB5CCNAME")
	}
	if name == "" && cfg != nil {
		name = expandTokens(cfg.DefaultCCacheName)
	}
	if name == "" {
		name = "FILE:/tmp/krb5cc_" + strconv.Itoa(os.Getuid())
	}
	typ, rest, ok := strings.Cut(name, ":")
	switch {
	case !ok || strings.HasPrefix(name, "/"):
		return name, nil
	case strings.EqualFold(typ, "FILE"):
		if rest == "" {
			return "", fmt.Errorf("%w: empty FILE: cache name", ErrConfig)
		}
		return rest, nil
	default:
		return "", fmt.Errorf("%w: %q is a %s cache; gokrb5 reads FILE caches only: run kinit -c FILE:/tmp/krb5cc_%d (or set KRB5CCNAME=FILE:...) and use that", ErrUnsupportedCCache, name, strings.ToUpper(typ), os.Getuid())
	}
}

// expandTokens expands the MIT path tokens %{uid}, %{euid}, %{TEMP} and
// %{username} in a ccache name.
func expandTokens(s string) string {
	if !strings.Contains(s, "%{") {
		return s
	}
	tmp := os.Getenv("TMPDIR")
	if tmp == "" {
		tmp = "/tmp"
	}
	name := ""
	if u, err := user.Current(); err == nil {
		name = u.Username
	}
	return strings.NewReplacer(
		"%{uid}", strconv.Itoa(os.Getuid()),
		"%{euid}", strconv.Itoa(os.Geteuid()),
		"%{TEMP}", tmp,
		"%{username}", name,
	).Replace(s)
}
