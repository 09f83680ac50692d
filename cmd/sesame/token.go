package main

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/sesame-auth/sesame/ntlm"
)

const (
	negotiateUsage = `sesame token negotiate [--domain D] [--workstation W] [--anonymous] [--hex|--raw]
       sesame token negotiate --sspi [--user 'DOMAIN\user' (--password-stdin | --password-env VAR)] [--hex|--raw]`
	authenticateUsage = `sesame token authenticate --user 'DOMAIN\user' (--password-stdin | --password-env VAR | --nt-hash HEX)
                 --challenge TOKEN [--negotiate TOKEN] [--workstation W] [--server-cert FILE]
                 [--spn HTTP/host] [--ntlm-version 1|2] [--sspi] [--hex|--raw]`
	decodeUsage = `sesame token decode [--json] [--password-stdin | --password-env VAR | --nt-hash HEX] [--hex|--raw] [TOKEN...]

Without TOKEN the tokens are read from stdin, separated by white space; a
pasted header line ("WWW-Authenticate: NTLM TlRM...") works as it is.`
	tokenUsage = negotiateUsage + "\n       " + authenticateUsage + "\n       " + decodeUsage
)

func runToken(e *env, args []string) error {
	if len(args) == 0 {
		fmt.Fprintf(e.stderr, "usage: %s\n", tokenUsage)
		return usagef("missing subcommand")
	}
	switch args[0] {
	case "negotiate":
		return tokenNegotiate(e, args[1:])
	case "authenticate":
		return tokenAuthenticate(e, args[1:])
	case "decode":
		return tokenDecode(e, args[1:])
	case "-h", "--help", "help":
		// Each subcommand's synopsis and flags, not only the synopses.
		for i, sub := range []func(*env, []string) error{tokenNegotiate, tokenAuthenticate, tokenDecode} {
			if i > 0 {
				fmt.Fprintln(e.stderr)
			}
			sub(e, []string{"-h"})
		}
		return errHelp
	}
	return usagef("unknown subcommand %q (negotiate, authenticate, decode)", args[0])
}

// tokenNegotiate prints a NEGOTIATE message, the first leg of NTLM.
func tokenNegotiate(e *env, args []string) error {
	fs := newFlagSet("sesame token negotiate", negotiateUsage, e.stderr)
	domain := fs.String("domain", "", "domain name to announce (OEM_DOMAIN_SUPPLIED), Windows sends none; with --sspi the account's domain")
	workstation := fs.String("workstation", "", "workstation name to announce (OEM_WORKSTATION_SUPPLIED)")
	anonymous := fs.Bool("anonymous", false, "ask for an anonymous logon (NEGOTIATE_ANONYMOUS)")
	var sf sspiTokenFlags
	sf.register(fs)
	var format tokenFormat
	format.register(fs)
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("unexpected argument %q", rest[0])
	}
	if err := format.check(); err != nil {
		return err
	}
	if !sf.sspi && (sf.user != "" || sf.secret.given()) {
		return usagef("--user, --password-stdin and --password-env go with --sspi (sesame's own NEGOTIATE names no account)")
	}
	if sf.sspi {
		if *workstation != "" || *anonymous {
			return usagef("--workstation and --anonymous are not for --sspi: Windows' NTLM package writes its own NEGOTIATE")
		}
		return sspiTokenNegotiate(e, &sf, *domain, &format)
	}
	// An empty Client is an anonymous one; the token for a real account
	// differs only in that flag, so the flags are set here directly.
	b, err := (&ntlm.Client{}).Negotiate()
	if err != nil {
		return err
	}
	m, err := ntlm.ParseNegotiate(b)
	if err != nil {
		return err
	}
	if !*anonymous {
		m.Flags &^= ntlm.FlagAnonymous
	}
	m.Domain, m.Workstation = *domain, *workstation
	if b, err = m.Marshal(); err != nil {
		return err
	}
	return format.encode(e.stdout, b)
}

