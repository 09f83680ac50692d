package kerberos

import (
	"context"
	"encoding/base64"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/sesame-auth/sesame/internal/lab"
)

// These tests run against a real MIT KDC (and Apache with mod_auth_gssapi
// as acceptor) started on 127.0.0.1 by the test.

const alicePass = "AlicePass123"

func startKDC(t *testing.T) (*lab.KDC, *Config) {
	t.Helper()
	k := lab.StartKDC(t, lab.KDCOptions{Users: []lab.KerberosUser{{Name: "alice", Password: alicePass}, {Name: "bob", Password: "BobPass456"}}})
	cfg, err := LoadConfig(k.Krb5Conf)
	if err != nil {
		t.Fatal(err)
	}
	return k, cfg
}

// acceptAPReq decrypts our own AP-REQ with the service keytab, as an
// acceptor would, and returns it with its authenticator decrypted.
func acceptAPReq(t *testing.T, k *lab.KDC, tok []byte) *messages.APReq {
	t.Helper()
	ap, err := ParseInitialToken(tok)
	if err != nil {
		t.Fatal(err)
	}
	kt, err := keytab.Load(k.ServiceKeytab)
	if err != nil {
		t.Fatal(err)
	}
	if err := ap.Ticket.DecryptEncPart(kt, nil); err != nil {
		t.Fatalf("ticket does not decrypt with the service keytab: %v", err)
	}
	if err := ap.DecryptAuthenticator(ap.Ticket.DecryptedEncPart.Key); err != nil {
		t.Fatal(err)
	}
	return ap
}

