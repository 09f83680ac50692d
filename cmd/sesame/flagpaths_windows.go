package main

import (
	"flag"
	"os"
	"path/filepath"
	"strings"

	"github.com/sesame-auth/sesame/config"
)

// absFileFlags makes the paths of the set flags --config, --import and a
// local --pac (a URL stays) absolute, and checks that each exists and
// that the config loads: the Run value and the service start sesame in
// another working directory, where a relative path or a typo would only
// show at the next logon.
func absFileFlags(fs *flag.FlagSet, set map[string]bool) error {
	for _, name := range []string{"config", "import", "pac"} {
		f := fs.Lookup(name)
		if !set[name] || (name == "pac" && strings.Contains(f.Value.String(), "://")) {
			continue
		}
		abs, err := filepath.Abs(f.Value.String())
		if err != nil {
			return err
		}
		if _, err := os.Stat(abs); err != nil {
			return usagef("--%s: %v", name, err)
		}
		if name == "config" {
			if _, err := config.Load(abs); err != nil {
				return usagef("--config: %v", err)
			}
		}
		if err := f.Value.Set(abs); err != nil {
			return err
		}
	}
	return nil
}
