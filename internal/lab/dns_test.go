package lab

import (
	"errors"
	"net"
	"strings"
	"testing"
)

// TestStartDNS: inside Isolate, with the isolated /etc/resolv.conf
// pointing at StartDNS, Go's resolver finds the server's SRV and A
// records and gets NXDOMAIN for other names.
func TestStartDNS(t *testing.T) {
	if !Isolate(t, IsolateOptions{ResolvConf: "nameserver 127.0.0.1\noptions attempts:1 timeout:2\n"}) {
		return
	}
	d := StartDNS(t, DNSOptions{
		SRV: []SRVRecord{{Name: "_kerberos._udp.CORP.TEST", Target: "kdc.corp.test", Port: 8888, Priority: 1, Weight: 5}},
		A:   map[string]string{"kdc.corp.test": "127.0.0.1"},
	})
	_, srv, err := net.LookupSRV("kerberos", "udp", "CORP.TEST")
	if err != nil || len(srv) != 1 || srv[0].Target != "kdc.corp.test." || srv[0].Port != 8888 {
		t.Fatalf("SRV: %v %+v", err, srv)
	}
	addrs, err := net.LookupHost("kdc.corp.test")
	if err != nil || len(addrs) != 1 || addrs[0] != "127.0.0.1" {
		t.Fatalf("A: %v %v", err, addrs)
	}
	_, _, err = net.LookupSRV("kerberos", "tcp", "NONE.TEST")
	var de *net.DNSError
	if !errors.As(err, &de) || !de.IsNotFound {
		t.Fatalf("unknown name: %v", err)
	}
	if q := strings.Join(d.Queries(), ","); !strings.Contains(q, "_kerberos._udp.CORP.TEST. TypeSRV") || !strings.Contains(q, "_kerberos._tcp.NONE.TEST. TypeSRV") {
		t.Errorf("queries %s", q)
	}
}
