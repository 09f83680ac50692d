package kerberos

import (
	"encoding/binary"
	"fmt"
	"io"
	"net"
	"strings"
	"time"

	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// skewProbeTimeout bounds the exchange that asks the KDC for its time.
const skewProbeTimeout = 5 * time.Second

// explainSkew turns a KDC's KRB_AP_ERR_SKEW into an error that says how
// far this machine's clock is from the KDC's: the KDC's time comes from
// a KRB-ERROR to an AS-REQ without pre-authentication (every KRB-ERROR
// carries the KDC's time). It reports false, with err as it is, for
// any other error: callers must not compare the errors, since gokrb5's
// krberror.Krberror is not comparable and == on it panics.
func (c *Client) explainSkew(err error, realm string) (error, bool) {
	if err == nil || !strings.Contains(err.Error(), "KRB_AP_ERR_SKEW") {
		return err, false
	}
	kdcTime, perr := c.kdcTime(realm)
	if perr != nil {
		return fmt.Errorf("%w: the KDC of %s says this machine's clock is off by more than %s (%v); set the clock right", ErrClockSkew, realm, c.cfg.LibDefaults.Clockskew, err), true
	}
	d := time.Since(kdcTime)
	return fmt.Errorf("%w: this machine's clock is %s %s the KDC's of %s (limit %s); set the clock right (e.g. enable NTP)",
		ErrClockSkew, absDuration(d).Round(time.Second), aheadBehind(d), realm, c.cfg.LibDefaults.Clockskew), true
}

// kdcTime asks a KDC of realm (over TCP) for its time.
func (c *Client) kdcTime(realm string) (time.Time, error) {
	_, kdcs, err := c.cfg.GetKDCs(realm, true)
	if err != nil {
		return time.Time{}, err
	}
	req, err := messages.NewASReqForTGT(realm, c.cfg.Config, types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, "sesame-clock-probe"))
	if err != nil {
		return time.Time{}, err
	}
	req.PAData = nil
	b, err := req.Marshal()
	if err != nil {
		return time.Time{}, err
	}
	var lastErr error
	for i := 1; i <= len(kdcs); i++ {
		t, err := kdcTimeFrom(kdcs[i], b)
		if err == nil {
			return t, nil
		}
		lastErr = err
	}
	return time.Time{}, fmt.Errorf("no KDC answered: %v", lastErr)
}

func kdcTimeFrom(addr string, req []byte) (time.Time, error) {
	conn, err := net.DialTimeout("tcp", addr, skewProbeTimeout)
	if err != nil {
		return time.Time{}, err
	}
	defer conn.Close()
	_ = conn.SetDeadline(time.Now().Add(skewProbeTimeout))
	if _, err := conn.Write(binary.BigEndian.AppendUint32(nil, uint32(len(req)))); err != nil {
		return time.Time{}, err
	}
	if _, err := conn.Write(req); err != nil {
		return time.Time{}, err
	}
	var n [4]byte
	if _, err := io.ReadFull(conn, n[:]); err != nil {
		return time.Time{}, err
	}
	size := binary.BigEndian.Uint32(n[:])
	if size > 64<<10 {
		return time.Time{}, fmt.Errorf("KDC reply of %d bytes", size)
	}
	rep := make([]byte, size)
	if _, err := io.ReadFull(conn, rep); err != nil {
		return time.Time{}, err
	}
	var ke messages.KRBError
	if err := safeUnmarshal(func() error { return ke.Unmarshal(rep) }); err != nil {
		return time.Time{}, fmt.Errorf("KDC reply is not a KRB-ERROR: %v", err)
	}
	return ke.STime.Add(time.Duration(ke.Susec) * time.Microsecond), nil
}
