package main

import (
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"

	krbclient "github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/iana/etypeID"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/types"

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
	kt, err := keytab.Load(path)
	if err != nil {
		return fmt.Errorf("keytab %s: %w", path, err)
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
	name, realm, _ := strings.Cut(user, "@")
	if realm == "" {
		realm = kcfg.LibDefaults.DefaultRealm
	}
	cl := krbclient.NewWithPassword(name, realm, password, kcfg.Config, krbclient.DisablePAFXFAST(true))
	defer cl.Destroy()
	if err := cl.Login(); err != nil {
		return fmt.Errorf("kerberos login as %s@%s: %w", name, realm, err)
	}
	failed := 0
	for _, en := range entries {
		spn, _, _ := strings.Cut(en.principal, "@")
		if s.SPN != "" && !spnMatches(s.SPN, en.principal) {
			continue
		}
		if err := checkServiceTicket(cl, kt, spn); err != nil {
			failed++
			fmt.Fprintf(e.stdout, "  %s: FAILED: %v\n", en.principal, err)
			continue
		}
		fmt.Fprintf(e.stdout, "  %s: ok, a ticket for %s@%s decrypts with the keytab\n", en.principal, name, realm)
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

// checkServiceTicket gets a ticket for spn and decrypts it with the
// keytab.
func checkServiceTicket(cl *krbclient.Client, kt *keytab.Keytab, spn string) error {
	tkt, _, err := cl.GetServiceTicket(spn)
	if err != nil {
		return fmt.Errorf("no ticket from the KDC: %w", err)
	}
	sname := types.NewPrincipalName(tkt.SName.NameType, spn)
	if err := tkt.DecryptEncPart(kt, &sname); err != nil {
		return fmt.Errorf("the keytab does not decrypt the KDC's ticket (kvno %d, %s): %w", tkt.EncPart.KVNO, etypeName(tkt.EncPart.EType), err)
	}
	return nil
}
