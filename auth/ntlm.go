package auth

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"strings"

	"github.com/sesame-auth/sesame/ntlm"
)

// NTLM answers NTLM challenges with an [ntlm.Client]. The handshake takes
// two legs on one connection (NEGOTIATE, then AUTHENTICATE in answer to
// the CHALLENGE), and the connection stays authenticated afterwards.
type NTLM struct {
	// Client holds the account and policy. Its TargetSPN and
	// ServerCertificate are filled in per handshake from the Target
	// (HTTP/host and the peer's TLS certificate) unless set here.
	Client ntlm.Client
}

// Scheme returns "NTLM".
func (n *NTLM) Scheme() string { return "NTLM" }

// Identity returns the account as DOMAIN\user.
func (n *NTLM) Identity() string {
	user, domain := n.Client.User, n.Client.Domain
	if domain == "" {
		user, domain = ntlm.SplitUser(user)
	}
	if domain == "" {
		return user
	}
	return domain + `\` + user
}

// Start begins the handshake for one connection.
func (n *NTLM) Start(t *Target) (Handshake, error) {
	c := n.Client // a copy: per-target fields must not leak across handshakes
	if c.TargetSPN == "" && t.Host != "" {
		c.TargetSPN = "HTTP/" + t.Host
	}
	if c.ServerCertificate == nil {
		c.ServerCertificate = t.ServerCertificate
	}
	return &ntlmHandshake{c: &c}, nil
}

type ntlmHandshake struct {
	c         *ntlm.Client
	negotiate []byte
	done      bool
}

// ntlmSignature starts every NTLM message.
var ntlmSignature = []byte("NTLMSSP\x00")

func (h *ntlmHandshake) Next(_ context.Context, ch *Challenge) (string, bool, error) {
	switch {
	case h.done:
		return "", false, fmt.Errorf("auth: ntlm: %w: a second challenge after AUTHENTICATE", ErrRejected)
	case h.negotiate == nil:
		neg, err := h.c.Negotiate()
		if err != nil {
			return "", false, err
		}
		h.negotiate = neg
		return "NTLM " + base64.StdEncoding.EncodeToString(neg), false, nil
	case ch == nil || ch.Token68 == "":
		// A bare "NTLM" challenge after our NEGOTIATE: the server
		// refused the handshake (or lost the connection's state).
		return "", false, fmt.Errorf("auth: ntlm: %w: server answered NEGOTIATE without a CHALLENGE", ErrRejected)
	}
	msg, err := base64.StdEncoding.DecodeString(strings.TrimSpace(ch.Token68))
	if err != nil {
		return "", false, fmt.Errorf("auth: ntlm: challenge is not base64: %w", err)
	}
	// Some proxies send the CHALLENGE wrapped in SPNEGO under "NTLM".
	if i := bytes.Index(msg, ntlmSignature); i > 0 {
		msg = msg[i:]
	}
	a, err := h.c.Authenticate(h.negotiate, msg)
	if err != nil {
		return "", false, err
	}
	h.done = true
	return "NTLM " + base64.StdEncoding.EncodeToString(a.Message), true, nil
}

func (h *ntlmHandshake) Finish(*Challenge) error { return nil }
