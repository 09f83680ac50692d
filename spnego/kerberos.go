package spnego

import (
	"context"
	"encoding/asn1"
	"errors"
	"fmt"

	"github.com/sesame-auth/sesame/kerberos"
)

// KerberosMechanism adapts a [kerberos.Client] to [Mechanism]: the first
// Step obtains a service ticket and returns the AP-REQ token (it fails,
// and the Initiator leaves Kerberos out of the offer, when there is no
// TGT); a later Step verifies the acceptor's AP-REP. MICs are RFC 4121 MIC
// tokens under the acceptor's subkey, or the initiator's subkey when the
// acceptor asserted none; RFC 4757's for an RC4-HMAC key. Like every Mechanism it serves one handshake.
type KerberosMechanism struct {
	ctx    context.Context
	client *kerberos.Client
	spn    string
	opts   kerberos.ContextOptions
	// Microsoft makes OID return OIDMSKerberos, as Windows initiators
	// list first; the acceptor's answer may name either OID.
	Microsoft bool

	sc *kerberos.SecContext
}

// NewKerberosMechanism returns a mechanism for one handshake with the
// service principal spn ("HTTP/host[@REALM]"). ctx bounds the TGS
// exchange of the first Step.
func NewKerberosMechanism(ctx context.Context, c *kerberos.Client, spn string, opts kerberos.ContextOptions) *KerberosMechanism {
	return &KerberosMechanism{ctx: ctx, client: c, spn: spn, opts: opts}
}

// OID returns OIDKerberos, or OIDMSKerberos when Microsoft is set.
func (m *KerberosMechanism) OID() asn1.ObjectIdentifier {
	if m.Microsoft {
		return OIDMSKerberos
	}
	return OIDKerberos
}

// Step returns the initial token on the first call (done at once when
// mutual authentication is disabled) and verifies the acceptor's AP-REP on
// the second.
func (m *KerberosMechanism) Step(in []byte) ([]byte, bool, error) {
	if m.client == nil {
		return nil, false, fmt.Errorf("spnego: Kerberos: %w: no kerberos.Client", ErrState)
	}
	if m.sc == nil {
		if len(in) > 0 {
			return nil, false, fmt.Errorf("spnego: Kerberos: %w: the initiator speaks first", ErrState)
		}
		ctx := m.ctx
		if ctx == nil {
			ctx = context.Background()
		}
		sc, err := m.client.InitContext(ctx, m.spn, m.opts)
		if err != nil {
			return nil, false, err
		}
		m.sc = sc
		return sc.Token(), sc.Complete(), nil
	}
	if sc := m.sc; sc.Complete() {
		if m.opts.Mutual == kerberos.MutualDisabled {
			return nil, true, nil // an AP-REP nobody asked for is ignored
		}
		return nil, false, fmt.Errorf("spnego: Kerberos: %w: context already complete", ErrState)
	}
	if err := m.sc.Step(in); err != nil {
		return nil, false, err
	}
	return nil, true, nil
}

// MIC makes a Kerberos MIC token over data (RFC 4121, or RFC 4757 for
// RC4-HMAC).
func (m *KerberosMechanism) MIC(data []byte) ([]byte, error) {
	if m.sc == nil {
		return nil, ErrMICUnavailable
	}
	mic, err := m.sc.MIC(data)
	if errors.Is(err, kerberos.ErrMICUnavailable) {
		return nil, fmt.Errorf("%w: %w", ErrMICUnavailable, err)
	}
	return mic, err
}

// VerifyMIC checks the acceptor's Kerberos MIC token over data.
func (m *KerberosMechanism) VerifyMIC(data, mic []byte) error {
	if m.sc == nil {
		return ErrMICUnavailable
	}
	err := m.sc.VerifyMIC(data, mic)
	if errors.Is(err, kerberos.ErrMICUnavailable) {
		return fmt.Errorf("%w: %w", ErrMICUnavailable, err)
	}
	return err
}

// SecContext returns the Kerberos context, nil before the first Step.
func (m *KerberosMechanism) SecContext() *kerberos.SecContext { return m.sc }
