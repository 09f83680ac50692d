package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// --import … --print-config is what someone migrating runs first: the
// notes on what did not translate come with it, on stderr, and stdout
// stays TOML only.
func TestImportPrintConfigShowsNotes(t *testing.T) {
	conf := filepath.Join(t.TempDir(), "cntlm.conf")
	err := os.WriteFile(conf, []byte("Username\talice\nDomain\t\tCORP\nPassNTLMv2      431D0A1CE0217BB22111069BF6954BDD\nProxy\t\tproxy.corp.example:8080\nHeader\t\tUser-Agent: Mozilla/4.0\n"), 0o600)
	if err != nil {
		t.Fatal(err)
	}
	code, out, errOut := cli(t, nil, "", "proxy", "--import", conf, "--print-config")
	if code != 0 || !strings.Contains(out, "proxy.corp.example:8080") {
		t.Fatalf("exit %d\n%s\n%s", code, out, errOut)
	}
	if !strings.Contains(errOut, "line 5: Header:") || !strings.HasPrefix(errOut, "sesame: import ") {
		t.Errorf("the unsupported Header line is not on stderr: %q", errOut)
	}
	if strings.Contains(out, "Header") {
		t.Errorf("the note went to stdout:\n%s", out)
	}
}
