package kerberos

import (
	"context"
	"errors"
	"strings"
	"testing"
)

// An Accept error says "kerberos: " once and still matches its sentinel.
func TestAcceptErrorPrefixOnce(t *testing.T) {
	var err error = acceptError{ErrReplay}
	if got := err.Error(); got != "kerberos: accept: replayed authenticator" {
		t.Errorf("Error() = %q", got)
	}
	if !errors.Is(err, ErrReplay) {
		t.Error("errors.Is(acceptError{ErrReplay}, ErrReplay) = false")
	}
	kt, _ := testKeytab(t)
	a := &Acceptor{Keytab: kt}
	_, err = a.Accept(context.Background(), []byte{0x60, 0x01, 0x00}, nil)
	if err == nil || strings.Count(err.Error(), "kerberos:") != 1 || !errors.Is(err, ErrMalformed) {
		t.Errorf("Accept(garbage) = %v, want one \"kerberos:\" and ErrMalformed", err)
	}
}