// tokenAuthenticate answers a CHALLENGE, the third leg of NTLM.
func tokenAuthenticate(e *env, args []string) error {
	fs := newFlagSet("sesame token authenticate", authenticateUsage, e.stderr)
	user := fs.String("user", "", "account as `DOMAIN\\user`, user@domain, or user with --domain")
	domain := fs.String("domain", "", "domain, if --user does not include one")
	challenge := fs.String("challenge", "", "the server's CHALLENGE `TOKEN` (required)")
	negotiate := fs.String("negotiate", "", "the NEGOTIATE `TOKEN` that was sent; with it the answer carries a MIC")
	workstation := fs.String("workstation", "", "workstation name to send")
	serverCert := fs.String("server-cert", "", "TLS server certificate `FILE` (PEM or DER) for channel bindings; on Windows also a thumbprint or subject in the MY or ROOT store")
	spn := fs.String("spn", "", "target `SPN` to send as MsvAvTargetName, e.g. HTTP/proxy.example.com")
	version := fs.Int("ntlm-version", 2, "NTLM version: 2, or 1 for legacy servers (crackable)")
	sspiFlag := fs.Bool("sspi", false, "make the AUTHENTICATE with Windows' own NTLM package (SSPI), not sesame's; without --user as the logged-on user")
	var secret secretFlags
	secret.register(fs)
	var format tokenFormat
	format.register(fs)
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(rest) > 0:
		return usagef("unexpected argument %q", rest[0])
	case *user == "" && !*sspiFlag:
		return usagef("--user is required")
	case *challenge == "":
		return usagef("--challenge is required")
	case *version != 1 && *version != 2:
		return usagef("--ntlm-version must be 1 or 2")
	}
	if err := format.check(); err != nil {
		return err
	}
	if format.raw && *challenge == "-" && *negotiate == "-" {
		return usagef("only one token can come from stdin")
	}
	if secret.passwordStdin && format.raw && (*challenge == "-" || *negotiate == "-") {
		return usagef("the password and a raw token cannot both come from stdin")
	}
	if *sspiFlag {
		return sspiTokenAuthenticate(e, &sspiAuthArgs{user: *user, domain: *domain, challenge: *challenge, negotiate: *negotiate,
			serverCert: *serverCert, spn: *spn, version: *version, workstation: *workstation}, &secret, &format)
	}
	c := &ntlm.Client{User: *user, Domain: *domain, Workstation: *workstation, TargetSPN: *spn}
	if *version == 1 {
		c.Compatibility = ntlm.AllowNTLMv1
	}
	if c.Password, c.NTHash, err = secret.read(e); err != nil {
		return err
	}
	if *serverCert != "" {
		if c.ServerCertificate, err = loadServerCert(*serverCert); err != nil {
			return err
		}
	}
	chal, err := format.decode(e, *challenge)
	if err != nil {
		return fmt.Errorf("--challenge: %w", err)
	}
	chal, _ = unwrapNTLM(chal)
	var neg []byte
	if *negotiate != "" {
		if neg, err = format.decode(e, *negotiate); err != nil {
			return fmt.Errorf("--negotiate: %w", err)
		}
		neg, _ = unwrapNTLM(neg)
	}
	a, err := c.Authenticate(neg, chal)
	if err != nil {
		return err
	}
	return format.encode(e.stdout, a.Message)
}

// decodeOutput is the JSON form of "sesame token decode --json".
type decodeOutput struct {
	Messages []*ntlm.Description `json:"messages"`
	Check    *ntlm.ExchangeCheck `json:"check,omitempty"`
}

