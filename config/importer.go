package config

import (
	"bufio"
	"fmt"
	"io"
	"net"
	"strings"
)

// ImportNote explains what happened to one setting of an imported file
// that sesame does not map one-to-one.
type ImportNote struct {
	Line     int
	Key, Msg string
}

func (n ImportNote) String() string { return fmt.Sprintf("line %d: %s: %s", n.Line, n.Key, n.Msg) }

// lineReader yields the non-comment lines of a cntlm- or ini-style file.
func eachLine(r io.Reader, comment string, fn func(n int, line string) error) error {
	sc := bufio.NewScanner(io.LimitReader(r, MaxFileSize))
	sc.Buffer(make([]byte, 64<<10), 64<<10)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.ContainsRune(comment, rune(line[0])) {
			continue
		}
		if err := fn(n, line); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%w: line %d: %v", ErrInvalid, n+1, err)
	}
	return nil
}

// listenAddr turns cntlm's and px's listen forms (a port, or addr:port)
// into host:port, on loopback unless gateway mode is on.
func listenAddr(v string, gateway bool) string {
	if _, _, err := net.SplitHostPort(v); err == nil {
		return v
	}
	if gateway {
		return net.JoinHostPort("0.0.0.0", v)
	}
	return net.JoinHostPort("127.0.0.1", v)
}

