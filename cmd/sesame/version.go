package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// The version stamped at link time (-ldflags "-X main.version=v1.2.3",
// as scripts/release does) wins; otherwise the build info says what was
// built: the module version `go install ...@v1.2.3` records, and the VCS
// revision a build from a checkout records.
func init() { version = buildVersion(version, debug.ReadBuildInfo) }

// buildVersion returns the version line: the module version (or the
// stamped one), then the VCS revision, its time and "modified" when the
// checkout had uncommitted changes.
func buildVersion(stamped string, read func() (*debug.BuildInfo, bool)) string {
	v := stamped
	bi, ok := read()
	if !ok {
		return v
	}
	if v == "dev" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		v = bi.Main.Version
	}
	var rev, at string
	modified := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.time":
			at = s.Value
		case "vcs.modified":
			modified = s.Value == "true"
		}
	}
	if len(rev) > 12 {
		rev = rev[:12]
	}
	var extra []string
	// A module version of a pseudo-version already names the revision.
	if rev != "" && !strings.Contains(v, rev) {
		extra = append(extra, rev)
	}
	if at != "" {
		extra = append(extra, at)
	}
	if modified && !strings.Contains(v, "dirty") {
		extra = append(extra, "modified")
	}
	if len(extra) > 0 {
		v += " (" + strings.Join(extra, ", ") + ")"
	}
	return v
}

// runVersion implements "sesame version" and "sesame --version".
func runVersion(e *env, args []string) error {
	fs := newFlagSet("sesame version", "sesame version\n\nPrints sesame's version, VCS revision and Go version.", e.stderr)
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("unexpected argument %q", rest[0])
	}
	fmt.Fprintf(e.stdout, "sesame %s %s %s/%s\n", version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
	return nil
}
