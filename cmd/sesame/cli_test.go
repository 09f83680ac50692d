package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
)

var updateGolden = flag.Bool("update", false, "rewrite testdata/help/*.golden from the current output")

// The binary the CLI tests run, built once per test run.
var (
	cliOnce sync.Once
	cliBin  string
	cliErr  error
)

// cliBinary builds sesame once for all the tests of a run that drive it
// as a user does.
func cliBinary(t *testing.T) string {
	t.Helper()
	cliOnce.Do(func() {
		dir, err := os.MkdirTemp("", "sesame-cli-test-")
		if err != nil {
			cliErr = err
			return
		}
		cliBin = filepath.Join(dir, "sesame")
		args := []string{"build", "-buildvcs=auto", "-o", cliBin}
		if raceEnabled {
			args = append(args, "-race")
		}
		if out, err := exec.Command("go", append(args, ".")...).CombinedOutput(); err != nil {
			cliErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if cliErr != nil {
		t.Fatal(cliErr)
	}
	return cliBin
}

// cli runs the sesame binary with args, the environment environ (plus
// PATH and HOME, and a hermetic Kerberos setup) and stdin; it returns the
// exit status and the output.
func cli(t *testing.T, environ []string, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	bin := cliBinary(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "XDG_CONFIG_HOME=" + t.TempDir()}, hermeticKerberosEnv...)
	cmd.Env = append(cmd.Env, environ...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	var xe *exec.ExitError
	switch {
	case err == nil:
	case errors.As(err, &xe):
		code = xe.ExitCode()
	default:
		t.Fatalf("sesame %s: %v", strings.Join(args, " "), err)
	}
	if ctx.Err() != nil {
		t.Fatalf("sesame %s: timed out; stderr:\n%s", strings.Join(args, " "), errOut.String())
	}
	return code, out.String(), errOut.String()
}

// Every command's -h, compared with testdata/help/CMD.golden (go test
// -run TestHelpGolden -update rewrites them): the help stays in one
// style, and a change to it shows in review. "sesame help CMD" prints
// the same.
func TestHelpGolden(t *testing.T) {
	var cases [][]string
	for name, c := range commands {
		if c.run != nil {
			cases = append(cases, []string{name})
		}
	}
	cases = append(cases, []string{"token", "negotiate"}, []string{"token", "authenticate"}, []string{"token", "decode"})
	sort.Slice(cases, func(i, j int) bool { return strings.Join(cases[i], " ") < strings.Join(cases[j], " ") })
	cases = append(cases, nil) // sesame -h
	for _, args := range cases {
		name := strings.Join(args, "-")
		if name == "" {
			name = "sesame"
		}
		t.Run(name, func(t *testing.T) {
			code, stdout, stderr := cli(t, nil, "", append(append([]string{}, args...), "-h")...)
			got := fmt.Sprintf("$ sesame %s\nexit %d\n--- stdout\n%s--- stderr\n%s", strings.TrimSpace(strings.Join(args, " ")+" -h"), code, stdout, stderr)
			path := filepath.Join("testdata", "help", name+".golden")
			if *updateGolden {
				if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run go test -run TestHelpGolden -update)", err)
			}
			if got != string(want) {
				t.Errorf("help differs from %s (go test -run TestHelpGolden -update rewrites it):\n%s", path, got)
			}
			if code != 0 || stdout != "" {
				t.Errorf("-h: exit %d, stdout %q; want 0 and the help on stderr", code, stdout)
			}
			for _, line := range strings.Split(stderr, "\n") {
				// Go's single-dash style must not come back.
				if strings.HasPrefix(strings.TrimSpace(line), "-") && strings.HasPrefix(line, "  -") && len(strings.Fields(line)[0]) > 3 &&
					!strings.HasPrefix(strings.Fields(line)[0], "--") && !strings.HasSuffix(strings.Fields(line)[0], ",") {
					t.Errorf("flag in Go's style: %q", line)
				}
			}
			if len(args) == 1 {
				hcode, hout, herr := cli(t, nil, "", "help", args[0])
				if hcode != code || hout != stdout || herr != stderr {
					t.Errorf("sesame help %s differs from sesame %s -h:\n%s", args[0], args[0], herr)
				}
			}
		})
	}
}

// Commands that do not listen take no listener flags.
func TestHelpListsOnlyTheCommandsFlags(t *testing.T) {
	for _, tc := range []struct {
		cmd    string
		absent []string
	}{
		{"doctor", []string{"--admin", "--listen", "--allow", "--ntlm-to-basic"}},
		{"run", []string{"--admin", "--allow", "--ntlm-to-basic"}},
	} {
		code, _, stderr := cli(t, nil, "", tc.cmd, "-h")
		if code != 0 {
			t.Fatalf("%s -h: exit %d", tc.cmd, code)
		}
		for _, f := range tc.absent {
			if strings.Contains(stderr, f+" ") || strings.Contains(stderr, f+"\n") {
				t.Errorf("%s -h lists %s", tc.cmd, f)
			}
		}
		if code, _, stderr := cli(t, nil, "", tc.cmd, "--admin", "127.0.0.1:1"); code != 2 || !strings.Contains(stderr, "unknown flag --admin") {
			t.Errorf("%s --admin: exit %d, %q", tc.cmd, code, stderr)
		}
	}
	_, _, stderr := cli(t, nil, "", "proxy", "-h")
	for _, want := range []string{"SESAME_UPSTREAMS", "SESAME_CONFIG", "--auth LIST", "negotiate", "-x"} {
		if want == "-x" {
			continue
		}
		if !strings.Contains(stderr, want) {
			t.Errorf("proxy -h does not mention %s", want)
		}
	}
}

// A wrong flag costs one line naming the nearest right one, not the
// whole usage.
func TestUnknownFlagOneLine(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"pac", "--fil", "x.pac", "http://a/"}, "sesame pac: unknown flag --fil; did you mean --file? (see sesame pac -h)"},
		{[]string{"proxy", "--upstreams", "p:8080"}, "did you mean --upstream?"},
		{[]string{"get", "--outptu", "f", "http://a/"}, "did you mean --output?"},
		{[]string{"get", "--zzzzzz", "http://a/"}, "sesame get: unknown flag --zzzzzz (see sesame get -h)"},
		{[]string{"doctor", "--user"}, "sesame doctor: flag needs an argument: --user"},
		{[]string{"proxy", "--password", "secret"}, "there is no --password: a password on the command line shows in ps"},
		{[]string{"get", "--password=secret", "http://a/"}, "use --password-env VAR, --password-stdin"},
		{[]string{"hsah"}, `sesame: unknown command "hsah"; did you mean "hash"?`},
	} {
		code, stdout, stderr := cli(t, nil, "", tc.args...)
		if code != 2 || stdout != "" || strings.Count(stderr, "\n") != 1 || !strings.Contains(stderr, tc.want) {
			t.Errorf("sesame %s: exit %d, stdout %q, stderr %q; want exit 2 and one line with %q", strings.Join(tc.args, " "), code, stdout, stderr, tc.want)
		}
	}
}

