package config

import (
	"errors"
	"strings"
	"testing"
)

func TestExampleParses(t *testing.T) {
	c, err := Parse(strings.NewReader(Example))
	if err != nil {
		t.Fatal(err)
	}
	if c.Listen[0] != "127.0.0.1:3128" || len(c.Upstreams) != 2 || c.Auth.User != `CORP\alice` || c.LogLevel != "info" {
		t.Errorf("example decoded as %+v", c)
	}
	// Round trip through Marshal.
	b, err := c.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	c2, err := Parse(strings.NewReader(string(b)))
	if err != nil || c2.Auth.User != c.Auth.User || len(c2.NoProxy) != len(c.NoProxy) {
		t.Errorf("round trip: %+v, %v\n%s", c2, err, b)
	}
}

func TestParseErrors(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`listn = ["x"]`, "unknown key listn"},
		{"[auth]\nusr = 'x'", "unknown key auth.usr"},
		{`log_level = "loud"`, "log_level"},
		{`allow = ["10.0.0.0/99"]`, "allow"},
		{"[auth]\nschemes = ['kerberos5']", "unknown scheme"},
		{"[auth]\nuser='a'\npassword='x'\nnt_hash='y'", "exclude"},
		{"[auth]\npassword='x'", "needs auth.user"},
		{`listen = "not a list"`, "invalid"},
		{`listen = []`, "at least one"},
		{"= broken", "invalid"},
		{"[auth]\nmutual = 'strict'", `auth.mutual must be required, optional or disabled, not "strict"`},
		{"[auth]\nmutual = true", "invalid"},
		{"[auth]\nmech = 'ntlmv2'", `auth.mech must be kerberos, ntlm, spnego or one of their OIDs`},
		{"[auth]\nmech = '1.2.3'", `not "1.2.3"`},
		{"[auth]\nprincipal = 'bob'", `auth.principal wants user@REALM, not "bob"`},
		{"[auth]\nprincipal = '@CORP.TEST'", "auth.principal wants user@REALM"},
		{"[auth]\nuser = 'alice'\nprincipal = 'bob@CORP.TEST'", "give one of them"},
		{"[auth]\nmutual = 'optional'\nsanitize_mutual_error = true", "auth.sanitize_mutual_error goes with auth.mutual required"},
		{"[auth]\nspn = 'HTTP/proxy corp'", "auth.spn"},
		{"[auth]\nmechs = 'ntlm'", "unknown key auth.mechs (did you mean auth.mech?)"},
	} {
		_, err := Parse(strings.NewReader(tc.in))
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("Parse(%q) = %v, want ErrInvalid mentioning %q", tc.in, err, tc.want)
		}
		if err != nil && strings.Contains(err.Error(), "'x'") {
			t.Errorf("error quotes a secret: %v", err)
		}
	}
	if _, err := Parse(strings.NewReader(strings.Repeat("#", MaxFileSize+1))); !errors.Is(err, ErrInvalid) {
		t.Errorf("oversized file: %v", err)
	}
}

// httpx-gssapi's options in [auth]: any case for the names, OIDs for
// the mechanisms; Negotiate normalizes them as the proxy uses them.
func TestParseNegotiateOptions(t *testing.T) {
	for _, tc := range []struct{ in, mutual, mech string }{
		{"", "", ""},
		{"mutual = 'Required'\nmech = 'KERBEROS'", "required", "kerberos"},
		{"mutual = 'disabled'\nmech = '1.2.840.48018.1.2.2'", "disabled", "kerberos"},
		{"mutual = 'optional'\nmech = '1.3.6.1.4.1.311.2.2.10'", "optional", "ntlm"},
		{"mech = 'spnego'\nopportunistic = true\nspn = 'HTTP/proxy.corp.example'\nprincipal = 'bob@CORP.TEST'\nsanitize_mutual_error = true", "", "spnego"},
	} {
		c, err := Parse(strings.NewReader("[auth]\n" + tc.in))
		if err != nil {
			t.Errorf("%q: %v", tc.in, err)
			continue
		}
		o := c.Auth.Negotiate()
		if err := o.Normalize(func(k string) string { return k }); err != nil || o.Mutual != tc.mutual || o.Mech != tc.mech {
			t.Errorf("%q: %+v %v, want mutual %q mech %q", tc.in, o, err, tc.mutual, tc.mech)
		}
		// Settings survive --print-config and the changes-only form.
		for _, enc := range []func() ([]byte, error){c.Marshal, c.MarshalChanges} {
			b, err := enc()
			if err != nil {
				t.Fatal(err)
			}
			c2, err := Parse(strings.NewReader(string(b)))
			if err != nil || c2.Auth.Negotiate() != c.Auth.Negotiate() || c2.Auth.SPN != c.Auth.SPN {
				t.Errorf("%q: round trip: %+v, %v\n%s", tc.in, c2.Auth, err, b)
			}
		}
	}
}

