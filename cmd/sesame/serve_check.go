package main

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/keytab"

	"github.com/sesame-auth/sesame/config"
	"github.com/sesame-auth/sesame/kerberos"
)

// serveKeytabPath is the keytab `sesame serve` uses: the configured
// one, else KRB5_KTNAME (MIT's "FILE:" prefix allowed).
func serveKeytabPath(e *env, s *config.Serve) (string, error) {
	if s.Keytab != "" {
		return s.Keytab, nil
	}
	kt := e.getenv("KRB5_KTNAME")
	if kt == "" {
		return "", usagef("no keytab: give --keytab FILE (or serve.keytab, or KRB5_KTNAME)")
	}
	if typ, rest, ok := strings.Cut(kt, ":"); ok && len(typ) > 1 {
		if !strings.EqualFold(typ, "FILE") {
			return "", fmt.Errorf("KRB5_KTNAME=%s: only FILE keytabs can be read", kt)
		}
		kt = rest
	}
	return kt, nil
}

// keytabEntry is one service principal of a keytab with its keys.
type keytabEntry struct {
	principal string // HTTP/www.corp.test@CORP.TEST
	kvno      uint32
	etypes    []string
}

// keytabPrincipals groups a keytab's entries by principal, newest key
// version only (older ones are kept in keytabs for tickets still out).
func keytabPrincipals(kt *keytab.Keytab) []keytabEntry {
	byName := map[string]*keytabEntry{}
	for _, e := range kt.Entries {
		name := strings.Join(e.Principal.Components, "/") + "@" + e.Principal.Realm
		cur, ok := byName[name]
		if !ok || e.KVNO > cur.kvno {
			cur = &keytabEntry{principal: name, kvno: e.KVNO}
			byName[name] = cur
		}
		if e.KVNO == cur.kvno {
			cur.etypes = append(cur.etypes, etypeName(e.Key.KeyType))
		}
	}
	var out []keytabEntry
	for _, e := range byName {
		out = append(out, *e)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].principal < out[j].principal })
	return out
}

// etypeName names an encryption type by its longest (MIT's full) name,
// marking the weak ones.
func etypeName(id int32) string {
	name := ""
	for n, v := range etypeID.ETypesByName {
		if v == id && (len(n) > len(name) || len(n) == len(name) && n < name) {
			name = n
		}
	}
	if name == "" {
		return fmt.Sprintf("etype-%d", id)
	}
	switch id {
	case etypeID.RC4_HMAC, etypeID.DES3_CBC_SHA1_KD, etypeID.DES_CBC_MD5, etypeID.DES_CBC_CRC:
		return name + " (weak)"
	}
	return name
}

// runServeCheck is `sesame serve --check`: what the keytab holds, and,
// with a user, whether it decrypts the tickets a KDC issues for it.
func runServeCheck(e *env, s *config.Serve, user string, secret *secretFlags) error {
	path, err := serveKeytabPath(e, s)
	if err != nil {
		return err
	}
	kt, err := kerberos.LoadKeytab(path)
	if err != nil {
		return err
	}
	entries := keytabPrincipals(kt)
	if len(entries) == 0 {
		return fmt.Errorf("keytab %s holds no keys", path)
	}
	fmt.Fprintf(e.stdout, "keytab %s\n", path)
	tw := tabwriter.NewWriter(e.stdout, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "  PRINCIPAL\tKVNO\tENCRYPTION TYPES")
	found := s.SPN == ""
	for _, en := range entries {
		fmt.Fprintf(tw, "  %s\t%d\t%s\n", en.principal, en.kvno, strings.Join(en.etypes, ", "))
		if s.SPN != "" && spnMatches(s.SPN, en.principal) {
			found = true
		}
	}
	tw.Flush()
	if !found {
		return fmt.Errorf("spn %s is not in the keytab", s.SPN)
	}
	if user == "" {
		if secret.given() {
			return usagef("--password-env and --password-stdin need --check-user")
		}
		fmt.Fprintln(e.stdout, "(give --check-user USER --password-env VAR to test a ticket from the KDC)")
		return nil
	}
	password, _, err := secret.read(e)
	if err != nil {
		return err
	}
	if password == "" {
		return usagef("--check-user needs a password (--password-env VAR or --password-stdin), not a hash")
	}
	kcfg, err := kerberos.LoadConfig(e.getenv("KRB5_CONFIG"))
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	failed := 0
	for _, en := range entries {
		if s.SPN != "" && !spnMatches(s.SPN, en.principal) {
			continue
		}
		// The same path as a visitor's ticket: AS-REQ as the user,
		// TGS-REQ for the principal, then the acceptor's full check
		// (decryption with the keytab, authenticator, PAC signature).
		a := &kerberos.Acceptor{Keytab: kt, Principal: en.principal}
		r, err := a.VerifyPassword(ctx, kcfg, user, password)
		if errors.Is(err, kerberos.ErrLoginRefused) {
			// Not once per principal: domain accounts lock out.
			return fmt.Errorf("the KDC refused the login of %s: %w", user, err)
		}
		if err != nil {
			failed++
			fmt.Fprintf(e.stdout, "  %s: FAILED: %v\n", en.principal, err)
			continue
		}
		pac := "no PAC"
		if r.PAC {
			pac = fmt.Sprintf("PAC signature verified, %d group SIDs", len(r.GroupSIDs))
		}
		fmt.Fprintf(e.stdout, "  %s: ok, a ticket for %s decrypts with the keytab (%s)\n", en.principal, r.Principal, pac)
	}
	if failed > 0 {
		return fmt.Errorf("%d service principal(s) failed", failed)
	}
	return nil
}

// spnMatches compares a configured SPN (with or without realm) with a
// keytab principal, case-insensitively as KDCs do for host names.
func spnMatches(spn, principal string) bool {
	if strings.Contains(spn, "@") {
		return strings.EqualFold(spn, principal)
	}
	p, _, _ := strings.Cut(principal, "@")
	return strings.EqualFold(spn, p)
}
