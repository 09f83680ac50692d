//go:build linux

package main

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/sesame-auth/sesame/internal/lab"
)

// `sesame proxy` with no account answers squid's Negotiate from each
// credential cache type MIT kinit writes (KCM of sssd-kcm and of Heimdal,
// KEYRING:persistent, a DIR collection), for two clients at once, one
// 407 per upstream connection.
func TestProxyNegotiateCCacheTypes(t *testing.T) {
	bin := buildSesame(t)
	const pw = "KrbPass-789"
	k := lab.StartKDC(t, lab.KDCOptions{Users: []lab.KerberosUser{{Name: "alice", Password: pw}, {Name: "bob", Password: ccBobPass}}})
	origin := httptest.NewServer(http.HandlerFunc(whoOrigin))
	defer origin.Close()

	check := func(t *testing.T, conf, ccache, want string) {
		t.Helper()
		sq := lab.StartSquid(t, lab.SquidOptions{Auth: "negotiate", KDC: k})
		p := startProxy(t, bin, []string{"KRB5_CONFIG=" + conf, "KRB5CCNAME=" + ccache}, "--upstream", sq.Addr)
		var wg sync.WaitGroup
		outs, errs := make([]string, 2), make([]error, 2)
		for i := range outs {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var urls []string
				for j := 0; j < 3; j++ {
					urls = append(urls, fmt.Sprintf("%s/cc/%d/%d", origin.URL, i, j))
				}
				outs[i], errs[i] = curl(t, append([]string{"-x", p.URL}, urls...)...)
			}()
		}
		wg.Wait()
		for i := range outs {
			if errs[i] != nil || strings.Count(outs[i], "proxy_user="+want+"@CORP.TEST\n") != 3 {
				t.Errorf("%s, client %d: %v %q\n%s\n%s", ccache, i, errs[i], outs[i], p.stderr.String(), sq.AccessLog())
			}
		}
		if n := strings.Count(sq.AccessLog(), " 407 GET "); n < 1 || n > 2 {
			t.Errorf("%s: squid sent %d 407s for 6 requests from 2 clients, want 1 or 2 (one per upstream connection)\n%s", ccache, n, sq.AccessLog())
		}
	}

	t.Run("KCM", func(t *testing.T) {
		for _, kind := range []lab.KCMKind{lab.SSSDKCM, lab.HeimdalKCM} {
			t.Run(string(kind), func(t *testing.T) {
				d := lab.StartKCM(t, kind)
				conf := d.Krb5Conf(t, k.Krb5Conf)
				ccKinit(t, conf, "KCM:", "alice", pw)
				check(t, conf, "KCM:", "alice")
			})
		}
	})
	t.Run("KEYRING:persistent", func(t *testing.T) {
		lab.Require(t, "/usr/bin/keyctl")
		name := "KEYRING:persistent:" + strconv.Itoa(os.Geteuid()) + ":sesame_proxy"
		ccKinit(t, k.Krb5Conf, name, "alice", pw)
		t.Cleanup(func() { _ = exec.Command("/usr/bin/kdestroy", "-c", name).Run() })
		check(t, k.Krb5Conf, name, "alice")
	})
	t.Run("DIR", func(t *testing.T) {
		dir := "DIR:" + filepath.Join(t.TempDir(), "cc")
		ccKinit(t, k.Krb5Conf, dir, "alice", pw)
		ccKinit(t, k.Krb5Conf, dir, "bob", ccBobPass) // now the primary
		check(t, k.Krb5Conf, dir, "bob")
	})
}