// ImportCntlm translates a cntlm.conf. Every cntlm key is either mapped
// or reported in the notes.
func ImportCntlm(r io.Reader) (*Config, []ImportNote, error) {
	c := Default()
	c.Listen = nil
	c.Auth.Schemes = []string{"ntlm"} // cntlm speaks NTLM only
	var notes []ImportNote
	note := func(n int, k, format string, args ...any) {
		notes = append(notes, ImportNote{n, k, fmt.Sprintf(format, args...)})
	}
	var listens []string
	gateway := false
	err := eachLine(r, "#;", func(n int, line string) error {
		key, val, _ := strings.Cut(line, " ")
		if i := strings.IndexAny(line, " \t"); i > 0 {
			key, val = line[:i], strings.TrimSpace(line[i:])
		}
		switch strings.ToLower(key) {
		case "username":
			c.Auth.User = val
		case "domain":
			c.Auth.Domain = val
		case "workstation":
			c.Auth.Workstation = val
		case "password":
			c.Auth.Password = val
			note(n, key, "mapped to auth.password, which keeps it in clear text: prefer `sesame hash` and auth.nt_hash")
		case "passnt":
			c.Auth.NTHash = val
		case "passntlmv2":
			c.Auth.NTLMv2Hash = val
		case "passlm":
			note(n, key, "unsupported: LM responses are never sent (crackable)")
		case "auth":
			switch strings.ToUpper(val) {
			case "NTLMV2":
			default:
				note(n, key, "%s unsupported: sesame sends NTLMv2 only (NTLMv1, NTLM2SR and LM are crackable)", val)
			}
		case "proxy":
			c.Upstreams = append(c.Upstreams, val)
		case "noproxy":
			c.NoProxy = append(c.NoProxy, splitList(val)...)
		case "listen":
			listens = append(listens, val)
		case "gateway":
			gateway = strings.EqualFold(val, "yes")
		case "allow":
			if val != "127.0.0.1" && val != "127.0.0.1/32" {
				c.Allow = append(c.Allow, cidr(val))
			}
		case "deny":
			if val != "0/0" && val != "0.0.0.0/0" {
				note(n, key, "unsupported: sesame serves only the allow-listed networks (and loopback); a deny list has nothing to add")
			}
		case "ntlmtobasic":
			c.NTLMToBasic = strings.EqualFold(val, "yes")
		case "header", "isascanneragent", "isascannersize", "flags", "socks5proxy", "socks5user", "tunnel":
			note(n, key, "unsupported in this version")
		default:
			note(n, key, "unknown cntlm setting, ignored")
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	for _, l := range listens {
		c.Listen = append(c.Listen, listenAddr(l, gateway))
	}
	if len(c.Listen) == 0 {
		c.Listen = []string{"127.0.0.1:3128"}
	}
	if gateway && len(c.Allow) == 0 {
		note(0, "Gateway", "gateway mode without Allow lines: sesame would refuse every remote client; add allow networks")
	}
	if c.Auth.Password != "" && (c.Auth.NTHash != "" || c.Auth.NTLMv2Hash != "") {
		c.Auth.Password = ""
		note(0, "Password", "dropped: a Pass* hash is configured too, and sesame takes one secret")
	}
	if c.Auth.NTHash != "" && c.Auth.NTLMv2Hash != "" {
		c.Auth.NTHash = ""
		note(0, "PassNT", "dropped in favour of PassNTLMv2 (sesame takes one secret)")
	}
	if err := c.Validate(); err != nil {
		return nil, notes, err
	}
	return c, notes, nil
}

// cidr accepts cntlm's "10.0.0.0/8" and "0/0" forms.
func cidr(v string) string {
	if v == "0/0" {
		return "0.0.0.0/0"
	}
	return v
}

// ImportPx translates a px.ini. Every px key is either mapped or
// reported in the notes.
func ImportPx(r io.Reader) (*Config, []ImportNote, error) {
	c := Default()
	var notes []ImportNote
	note := func(n int, k, format string, args ...any) {
		notes = append(notes, ImportNote{n, k, fmt.Sprintf(format, args...)})
	}
	section := ""
	port, listen := "3128", []string{"127.0.0.1"}
	gateway := false
	err := eachLine(r, "#;", func(n int, line string) error {
		if strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]") {
			section = strings.ToLower(strings.Trim(line, "[] "))
			return nil
		}
		key, val, ok := strings.Cut(line, "=")
		if !ok {
			key, val, ok = strings.Cut(line, ":")
		}
		if !ok {
			return fmt.Errorf("%w: line %d: %q is not key = value", ErrInvalid, n, line)
		}
		key, val = strings.ToLower(strings.TrimSpace(key)), strings.TrimSpace(val)
		switch section + "." + key {
		case "proxy.server":
			c.Upstreams = append(c.Upstreams, splitList(val)...)
		case "proxy.port":
			port = val
		case "proxy.listen":
			listen = splitList(val)
		case "proxy.gateway":
			gateway = val == "1" || strings.EqualFold(val, "true")
		case "proxy.allow":
			for _, a := range splitList(val) {
				if strings.ContainsAny(a, "*-") {
					note(n, key, "%q: wildcard and range forms are unsupported; write CIDR networks", a)
					continue
				}
				c.Allow = append(c.Allow, a)
			}
		case "proxy.noproxy":
			c.NoProxy = append(c.NoProxy, splitList(val)...)
		case "proxy.username":
			c.Auth.User = val
		case "proxy.auth":
			switch strings.ToUpper(val) {
			case "ANY", "ANYSAFE":
				c.Auth.Schemes = []string{"any"}
			case "NTLM":
				c.Auth.Schemes = []string{"ntlm"}
			case "NEGOTIATE", "KERBEROS":
				c.Auth.Schemes = []string{"negotiate"}
			case "DIGEST":
				c.Auth.Schemes = []string{"digest"}
			case "BASIC":
				c.Auth.Schemes = []string{"basic"}
			case "NONE":
				c.Auth = Auth{Schemes: []string{"any"}}
			default:
				note(n, key, "%s unsupported", val)
			}
		case "proxy.pac":
			c.PAC = val
		case "proxy.pac_encoding":
			note(n, key, "not needed: sesame detects the PAC file's encoding (UTF-8, UTF-16 with BOM, declared charset, else Latin-1)")
		case "proxy.hostonly", "proxy.useragent", "proxy.client_auth", "proxy.client_nosspi", "proxy.client_username":
			note(n, key, "unsupported in this version")
		case "settings.workers", "settings.threads":
			note(n, key, "not needed: sesame serves any number of connections concurrently")
		case "settings.idle", "settings.socktimeout", "settings.proxyreload", "settings.foreground", "settings.log":
			note(n, key, "unsupported in this version (sesame has fixed timeouts and logs to stderr)")
		default:
			note(n, key, "unknown px setting in [%s], ignored", section)
		}
		return nil
	})
	if err != nil {
		return nil, nil, err
	}
	if gateway {
		listen = []string{"0.0.0.0"}
	}
	c.Listen = nil
	for _, l := range listen {
		c.Listen = append(c.Listen, net.JoinHostPort(l, port))
	}
	if c.Auth.User != "" {
		note(0, "username", "px takes the password from the OS keyring; give sesame auth.password_env or auth.nt_hash (`sesame hash`)")
	}
	if err := c.Validate(); err != nil {
		return nil, notes, err
	}
	return c, notes, nil
}
