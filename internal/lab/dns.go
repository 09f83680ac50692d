package lab

import (
	"errors"
	"net"
	"os"
	"strings"
	"sync"
	"testing"

	"golang.org/x/net/dns/dnsmessage"
)

// SRVRecord is a DNS SRV record served by StartDNS, e.g. Name
// "_kerberos._udp.CORP.TEST", Target "kdc.corp.test", Port 88.
type SRVRecord struct {
	Name             string
	Target           string
	Port             uint16
	Priority, Weight uint16
}

// DNSOptions are the records StartDNS serves. Names are matched without
// regard to case or a trailing dot.
type DNSOptions struct {
	SRV []SRVRecord
	// A maps host names to IPv4 addresses (loopback only).
	A map[string]string
}

// DNS is a small authoritative DNS server on 127.0.0.1:53 (UDP) inside an
// isolated test (Isolate): it answers the questions its records cover,
// NODATA for another type of a name it knows and NXDOMAIN for the rest.
type DNS struct {
	// Addr is "127.0.0.1:53".
	Addr string

	mu      sync.Mutex
	queries []string
	opts    DNSOptions
}

// StartDNS serves opts on 127.0.0.1:53 until the test ends. It must run
// inside Isolate, whose network namespace has port 53 to itself and whose
// /etc/resolv.conf (IsolateOptions.ResolvConf) may point there; anywhere
// else it fails the test rather than bind the machine's port 53.
func StartDNS(t testing.TB, opts DNSOptions) *DNS {
	t.Helper()
	if os.Getenv(isolateEnv) == "" {
		t.Fatalf("lab: StartDNS runs inside lab.Isolate only (its own network namespace)")
	}
	for _, ip := range opts.A {
		if a := net.ParseIP(ip); a == nil || a.To4() == nil || !a.IsLoopback() {
			t.Fatalf("lab: StartDNS: A record %q is not an IPv4 loopback address", ip)
		}
	}
	pc, err := net.ListenPacket("udp4", "127.0.0.1:53")
	if err != nil {
		t.Fatalf("lab: StartDNS: %v", err)
	}
	d := &DNS{Addr: pc.LocalAddr().String(), opts: opts}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 1500)
		for {
			n, from, err := pc.ReadFrom(buf)
			if err != nil {
				if !errors.Is(err, net.ErrClosed) {
					t.Errorf("lab: DNS server: %v", err)
				}
				return
			}
			if out := d.answer(buf[:n]); out != nil {
				_, _ = pc.WriteTo(out, from)
			}
		}
	}()
	t.Cleanup(func() {
		pc.Close()
		<-done
	})
	t.Logf("lab: DNS server at %s: %d SRV and %d A records", d.Addr, len(opts.SRV), len(opts.A))
	return d
}

// Queries returns the questions asked so far, as "NAME TYPE" with the
// name as asked ("_kerberos._udp.CORP.TEST. TypeSRV").
func (d *DNS) Queries() []string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return append([]string(nil), d.queries...)
}

func sameName(a, b string) bool {
	return strings.EqualFold(strings.TrimSuffix(a, "."), strings.TrimSuffix(b, "."))
}

// answer builds the reply to one query, nil for one it cannot parse.
func (d *DNS) answer(req []byte) []byte {
	var p dnsmessage.Parser
	h, err := p.Start(req)
	if err != nil {
		return nil
	}
	q, err := p.Question()
	if err != nil {
		return nil
	}
	d.mu.Lock()
	d.queries = append(d.queries, q.Name.String()+" "+q.Type.String())
	d.mu.Unlock()

	known := false
	type rr struct {
		srv *SRVRecord
		a   [4]byte
	}
	var answers []rr
	for i, s := range d.opts.SRV {
		if sameName(s.Name, q.Name.String()) {
			known = true
			if q.Type == dnsmessage.TypeSRV {
				answers = append(answers, rr{srv: &d.opts.SRV[i]})
			}
		}
	}
	for name, ip := range d.opts.A {
		if sameName(name, q.Name.String()) {
			known = true
			if q.Type == dnsmessage.TypeA {
				var a [4]byte
				copy(a[:], net.ParseIP(ip).To4())
				answers = append(answers, rr{a: a})
			}
		}
	}
	rcode := dnsmessage.RCodeSuccess
	if !known {
		rcode = dnsmessage.RCodeNameError
	}
	b := dnsmessage.NewBuilder(nil, dnsmessage.Header{ID: h.ID, Response: true, Authoritative: true, RecursionDesired: h.RecursionDesired, RCode: rcode})
	if b.StartQuestions() != nil || b.Question(q) != nil || b.StartAnswers() != nil {
		return nil
	}
	hdr := dnsmessage.ResourceHeader{Name: q.Name, Class: dnsmessage.ClassINET, TTL: 60}
	for _, a := range answers {
		if a.srv != nil {
			target, err := dnsmessage.NewName(strings.TrimSuffix(a.srv.Target, ".") + ".")
			if err != nil {
				return nil
			}
			if b.SRVResource(hdr, dnsmessage.SRVResource{Priority: a.srv.Priority, Weight: a.srv.Weight, Port: a.srv.Port, Target: target}) != nil {
				return nil
			}
			continue
		}
		if b.AResource(hdr, dnsmessage.AResource{A: a.a}) != nil {
			return nil
		}
	}
	out, err := b.Finish()
	if err != nil {
		return nil
	}
	return out
}