func TestApplyEnv(t *testing.T) {
	c := Default()
	env := map[string]string{
		"SESAME_LISTEN": "127.0.0.1:4000, [::1]:4000", "SESAME_UPSTREAMS": "a:1,b:2", "SESAME_USER": `CORP\bob`,
		"SESAME_NT_HASH": "874649A24F9823FA52D36ADFABF89D8E", "SESAME_DIRECT_FALLBACK": "yes", "SESAME_AUTH": "ntlm",
	}
	if err := c.ApplyEnv(func(k string) string { return env[k] }); err != nil {
		t.Fatal(err)
	}
	if len(c.Listen) != 2 || c.Upstreams[1] != "b:2" || c.Auth.User != `CORP\bob` || !c.DirectFallback || c.Auth.Schemes[0] != "ntlm" {
		t.Errorf("after env: %+v", c)
	}
	env["SESAME_DIRECT_FALLBACK"] = "maybe"
	if err := c.ApplyEnv(func(k string) string { return env[k] }); !errors.Is(err, ErrInvalid) {
		t.Errorf("bad boolean: %v", err)
	}
}

// A cntlm.conf like the one cntlm's Debian package ships, filled in.
const cntlmConf = `#
# Cntlm Authentication Proxy Configuration
#
Username	alice
Domain		CORP
Password	AlicePass123
# PassLM          1AD35398BE6565DDB5C4EF70C0593492
PassNTLMv2      431D0A1CE0217BB22111069BF6954BDD
Workstation	LAPTOP42
Proxy		10.0.0.41:8080
Proxy		10.0.0.42:8080
NoProxy		localhost, 127.0.0.*, 10.*, 192.168.*
Listen		3128
Listen		127.0.0.1:3129
Auth		NTLMv2
Gateway	yes
Allow		127.0.0.1
Allow		10.0.0.0/8
Deny		0/0
Header		User-Agent: Mozilla/4.0
ISAScannerSize	1024
Tunnel		11443:remote.com:443
Frobnicate	1
`

