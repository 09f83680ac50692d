package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// delegationStore writes delegated Kerberos credentials as ccache files
// for the backend, one per principal, replaced by each newer delegation
// (mod_auth_gssapi's GssapiDelegCcacheDir). The backend finds the path in
// X-Remote-Ccache and uses it as KRB5CCNAME.
type delegationStore struct {
	dir string
}

// maxDelegatedCcache bounds one ccache: a TGT with a large PAC is a few
// tens of KiB.
const maxDelegatedCcache = 1 << 20

// write stores u's delegated credentials and returns the file's path.
// The file is written beside its final name and renamed into place, so
// the backend never reads half of one.
func (d *delegationStore) write(u *serveUser) (string, error) {
	if len(u.Delegated) > maxDelegatedCcache {
		return "", fmt.Errorf("delegation: ccache of %d bytes is too large", len(u.Delegated))
	}
	name := strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '.', r == '-', r == '@':
			return r
		}
		return '_'
	}, u.Principal)
	if name == "" || strings.HasPrefix(name, ".") {
		return "", fmt.Errorf("delegation: no usable file name for principal %q", u.Principal)
	}
	final := filepath.Join(d.dir, name)
	f, err := os.CreateTemp(d.dir, ".ccache-*")
	if err != nil {
		return "", fmt.Errorf("delegation: %w", err)
	}
	tmp := f.Name()
	_, werr := f.Write(u.Delegated)
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp, final)
	}
	if werr != nil {
		os.Remove(tmp)
		return "", fmt.Errorf("delegation: %w", werr)
	}
	return final, nil
}