// tokenDecode dumps tokens and, given the secret, checks an exchange.
func tokenDecode(e *env, args []string) error {
	fs := newFlagSet("sesame token decode", decodeUsage, e.stderr)
	asJSON := fs.Bool("json", false, "print JSON instead of text")
	var secret secretFlags
	secret.register(fs)
	var format tokenFormat
	format.register(fs)
	tokens, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if err := format.check(); err != nil {
		return err
	}
	if len(tokens) == 0 {
		if tokens, err = tokensFromStdin(e, format, secret.passwordStdin); err != nil {
			return err
		}
	}
	var out decodeOutput
	raw := map[string][]byte{}
	for i, arg := range tokens {
		b, err := format.decode(e, arg)
		if err != nil {
			return fmt.Errorf("token %d: %w", i+1, err)
		}
		msg, offset := unwrapNTLM(b)
		d, err := ntlm.Describe(msg)
		if err != nil {
			return fmt.Errorf("token %d: %w", i+1, err)
		}
		if offset > 0 && !*asJSON {
			fmt.Fprintf(e.stdout, "(NTLM message found at byte %d of a %d-byte token, inside SPNEGO)\n", offset, len(b))
		}
		out.Messages = append(out.Messages, d)
		raw[d.Type] = msg
		if !*asJSON {
			fmt.Fprint(e.stdout, d.String())
		}
	}
	if secret.given() {
		if raw["CHALLENGE"] == nil || raw["AUTHENTICATE"] == nil {
			return usagef("checking a password needs the CHALLENGE and the AUTHENTICATE of one exchange")
		}
		password, ntHash, err := secret.read(e)
		if err != nil {
			return err
		}
		if ntHash == nil {
			ntHash = ntlm.NTHash(password)
		}
		if out.Check, err = ntlm.CheckExchange(raw["NEGOTIATE"], raw["CHALLENGE"], raw["AUTHENTICATE"], ntHash); err != nil {
			return err
		}
		if !*asJSON {
			printCheck(e, out.Check)
		}
	}
	if *asJSON {
		enc := json.NewEncoder(e.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
	}
	if out.Check != nil && !out.Check.ProofValid {
		return fmt.Errorf("the %s response does not match the password for %s\\%s", out.Check.Response, out.Check.Domain, out.Check.User)
	}
	return nil
}

func printCheck(e *env, c *ntlm.ExchangeCheck) {
	verdict := "VALID"
	if !c.ProofValid {
		verdict = "INVALID (wrong password, or the AUTHENTICATE does not answer this CHALLENGE)"
	}
	fmt.Fprintf(e.stdout, "Check against the given secret:\n")
	fmt.Fprintf(e.stdout, "  %-26s %s\n", "Response "+c.Response+":", verdict)
	if c.ProofValid {
		fmt.Fprintf(e.stdout, "  %-26s %s\n", "SessionBaseKey:", c.SessionBaseKey)
		fmt.Fprintf(e.stdout, "  %-26s %s\n", "KeyExchangeKey:", c.KeyExchangeKey)
		fmt.Fprintf(e.stdout, "  %-26s %s\n", "ExportedSessionKey:", c.ExportedSessionKey)
		fmt.Fprintf(e.stdout, "  %-26s %s\n", "MIC:", c.MIC)
	}
}

// tokensFromStdin reads the tokens "sesame token decode" got none of on
// its command line: whitespace-separated words of stdin, header names and
// scheme names (pasted with the token) left out; with --raw, stdin is one
// token.
func tokensFromStdin(e *env, format tokenFormat, passwordStdin bool) ([]string, error) {
	if passwordStdin {
		return nil, usagef("no token given (stdin carries the password)")
	}
	if format.raw {
		return []string{"-"}, nil
	}
	b, err := io.ReadAll(io.LimitReader(e.stdin, 1<<20))
	if err != nil {
		return nil, fmt.Errorf("reading tokens from stdin: %w", err)
	}
	var tokens []string
	for _, w := range strings.Fields(string(b)) {
		switch {
		case strings.HasSuffix(w, ":"), strings.EqualFold(w, "NTLM"), strings.EqualFold(w, "Negotiate"):
			continue
		}
		tokens = append(tokens, w)
	}
	if len(tokens) == 0 {
		return nil, usagef("no token given, on the command line or stdin")
	}
	return tokens, nil
}
