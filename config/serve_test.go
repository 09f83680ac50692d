package config

import (
	"errors"
	"strings"
	"testing"
)

func TestServeExampleParses(t *testing.T) {
	c, err := Parse(strings.NewReader(ServeExample))
	if err != nil {
		t.Fatal(err)
	}
	s := c.Serve
	if s.Backend != "http://127.0.0.1:3000" || s.Mode != "required" || s.UserHeader != "X-Remote-User" || s.LoginPath != "/login" {
		t.Errorf("example decoded as %+v", s)
	}
	// The proxy's settings keep their defaults beside a [serve] table.
	if c.Listen[0] != "127.0.0.1:3128" {
		t.Errorf("proxy listen %v", c.Listen)
	}
	b, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	c2, err := Parse(strings.NewReader(string(b)))
	if err != nil || c2.Serve.Backend != s.Backend {
		t.Errorf("round trip: %+v, %v\n%s", c2, err, b)
	}
	// Only what differs from the defaults, under [serve].
	c.Serve = DefaultServe()
	c.Serve.Backend = "http://app:3000"
	ch, err := c.MarshalChanges()
	if err != nil || !strings.Contains(string(ch), "[serve]\nbackend = \"http://app:3000\"") {
		t.Errorf("MarshalChanges: %v\n%s", err, ch)
	}
}

func TestServeParseErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"[serve]\nbackend = 'ftp://x'", "serve.backend"},
		{"[serve]\nbackend = 'not a url'", "serve.backend"},
		{"[serve]\nlisten = []", "serve.listen"},
		{"[serve]\nlisten = ['nohostport']", "serve.listen"},
		{"[serve]\nallow = ['10.0.0.0/99']", "serve.allow"},
		{"[serve]\ntls_cert = 'a.pem'", "tls_key go together"},
		{"[serve]\nschemes = ['kerberos']", "unknown scheme"},
		{"[serve]\nchannel_binding = 'maybe'", "channel_binding"},
		{"[serve]\nntlm_users = 'a'\nntlm_hashes = 'b'", "exclude"},
		{"[serve]\nwinbind = true\nntlm_users = 'a'", "winbind excludes"},
		{"[serve]\nmode = 'sometimes'", "serve.mode"},
		{"[serve]\noff_paths = ['static/']", "does not start with /"},
		{"[serve]\nlogin_path = 'login'", "login_path"},
		{"[serve]\nuser_header = 'X Remote User'", "not a header name"},
		{"[serve]\ngroups_header = 'x_remote_user'", "name the same header"},
		{"[serve]\nuser_format = 'upn'", "user_format"},
		{"[serve]\nldap_url = 'http://dc'", "ldap_url"},
		{"[serve]\nldap_url = 'ldap://dc'", "ldap_base_dn"},
		{"[serve]\nbakend = 'x'", "unknown key serve.bakend"},
	} {
		_, err := Parse(strings.NewReader(tc.in))
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want ErrInvalid mentioning %q", tc.in, err, tc.want)
		}
	}
}

func TestHeaderKey(t *testing.T) {
	for in, want := range map[string]string{"X-Remote-User": "x-remote-user", "X_REMOTE_USER": "x-remote-user", " x_remote-User ": "x-remote-user"} {
		if got := HeaderKey(in); got != want {
			t.Errorf("HeaderKey(%q) = %q, want %q", in, got, want)
		}
	}
}
