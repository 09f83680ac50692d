package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// sesame env keeps the user's NO_PROXY and speaks bash and zsh.
func TestEnvKeepsNoProxy(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "sh"} {
		code, out, errOut := cli(t, []string{"NO_PROXY=.corp.example,10.0.0.0/8"}, "", "env", "--proxy", "http://127.0.0.1:3128", "--shell", shell)
		if code != 0 || !strings.Contains(out, "export NO_PROXY=.corp.example,10.0.0.0/8,localhost,127.0.0.1,::1\n") {
			t.Errorf("--shell %s: exit %d\n%s%s", shell, code, out, errOut)
		}
	}
	if code, _, errOut := cli(t, nil, "", "env", "--shell", "tcsh"); code != 2 || !strings.Contains(errOut, "bash, zsh") {
		t.Errorf("--shell tcsh: exit %d %q", code, errOut)
	}
}

// sesame pac takes a bare host as curl does.
func TestPACBareHost(t *testing.T) {
	f := filepath.Join(t.TempDir(), "proxy.pac")
	if err := os.WriteFile(f, []byte(`function FindProxyForURL(url, host) { return url.substring(0, 5) == "http:" ? "PROXY p.corp:8080" : "DIRECT"; }`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, out, errOut := cli(t, nil, "", "pac", "--file", f, "www.example.com")
	if code != 0 || out != "http://www.example.com\tPROXY p.corp:8080\n" {
		t.Errorf("exit %d %q %q", code, out, errOut)
	}
}

// sesame token decode reads the tokens from stdin, pasted header and all.
func TestTokenDecodeFromStdin(t *testing.T) {
	code, neg, errOut := cli(t, nil, "", "token", "negotiate")
	if code != 0 {
		t.Fatalf("negotiate: %d %s", code, errOut)
	}
	code, out, errOut := cli(t, nil, "Authorization: NTLM "+neg, "token", "decode")
	if code != 0 || !strings.Contains(out, "NEGOTIATE") {
		t.Errorf("decode from stdin: exit %d %q %q", code, out, errOut)
	}
	if code, _, errOut := cli(t, nil, "", "token", "decode"); code != 2 || !strings.Contains(errOut, "no token given") {
		t.Errorf("empty stdin: exit %d %q", code, errOut)
	}
}
