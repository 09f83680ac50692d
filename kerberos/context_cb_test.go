package kerberos

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sesame-auth/sesame/internal/lab"
	"github.com/sesame-auth/sesame/ntlm"
)

// mitAcceptScript accepts one Kerberos token with MIT's libgssapi
// (python3-gssapi) and the service keytab, with the channel bindings
// given in hex ("-" for none), and prints OK and the initiator, or the
// GSS error.
const mitAcceptScript = `import sys, base64, gssapi
tok, cbhex = base64.b64decode(sys.argv[1]), sys.argv[2]
cb = None if cbhex == "-" else gssapi.raw.ChannelBindings(application_data=bytes.fromhex(cbhex))
try:
    res = gssapi.raw.accept_sec_context(tok, channel_bindings=cb)
    print("OK", gssapi.Name(res.initiator_name))
except gssapi.exceptions.GSSError as e:
    print("ERROR", e.gen_message())
`

// The initiator's channel bindings (RFC 4121 4.1.1.2) for a TLS origin:
// the tls-server-end-point of a real TLS server's certificate goes into
// the authenticator's checksum. sesame's Acceptor and MIT's acceptor
// (given bindings, MIT checks them) both accept the token with the same
// certificate and refuse it with another; MIT without bindings (as
// mod_auth_gssapi calls it) ignores them.
func TestInitChannelBindings(t *testing.T) {
	lab.RequirePython(t, "gssapi")
	k, cfg := startKDC(t)
	srv := httptest.NewTLSServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	defer srv.Close()
	cb := ntlm.TLSServerEndPoint(srv.Certificate())
	// Another certificate's binding (httptest's servers all share one).
	o := *srv.Certificate()
	o.Raw = append([]byte("another "), o.Raw...)
	wrong := ntlm.TLSServerEndPoint(&o)

	for _, tc := range []struct {
		name    string
		accept  []byte
		ownErr  error
		mitWant string
	}{
		{"same certificate", cb, nil, "OK alice@CORP.TEST"},
		{"other certificate", wrong, ErrChannelBinding, "ERROR"},
		{"acceptor without bindings", nil, nil, "OK alice@CORP.TEST"},
	} {
		x := ownToken(t, k, cfg, "HTTP/localhost", ContextOptions{ChannelBindings: cb})
		r, err := acceptorFor(t, k).Accept(context.Background(), x.Token(), tc.accept)
		if !errors.Is(err, tc.ownErr) || (err != nil) != (tc.ownErr != nil) {
			t.Errorf("%s: sesame's acceptor: %v, want %v", tc.name, err, tc.ownErr)
		} else if err == nil && r.ChannelBound != (tc.accept != nil) {
			t.Errorf("%s: ChannelBound %v", tc.name, r.ChannelBound)
		}
		// A fresh token for MIT: sesame's acceptor put the first in its
		// replay cache, MIT's has its own.
		x = ownToken(t, k, cfg, "HTTP/localhost", ContextOptions{ChannelBindings: cb})
		arg := "-"
		if tc.accept != nil {
			arg = hex.EncodeToString(tc.accept)
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		cmd := exec.CommandContext(ctx, "/usr/bin/python3", "-c", mitAcceptScript, base64.StdEncoding.EncodeToString(x.Token()), arg)
		cmd.Env = append(k.Env(), "KRB5_KTNAME=FILE:"+k.ServiceKeytab, "KRB5RCACHETYPE=none")
		out, err := cmd.CombinedOutput()
		cancel()
		if err != nil || !strings.HasPrefix(string(out), tc.mitWant) {
			t.Errorf("%s: MIT acceptor: %v %q, want %s", tc.name, err, out, tc.mitWant)
		}
	}
	// No bindings asked for: an all-zero hash, which MIT with bindings
	// accepts (the initiator may not know the channel) and sesame's
	// acceptor reports as not bound.
	x := ownToken(t, k, cfg, "HTTP/localhost", ContextOptions{})
	if r, err := acceptorFor(t, k).Accept(context.Background(), x.Token(), cb); err != nil || r.ChannelBound {
		t.Errorf("no bindings sent: %v, bound %v", err, r != nil && r.ChannelBound)
	}
}
