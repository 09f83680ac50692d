package main

import (
	"encoding/hex"
	"fmt"
	"strings"

	"github.com/sesame-auth/sesame/ntlm"
)

// runHash prints the hashes of a password in the form cntlm -H prints
// them, which sesame's proxy configuration accepts, so the password
// itself never has to be stored.
func runHash(e *env, args []string) error {
	fs := newFlagSet("sesame hash", `sesame hash --user 'DOMAIN\user' [--lm]   (password on stdin)`, e.stderr)
	user := fs.String("user", "", "account as `DOMAIN\\user` or user@domain (required: the NTLMv2 hash depends on it)")
	domain := fs.String("domain", "", "domain, if --user does not include one")
	lm := fs.Bool("lm", false, "also print the LM hash (only for legacy servers; it is easily cracked)")
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("unexpected argument %q (the password is read from stdin)", rest[0])
	}
	if *user == "" {
		return usagef("--user is required")
	}
	u, d := *user, *domain
	if d == "" {
		u, d = ntlm.SplitUser(u)
	}
	password, err := readPassword(e, "Password: ")
	if err != nil {
		return err
	}
	nt := ntlm.NTHash(password)
	if *lm {
		fmt.Fprintf(e.stdout, "PassLM          %s\n", strings.ToUpper(hex.EncodeToString(ntlm.LMHash(password))))
	}
	fmt.Fprintf(e.stdout, "PassNT          %s\n", strings.ToUpper(hex.EncodeToString(nt)))
	fmt.Fprintf(e.stdout, "PassNTLMv2      %s    # Only for user '%s', domain '%s'\n",
		strings.ToUpper(hex.EncodeToString(ntlm.NTLMv2Hash(nt, u, d))), u, d)
	return nil
}
