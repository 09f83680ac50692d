//go:build windows

package main

import (
	"strings"

	"github.com/sesame-auth/sesame/auth"
	"github.com/sesame-auth/sesame/sspi"
)

// platformAcceptor is the `sspi` setting of `sesame serve`: Windows'
// Negotiate or NTLM package accepting logons (sspi.Acceptor).
func platformAcceptor(setting string) (auth.PlatformAcceptor, func() error, error) {
	pkg := sspi.Negotiate
	if strings.EqualFold(setting, "ntlm") {
		pkg = sspi.NTLM
	}
	a := &sspi.Acceptor{Package: pkg}
	return a, a.Close, nil
}