func TestImportCntlm(t *testing.T) {
	c, notes, err := ImportCntlm(strings.NewReader(cntlmConf))
	if err != nil {
		t.Fatal(err)
	}
	if c.Auth.User != "alice" || c.Auth.Domain != "CORP" || c.Auth.Workstation != "LAPTOP42" ||
		c.Auth.NTLMv2Hash != "431D0A1CE0217BB22111069BF6954BDD" || c.Auth.Password != "" {
		t.Errorf("auth %+v", c.Auth)
	}
	if strings.Join(c.Upstreams, " ") != "10.0.0.41:8080 10.0.0.42:8080" || len(c.NoProxy) != 4 {
		t.Errorf("routing %v %v", c.Upstreams, c.NoProxy)
	}
	if strings.Join(c.Listen, " ") != "0.0.0.0:3128 127.0.0.1:3129" || strings.Join(c.Allow, " ") != "10.0.0.0/8" {
		t.Errorf("listen %v allow %v", c.Listen, c.Allow)
	}
	text := ""
	for _, n := range notes {
		text += n.String() + "\n"
	}
	for _, want := range []string{"Header", "ISAScannerSize", "Tunnel", "Frobnicate: unknown", "Password: dropped", "clear text"} {
		if !strings.Contains(text, want) {
			t.Errorf("notes lack %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "AlicePass123") {
		t.Errorf("notes quote the password:\n%s", text)
	}
	// Auth NTLM (v1) is reported, never silently downgraded or upgraded.
	_, notes, _ = ImportCntlm(strings.NewReader("Username a\nAuth NTLM\n"))
	if len(notes) != 1 || !strings.Contains(notes[0].Msg, "NTLMv2 only") {
		t.Errorf("Auth NTLM notes: %v", notes)
	}
}

const pxIni = `[proxy]
server = proxy1.corp.example:8080,proxy2.corp.example:8080
pac = http://wpad.corp.example/wpad.dat
pac_encoding = latin-1
port = 3128
listen = 127.0.0.1
gateway = 0
allow = 10.0.0.0/8, 192.168.*.*
noproxy = 127.0.0.*,*.corp.example
useragent =
username = CORP\alice
auth = NTLM

[settings]
workers = 2
threads = 32
idle = 30
socktimeout = 20.0
log = 0
`

func TestImportPx(t *testing.T) {
	c, notes, err := ImportPx(strings.NewReader(pxIni))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(c.Upstreams, " ") != "proxy1.corp.example:8080 proxy2.corp.example:8080" || c.Listen[0] != "127.0.0.1:3128" ||
		c.Auth.User != `CORP\alice` || c.Auth.Schemes[0] != "ntlm" || strings.Join(c.Allow, " ") != "10.0.0.0/8" {
		t.Errorf("imported %+v", c)
	}
	text := ""
	for _, n := range notes {
		text += n.String() + "\n"
	}
	if c.PAC != "http://wpad.corp.example/wpad.dat" {
		t.Errorf("pac = %q", c.PAC)
	}
	for _, want := range []string{"pac_encoding", "192.168.*.*", "workers", "useragent", "keyring"} {
		if !strings.Contains(text, want) {
			t.Errorf("notes lack %q:\n%s", want, text)
		}
	}
	if _, _, err := ImportPx(strings.NewReader("[proxy]\nnot a pair\n")); !errors.Is(err, ErrInvalid) {
		t.Errorf("malformed px.ini: %v", err)
	}
}

func FuzzParse(f *testing.F) {
	f.Add(Example)
	f.Add("listen = ['127.0.0.1:1']\n[auth]\nuser = 'a'\nnt_hash = 'b'\n")
	f.Add("[auth\n")
	f.Add("[auth]\nmutual = 'optional'\nmech = '1.3.6.1.4.1.311.2.2.10'\nopportunistic = true\n")
	f.Add("[auth]\nprincipal = 'bob@CORP.TEST'\nspn = 'HTTP/proxy.corp.example'\nsanitize_mutual_error = true\nmech = 'Kerberos'\n")
	f.Add("[auth]\nmutual = 'disabled'\nsanitize_mutual_error = true\n")
	f.Fuzz(func(t *testing.T, s string) {
		c, err := Parse(strings.NewReader(s))
		if err != nil {
			return
		}
		if err := c.Validate(); err != nil {
			t.Fatalf("Parse returned a config that does not validate: %v", err)
		}
	})
}

func FuzzImport(f *testing.F) {
	f.Add(cntlmConf, true)
	f.Add(pxIni, false)
	f.Fuzz(func(t *testing.T, s string, cntlm bool) {
		var c *Config
		var err error
		if cntlm {
			c, _, err = ImportCntlm(strings.NewReader(s))
		} else {
			c, _, err = ImportPx(strings.NewReader(s))
		}
		if err == nil {
			if err := c.Validate(); err != nil {
				t.Fatalf("import returned an invalid config: %v", err)
			}
		}
	})
}

// With NO_PROXY and no_proxy unset, the proxy's flags gave NoProxy [","]
// and --print-config showed no_proxy = [","].
func TestNoProxyNormalized(t *testing.T) {
	for _, tc := range []struct {
		in   []string
		want string
	}{
		{[]string{","}, ""},
		{[]string{"" + "," + ""}, ""},
		{[]string{".corp.example,localhost" + "," + ".corp.example"}, ".corp.example|localhost"},
		{[]string{"a.test b.test", "c.test"}, "a.test|b.test|c.test"},
	} {
		c := Default()
		c.NoProxy = tc.in
		if err := c.Validate(); err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(c.NoProxy, "|"); got != tc.want {
			t.Errorf("NoProxy %q normalised to %q, want %q", tc.in, got, tc.want)
		}
		b, err := c.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		if line := noProxyLine(string(b)); strings.Contains(line, `","`) || strings.Contains(line, `""`) {
			t.Errorf("NoProxy %q marshals as\n%s", tc.in, b)
		}
	}
	if l := NoProxyList("", ""); len(l) != 0 {
		t.Errorf("NoProxyList of unset variables = %q", l)
	}
}

func TestMarshalChanges(t *testing.T) {
	b, err := Default().MarshalChanges()
	if err != nil || len(b) != 0 {
		t.Fatalf("defaults: %q, %v", b, err)
	}
	c := Default()
	c.Upstreams = []string{"proxy.corp:8080"}
	c.Auth.Schemes = []string{"ntlm"}
	c.Auth.User = `CORP\alice`
	c.Auth.PasswordEnv = "PW"
	b, err = c.MarshalChanges()
	if err != nil {
		t.Fatal(err)
	}
	want := "upstreams = [\"proxy.corp:8080\"]\n\n[auth]\nschemes = [\"ntlm\"]\nuser = \"CORP\\\\alice\"\npassword_env = \"PW\"\n"
	if string(b) != want {
		t.Errorf("MarshalChanges:\n%s\nwant:\n%s", b, want)
	}
	// It parses back to the same configuration.
	back, err := Parse(strings.NewReader(string(b)))
	if err != nil {
		t.Fatal(err)
	}
	full1, _ := c.Marshal()
	full2, _ := back.Marshal()
	if string(full1) != string(full2) {
		t.Errorf("round trip:\n%s\nvs\n%s", full1, full2)
	}
	// Only auth changed: the table alone.
	c = Default()
	c.Auth.User = "bob"
	if b, _ := c.MarshalChanges(); string(b) != "[auth]\nuser = \"bob\"\n" {
		t.Errorf("auth only: %q", b)
	}
}

func noProxyLine(toml string) string {
	for _, l := range strings.Split(toml, "\n") {
		if strings.HasPrefix(l, "no_proxy") {
			return l
		}
	}
	return ""
}
