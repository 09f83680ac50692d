package config

import (
	"testing"

	"github.com/sesame-auth/sesame/spnego"
)

func TestMechOIDsAreSpnegos(t *testing.T) {
	for _, c := range []struct{ ours, spnegos string }{
		{oidKerberos, spnego.OIDKerberos.String()},
		{oidMSKerberos, spnego.OIDMSKerberos.String()},
		{oidNTLM, spnego.OIDNTLMSSP.String()},
		{oidSPNEGO, spnego.OIDSPNEGO.String()},
	} {
		if c.ours != c.spnegos {
			t.Errorf("config has %s, spnego %s", c.ours, c.spnegos)
		}
	}
}
