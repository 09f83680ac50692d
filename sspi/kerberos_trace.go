package sspi

import (
	"fmt"

	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/sesame-auth/sesame/kerberos"
	"github.com/sesame-auth/sesame/spnego"
)

// kerberosMechToken returns the GSS-API framed Kerberos token inside a
// Negotiate token: Windows wraps it in SPNEGO (NegTokenInit from the
// client, NegTokenResp from the server), Wine's Negotiate sends it bare.
func kerberosMechToken(tok []byte) []byte {
	t, err := spnego.Parse(tok)
	if err != nil {
		return tok
	}
	switch t.Kind {
	case spnego.KindNegTokenInit:
		return t.Init.MechToken
	case spnego.KindNegTokenResp:
		return t.Resp.ResponseToken
	}
	return tok
}

// describeAPReq says, for a failure message, whether the AP-REQ the
// package sent asked for mutual authentication: an acceptor answers
// with an AP-REP only if it did. It reads only the clear ap-options.
func describeAPReq(tok []byte) string {
	ap, err := kerberos.ParseInitialToken(kerberosMechToken(tok))
	if err != nil {
		return fmt.Sprintf("AP-REQ of %d bytes undecodable (%v)", len(tok), err)
	}
	mutual := "without"
	if types.IsFlagSet(&ap.APOptions, flags.APOptionMutualRequired) {
		mutual = "with"
	}
	return fmt.Sprintf("AP-REQ of %d bytes %s mutual-required", len(tok), mutual)
}

// describeAcceptorToken says what the server's final token was: an
// AP-REP, a KRB-ERROR (with its code) or something else.
func describeAcceptorToken(tok []byte) string {
	if len(tok) == 0 {
		return "no token from the server"
	}
	t, err := kerberos.ParseAcceptorToken(kerberosMechToken(tok))
	switch {
	case err != nil:
		return fmt.Sprintf("server token of %d bytes is no Kerberos answer (%v)", len(tok), err)
	case t.Error != nil:
		return fmt.Sprintf("server token of %d bytes is a KRB-ERROR (code %d)", len(tok), t.Error.ErrorCode)
	}
	return fmt.Sprintf("server token of %d bytes is an AP-REP", len(tok))
}
