package kerberos

import (
	"bufio"
	"context"
	"encoding/base64"
	"encoding/hex"
	"io"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/sesame-auth/sesame/internal/lab"
)

// gssPeer is MIT's GSS-API initiator (python3-gssapi,
// testdata/gss_initiator.py) running with a ticket cache.
type gssPeer struct {
	t     *testing.T
	cmd   *exec.Cmd
	in    io.WriteCloser
	out   *bufio.Reader
	Token []byte
}

// startGSSPeer runs the initiator for target ("HTTP@localhost") and mech
// ("krb5" or "spnego") and reads its first token.
func startGSSPeer(t *testing.T, k *lab.KDC, ccache, target, mech string, cb []byte, flags ...string) *gssPeer {
	t.Helper()
	lab.RequirePython(t, "gssapi")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	args := append([]string{"testdata/gss_initiator.py", target, mech}, flags...)
	if cb != nil {
		args = append(args, "--cb", hex.EncodeToString(cb))
	}
	cmd := exec.CommandContext(ctx, "/usr/bin/python3", args...)
	cmd.Env = append(k.Env(), "KRB5CCNAME=FILE:"+ccache)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	outp, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &gssPeer{t: t, cmd: cmd, in: in, out: bufio.NewReader(outp)}
	t.Cleanup(func() {
		in.Close()
		_ = cmd.Wait()
		cancel()
		if t.Failed() && stderr.Len() > 0 {
			t.Logf("gss_initiator.py stderr:\n%s", stderr.String())
		}
	})
	kind, tok := p.read()
	if kind != "TOKEN" {
		t.Fatalf("initiator: %s %s\n%s", kind, tok, k.Log())
	}
	p.Token = tok
	return p
}

func (p *gssPeer) read() (string, []byte) {
	p.t.Helper()
	line, err := p.out.ReadString('\n')
	if err != nil {
		p.t.Fatalf("initiator: %v", err)
	}
	kind, rest, _ := strings.Cut(strings.TrimSpace(line), " ")
	if kind == "ERROR" {
		return kind, []byte(rest)
	}
	if rest == "" {
		return kind, nil
	}
	b, err := base64.StdEncoding.DecodeString(rest)
	if err != nil {
		p.t.Fatalf("initiator sent %q: %v", line, err)
	}
	return kind, b
}

// Step sends the acceptor's token (nil for none) and returns the
// initiator's answer: "TOKEN", "COMPLETE" or "ERROR" and the token or
// error text.
func (p *gssPeer) Step(tok []byte) (string, []byte) {
	p.t.Helper()
	s := "-"
	if len(tok) > 0 {
		s = base64.StdEncoding.EncodeToString(tok)
	}
	if _, err := io.WriteString(p.in, s+"\n"); err != nil {
		p.t.Fatalf("initiator: %v", err)
	}
	return p.read()
}