func TestInitContextCCache(t *testing.T) {
	k, cfg := startKDC(t)
	cc := k.Kinit(t, "alice", alicePass)
	c, err := NewFromCCache("FILE:"+cc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, host := range []string{"localhost", "127.0.0.1"} {
		x, err := c.InitContext(context.Background(), ServiceName("", host), ContextOptions{})
		if err != nil {
			t.Fatalf("%s: %v\n%s", host, err, k.Log())
		}
		if x.SPN() != "HTTP/"+host+"@CORP.TEST" || x.Principal() != "alice@CORP.TEST" {
			t.Errorf("SPN %q principal %q", x.SPN(), x.Principal())
		}
		ap := acceptAPReq(t, k, x.Token())
		if got := ap.Ticket.SName.PrincipalNameString(); got != "HTTP/"+host {
			t.Errorf("ticket for %s", got)
		}
		if !types.IsFlagSet(&ap.APOptions, flags.APOptionMutualRequired) {
			t.Error("AP options lack mutual-required")
		}
		a := ap.Authenticator
		if a.Cksum.CksumType != 0x8003 {
			t.Fatalf("checksum type %#x", a.Cksum.CksumType)
		}
		sum, err := ParseGSSChecksum(a.Cksum.Checksum)
		if err != nil {
			t.Fatal(err)
		}
		if sum.Flags&FlagMutual == 0 || sum.Flags&FlagDeleg != 0 || sum.Deleg != nil || sum.Bindings != [16]byte{} {
			t.Errorf("checksum %+v", sum)
		}
		if len(a.SubKey.KeyValue) == 0 {
			t.Error("no initiator subkey")
		}
	}
	if c.loads != 1 {
		t.Errorf("ccache read %d times, want 1", c.loads)
	}
	if strings.Contains(k.Log(), "AS_REQ") && strings.Count(k.Log(), "AS_REQ") > 2 {
		t.Errorf("unexpected AS requests:\n%s", k.Log())
	}
}

func TestDelegation(t *testing.T) {
	k, cfg := startKDC(t)
	cc := k.Kinit(t, "alice", alicePass)
	c, err := NewFromCCache(cc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		d    Delegation
		want bool
	}{{DelegateNone, false}, {DelegatePolicy, false}, {DelegateAlways, true}} {
		x, err := c.InitContext(context.Background(), "HTTP/localhost", ContextOptions{Delegation: tc.d})
		if err != nil {
			t.Fatal(err)
		}
		if x.OKAsDelegate() {
			t.Error("the fixture's services are not ok-as-delegate")
		}
		if x.Delegated() != tc.want {
			t.Errorf("%v: delegated %v", tc.d, x.Delegated())
		}
		ap := acceptAPReq(t, k, x.Token())
		sum, err := ParseGSSChecksum(ap.Authenticator.Cksum.Checksum)
		if err != nil {
			t.Fatal(err)
		}
		if (sum.Flags&FlagDeleg != 0) != tc.want || (sum.Deleg != nil) != tc.want {
			t.Fatalf("%v: checksum flags %#x, %d bytes of KRB-CRED", tc.d, sum.Flags, len(sum.Deleg))
		}
		if !tc.want {
			continue
		}
		var cred messages.KRBCred
		if err := cred.Unmarshal(sum.Deleg); err != nil {
			t.Fatalf("KRB-CRED: %v", err)
		}
		if err := cred.DecryptEncPart(ap.Ticket.DecryptedEncPart.Key); err != nil {
			t.Fatalf("KRB-CRED enc-part: %v", err)
		}
		if len(cred.Tickets) != 1 || cred.Tickets[0].SName.PrincipalNameString() != "krbtgt/CORP.TEST" {
			t.Fatalf("KRB-CRED tickets %+v", cred.Tickets)
		}
		info := cred.DecryptedEncPart.TicketInfo[0]
		if !types.IsFlagSet(&info.Flags, flags.Forwarded) || info.PName.PrincipalNameString() != "alice" || len(info.Key.KeyValue) == 0 {
			t.Errorf("forwarded ticket info: flags %x pname %v", info.Flags.Bytes, info.PName)
		}
	}
}

func TestCCacheAppearsLater(t *testing.T) {
	k, cfg := startKDC(t)
	path := filepath.Join(t.TempDir(), "cc")
	c, err := NewFromCCache(path, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.InitContext(context.Background(), "HTTP/localhost", ContextOptions{}); !errors.Is(err, ErrNoCredentials) {
		t.Fatalf("no ccache yet: %v", err)
	}
	if c.Principal() != "" {
		t.Errorf("principal %q before any ticket", c.Principal())
	}
	if err := os.Rename(k.Kinit(t, "alice", alicePass), path); err != nil {
		t.Fatal(err)
	}
	x, err := c.InitContext(context.Background(), "HTTP/localhost", ContextOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if x.Principal() != "alice@CORP.TEST" {
		t.Errorf("principal %q", x.Principal())
	}
	// Someone runs kinit as bob into the same cache.
	if err := os.Rename(k.Kinit(t, "bob", "BobPass456"), path); err != nil {
		t.Fatal(err)
	}
	x, err = c.InitContext(context.Background(), "HTTP/localhost", ContextOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if x.Principal() != "bob@CORP.TEST" || c.Principal() != "bob@CORP.TEST" {
		t.Errorf("principal %q after kinit bob", x.Principal())
	}
	if c.loads != 2 {
		t.Errorf("ccache read %d times, want 2", c.loads)
	}
}

func TestPasswordAndKeytab(t *testing.T) {
	k, cfg := startKDC(t)
	pw, err := NewWithPassword("alice", alicePass, cfg)
	if err != nil {
		t.Fatal(err)
	}
	kt, err := NewWithKeytab("alice@CORP.TEST", k.UserKeytab(t, "alice"), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*Client{"password": pw, "keytab": kt} {
		x, err := c.InitContext(context.Background(), "HTTP/127.0.0.1", ContextOptions{Delegation: DelegateAlways})
		if err != nil {
			t.Fatalf("%s: %v\n%s", name, err, k.Log())
		}
		acceptAPReq(t, k, x.Token())
		if !x.Delegated() || c.Principal() != "alice@CORP.TEST" {
			t.Errorf("%s: delegated %v principal %q", name, x.Delegated(), c.Principal())
		}
		c.Close()
	}
	bad, err := NewWithPassword("alice", "wrong", cfg)
	if err != nil {
		t.Fatal(err)
	}
	_, err = bad.InitContext(context.Background(), "HTTP/localhost", ContextOptions{})
	if !errors.Is(err, ErrNoCredentials) {
		t.Fatalf("wrong password: %v", err)
	}
	if strings.Contains(err.Error(), "wrong") {
		t.Errorf("error quotes the password: %v", err)
	}
}

func TestUnsupportedCCache(t *testing.T) {
	cfg, err := ParseConfig([]byte("[libdefaults]\n default_realm = CORP.TEST\n"))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"API:", "MSLSA:", "XYZ:abc"} {
		if _, err := NewFromCCache(n, cfg); !errors.Is(err, ErrUnsupportedCCache) {
			t.Errorf("%s: %v", n, err)
		}
	}
	for n, want := range map[string]string{"FILE:/tmp/a": "/tmp/a", "/tmp/b": "/tmp/b"} {
		if got, err := CCachePath(n, cfg); err != nil || got != want {
			t.Errorf("%s: %q %v", n, got, err)
		}
	}
}

// TestMutualAuthApache runs the raw Kerberos exchange against Apache's
// mod_auth_gssapi and verifies its AP-REP, then checks that a tampered
// AP-REP or a missing one fails.
func TestMutualAuthApache(t *testing.T) {
	k, cfg := startKDC(t)
	a := lab.StartApache(t, lab.ApacheOptions{KerberosKeytab: k.ServiceKeytab, Krb5Conf: k.Krb5Conf})
	cc := k.Kinit(t, "alice", alicePass)
	c, err := NewFromCCache(cc, cfg)
	if err != nil {
		t.Fatal(err)
	}
	get := func(x *SecContext) (int, string, []byte) {
		req, _ := http.NewRequest("GET", a.URL+"/negotiate/", nil)
		req.Header.Set("Authorization", "Negotiate "+base64.StdEncoding.EncodeToString(x.Token()))
		resp, err := (&http.Client{Transport: &http.Transport{Proxy: nil}}).Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		var tok []byte
		if v, ok := strings.CutPrefix(resp.Header.Get("WWW-Authenticate"), "Negotiate "); ok {
			tok, _ = base64.StdEncoding.DecodeString(v)
		}
		return resp.StatusCode, string(body), tok
	}
	x, err := c.InitContext(context.Background(), "HTTP/127.0.0.1", ContextOptions{})
	if err != nil {
		t.Fatal(err)
	}
	status, body, tok := get(x)
	if status != 200 || !strings.Contains(body, "user=alice@CORP.TEST") || tok == nil {
		t.Fatalf("%d %q token %d bytes\n%s", status, body, len(tok), a.ErrorLog())
	}
	// Tampered: a bit flipped in the ciphertext.
	bad := append([]byte(nil), tok...)
	bad[len(bad)-3] ^= 1
	if err := copyCtx(t, x).Finish(bad); !errors.Is(err, ErrMutualAuth) {
		t.Errorf("tampered AP-REP: %v", err)
	}
	if err := copyCtx(t, x).Finish(nil); !errors.Is(err, ErrMutualAuth) {
		t.Errorf("no AP-REP, required: %v", err)
	}
	if err := x.Finish(tok); err != nil {
		t.Fatalf("AP-REP: %v", err)
	}
	if !x.MutualVerified() || !x.Complete() {
		t.Fatal("not verified")
	}
	// MIC tokens: ours verify with the acceptor's view of the key; an
	// acceptor MIC made with the same key verifies.
	if _, err := x.MIC([]byte("mechlist")); err != nil {
		t.Fatal(err)
	}
	if x.acceptorSubkey == nil {
		t.Log("acceptor sent no subkey")
	}

	// An AP-REP for another context does not verify.
	y, err := c.InitContext(context.Background(), "HTTP/127.0.0.1", ContextOptions{Mutual: MutualOptional})
	if err != nil {
		t.Fatal(err)
	}
	if err := y.Finish(tok); !errors.Is(err, ErrMutualAuth) {
		t.Errorf("foreign AP-REP: %v", err)
	}
	z, _ := c.InitContext(context.Background(), "HTTP/127.0.0.1", ContextOptions{Mutual: MutualOptional})
	if err := z.Finish(nil); err != nil {
		t.Errorf("optional without AP-REP: %v", err)
	}
	d, _ := c.InitContext(context.Background(), "HTTP/127.0.0.1", ContextOptions{Mutual: MutualDisabled})
	if d.Flags()&FlagMutual != 0 || !d.Complete() {
		t.Errorf("disabled: flags %#x", d.Flags())
	}
	status, _, tok = get(d)
	if status != 200 {
		t.Fatalf("disabled: %d", status)
	}
	if tok != nil {
		t.Logf("server sent a token without mutual auth")
	}
	if err := d.Finish(bad); err != nil {
		t.Errorf("disabled ignores tokens: %v", err)
	}
}

// copyCtx returns a fresh copy of an unfinished context.
func copyCtx(t *testing.T, x *SecContext) *SecContext {
	t.Helper()
	x.mu.Lock()
	defer x.mu.Unlock()
	return &SecContext{spn: x.spn, opts: x.opts, token: x.token, flags: x.flags, sessionKey: x.sessionKey,
		subkey: x.subkey, ctime: x.ctime, cusec: x.cusec, seq: x.seq, state: x.state}
}