// A SESAME_ variable sesame does not read is reported, with the one
// meant; a config key likewise.
func TestUnknownSettingsReported(t *testing.T) {
	code, _, stderr := cli(t, []string{"SESAME_UPSTREAM=proxy:8080", "SESAME_LOG_LEVEL=warn"}, "", "version")
	want := "sesame: warning: unknown environment variable SESAME_UPSTREAM, ignored (did you mean SESAME_UPSTREAMS?)\n"
	if code != 0 || stderr != want {
		t.Errorf("exit %d, stderr %q; want 0 and %q", code, stderr, want)
	}
	cfg := filepath.Join(t.TempDir(), "sesame.toml")
	if err := os.WriteFile(cfg, []byte("upstream = [\"proxy:8080\"]\n[auth]\nusr = \"alice\"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = cli(t, nil, "", "proxy", "--config", cfg, "--print-config")
	if code == 0 || !strings.Contains(stderr, "unknown key auth.usr, upstream") {
		t.Errorf("two unknown keys: exit %d, %q", code, stderr)
	}
	if err := os.WriteFile(cfg, []byte("upstream = [\"proxy:8080\"]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	code, _, stderr = cli(t, nil, "", "proxy", "--config", cfg, "--print-config")
	if code == 0 || !strings.Contains(stderr, "unknown key upstream (did you mean upstreams?)") {
		t.Errorf("unknown key: exit %d, %q", code, stderr)
	}
}
