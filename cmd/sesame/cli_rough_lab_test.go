//go:build linux

package main

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/sesame-auth/sesame/internal/lab"
)

// A 401 offering Negotiate while a ticket is at hand, without -u: one
// line on stderr says that -u : would use it (and whose it is); the
// request is otherwise curl's (the 401 body, exit 0; exit 22 with -f).
// With -u : the ticket is used and the line is not printed; without a
// ticket there is nothing to say.
func TestGetHintsNegotiateTicket(t *testing.T) {
	const pw = "KrbPass-789"
	k := lab.StartKDC(t, lab.KDCOptions{Users: []lab.KerberosUser{{Name: "alice", Password: pw}}})
	ap := lab.StartApache(t, lab.ApacheOptions{KerberosKeytab: k.ServiceKeytab, Krb5Conf: k.Krb5Conf})
	ccache := k.Kinit(t, "alice", pw)
	env := []string{"KRB5_CONFIG=" + k.Krb5Conf, "KRB5CCNAME=FILE:" + ccache}
	const hint = "sesame: the server offers Negotiate; -u : would use the ticket of alice@CORP.TEST\n"

	code, _, errOut := cli(t, env, "", "get", ap.URL+"/negotiate/")
	if code != 0 || errOut != hint {
		t.Errorf("no -u: exit %d, stderr %q; want 0 and %q", code, errOut, hint)
	}
	code, _, errOut = cli(t, env, "", "get", "-fsS", ap.URL+"/negotiate/")
	if code != exitHTTPError || !strings.HasPrefix(errOut, hint) {
		t.Errorf("-fsS: exit %d, stderr %q", code, errOut)
	}
	code, out, errOut := cli(t, env, "", "get", "-u", ":", ap.URL+"/negotiate/")
	if code != 0 || !strings.Contains(out, "user=alice@CORP.TEST") || strings.Contains(errOut, "offers Negotiate") {
		t.Errorf("-u : exit %d, %q %q", code, out, errOut)
	}
	noTicket := []string{"KRB5_CONFIG=" + k.Krb5Conf, "KRB5CCNAME=FILE:" + filepath.Join(t.TempDir(), "none")}
	if code, _, errOut = cli(t, noTicket, "", "get", ap.URL+"/negotiate/"); code != 0 || errOut != "" {
		t.Errorf("no ticket: exit %d, stderr %q; want no hint", code, errOut)
	}
}
