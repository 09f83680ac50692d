package kerberos

import (
	"context"
	"errors"
	"net"
	"regexp"
	"testing"
	"time"

	"github.com/jcmturner/gokrb5/v8/iana/errorcode"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"

	"github.com/sesame-auth/sesame/internal/lab"
)

// A KDC whose clock runs ten minutes ahead (krb5kdc under libfaketime)
// refuses the pre-authentication timestamp with KRB_AP_ERR_SKEW; the
// error says how far off this machine's clock is, and is no refused
// password (a later login with the same password is not held back).
func TestClientClockSkewError(t *testing.T) {
	k := lab.StartKDC(t, lab.KDCOptions{Users: []lab.KerberosUser{{Name: "alice", Password: alicePass}}, ClockOffset: 10 * time.Minute})
	cfg, err := LoadConfig(k.Krb5Conf)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewWithPassword("alice", alicePass, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	_, err = c.InitContext(context.Background(), "HTTP/localhost", ContextOptions{})
	if !errors.Is(err, ErrClockSkew) || errors.Is(err, ErrLoginRefused) {
		t.Fatalf("got %v, want ErrClockSkew (and not a refused login)\n%s", err, k.Log())
	}
	m := regexp.MustCompile(`clock is (\d+)m(\d+)s behind the KDC's of CORP.TEST`).FindStringSubmatch(err.Error())
	if m == nil || (m[1] != "10" && m[1] != "9") {
		t.Errorf("the error does not say the clock is ten minutes behind: %v", err)
	}
	t.Logf("%v", err)
	if c.LoginError() != nil {
		t.Errorf("a skew counted as a refused password: %v", c.LoginError())
	}
}

// A KDC that answers UDP with KRB_ERR_RESPONSE_TOO_BIG for anything over
// 100 bytes (kdc_max_dgram_reply_size): the client retries over TCP, the
// login and the service ticket succeed.
func TestClientKDCOverTCPWhenTooBig(t *testing.T) {
	k := lab.StartKDC(t, lab.KDCOptions{Users: []lab.KerberosUser{{Name: "alice", Password: alicePass}}, MaxDatagramReply: 100})
	cfg, err := LoadConfig(k.Krb5Conf)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.LibDefaults.UDPPreferenceLimit <= 1 {
		t.Fatalf("udp_preference_limit %d: the client would not try UDP first", cfg.LibDefaults.UDPPreferenceLimit)
	}
	// Over UDP the KDC really answers KRB_ERR_RESPONSE_TOO_BIG.
	req, err := messages.NewASReqForTGT("CORP.TEST", cfg.Config, types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, "alice"))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := req.Marshal()
	conn, err := net.Dial("udp", k.Addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(5 * time.Second))
	conn.Write(b)
	buf := make([]byte, 4096)
	n, err := conn.Read(buf)
	var ke messages.KRBError
	if err != nil || ke.Unmarshal(buf[:n]) != nil || ke.ErrorCode != errorcode.KRB_ERR_RESPONSE_TOO_BIG {
		t.Fatalf("UDP answer: %v, error code %d, want KRB_ERR_RESPONSE_TOO_BIG", err, ke.ErrorCode)
	}
	c, err := NewWithPassword("alice", alicePass, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	x, err := c.InitContext(context.Background(), "HTTP/localhost", ContextOptions{})
	if err != nil {
		t.Fatalf("%v\n%s", err, k.Log())
	}
	if _, err := acceptorFor(t, k).Accept(context.Background(), x.Token(), nil); err != nil {
		t.Fatal(err)
	}
}
