package main

import (
	"bufio"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"runtime/debug"
	"strings"
	"testing"
	"time"
)

func TestBuildVersion(t *testing.T) {
	info := func(v string, settings ...string) func() (*debug.BuildInfo, bool) {
		return func() (*debug.BuildInfo, bool) {
			bi := &debug.BuildInfo{Main: debug.Module{Version: v}}
			for i := 0; i+1 < len(settings); i += 2 {
				bi.Settings = append(bi.Settings, debug.BuildSetting{Key: settings[i], Value: settings[i+1]})
			}
			return bi, true
		}
	}
	for _, tc := range []struct {
		stamped string
		read    func() (*debug.BuildInfo, bool)
		want    string
	}{
		// go install ...@v1.2.3: the module version, no VCS settings.
		{"dev", info("v1.2.3"), "v1.2.3"},
		// A checkout: (devel) and the revision.
		{"dev", info("(devel)", "vcs.revision", "0123456789abcdef0123", "vcs.time", "2025-01-02T03:04:05Z", "vcs.modified", "true"),
			"dev (0123456789ab, 2025-01-02T03:04:05Z, modified)"},
		// scripts/release stamps the version; the revision stays.
		{"v2.0.0", info("(devel)", "vcs.revision", "0123456789abcdef0123", "vcs.modified", "false"), "v2.0.0 (0123456789ab)"},
		// A pseudo-version names the revision already.
		{"dev", info("v0.0.0-20250102030405-0123456789ab+dirty", "vcs.revision", "0123456789abcdef0123", "vcs.modified", "true"),
			"v0.0.0-20250102030405-0123456789ab+dirty"},
		{"dev", func() (*debug.BuildInfo, bool) { return nil, false }, "dev"},
	} {
		if got := buildVersion(tc.stamped, tc.read); got != tc.want {
			t.Errorf("buildVersion(%q) = %q, want %q", tc.stamped, got, tc.want)
		}
	}
}

// sesame --version and sesame version print the same line, with the VCS
// revision the build recorded; the admin page shows the same version.
func TestVersionCommandAndAdminPage(t *testing.T) {
	code, out, errOut := cli(t, nil, "", "--version")
	if code != 0 || errOut != "" {
		t.Fatalf("--version: exit %d, stderr %q", code, errOut)
	}
	if _, out2, _ := cli(t, nil, "", "version"); out2 != out {
		t.Errorf("version %q differs from --version %q", out2, out)
	}
	if !regexp.MustCompile(`^sesame \S+ .*go1\.\d+.* \w+/\w+\n$`).MatchString(out) {
		t.Errorf("--version: %q", out)
	}
	// The revision the build recorded, if it did (not from a git
	// worktree, nor with -buildvcs=false).
	info, err := exec.Command("go", "version", "-m", cliBinary(t)).Output()
	if err != nil {
		t.Fatal(err)
	}
	if m := regexp.MustCompile(`vcs\.revision=([0-9a-f]{12})`).FindSubmatch(info); m != nil && !strings.Contains(out, string(m[1])) {
		t.Errorf("--version %q lacks the revision %s", out, m[1])
	}
	v := strings.TrimPrefix(out, "sesame ")
	v = v[:strings.Index(v, " go1.")]

	cmd := exec.Command(cliBinary(t), "proxy", "--listen", "127.0.0.1:0", "--admin", "127.0.0.1:0", "--upstream", "127.0.0.1:9")
	cmd.Env = append([]string{"HOME=" + t.TempDir(), "XDG_CONFIG_HOME=" + t.TempDir()}, hermeticKerberosEnv...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	adminURL := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stderr)
		for sc.Scan() {
			if m := regexp.MustCompile(`admin listening" url=(\S+)`).FindStringSubmatch(sc.Text()); m != nil {
				adminURL <- m[1]
			}
		}
	}()
	var u string
	select {
	case u = <-adminURL:
	case <-time.After(30 * time.Second):
		t.Fatal("no admin listening line")
	}
	c := &http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(page), v) {
		t.Errorf("admin page does not show version %q:\n%.2000s", v, page)
	}
}
