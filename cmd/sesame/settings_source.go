package main

import (
	"os"
	"path/filepath"
	"slices"

	"github.com/sesame-auth/sesame/config"
)

// sourcedSettings are the proxy settings `doctor` reports the origin of,
// by flag name, with the SESAME_ variable that also sets each.
var sourcedSettings = []struct{ flag, env string }{
	{"upstream", "SESAME_UPSTREAMS"},
	{"pac", "SESAME_PAC"},
	{"no-proxy", "SESAME_NO_PROXY"},
	{"user", "SESAME_USER"},
	{"auth", "SESAME_AUTH"},
}

// settingSources says where each of sourcedSettings comes from, given
// the configuration as loaded (defaults, file, SESAME_* variables) and
// the flags given: "flag --upstream", "environment SESAME_PAC", "config
// file PATH" or "default". Discovery overrides it later (proxyFlags.config).
func settingSources(e *env, loaded *config.Config, flags map[string]bool) map[string]string {
	def := config.Default()
	inFile := map[string]bool{
		"upstream": !slices.Equal(loaded.Upstreams, def.Upstreams),
		"pac":      loaded.PAC != def.PAC,
		"no-proxy": !slices.Equal(loaded.NoProxy, def.NoProxy),
		"user":     loaded.Auth.User != def.Auth.User,
		"auth":     !slices.Equal(loaded.Auth.Schemes, def.Auth.Schemes),
	}
	out := map[string]string{}
	for _, s := range sourcedSettings {
		switch {
		case flags[s.flag]:
			out[s.flag] = "flag --" + s.flag
		case e.getenv(s.env) != "":
			out[s.flag] = "environment " + s.env
		case inFile[s.flag]:
			out[s.flag] = "config file " + configFileIn(e, flags)
		default:
			out[s.flag] = "default"
		}
	}
	return out
}

// configFileIn names the configuration file that was read, as
// loadProxyConfig picks it.
func configFileIn(e *env, flags map[string]bool) string {
	if p := e.getenv("SESAME_CONFIG"); p != "" && !flags["config"] && !flags["import"] {
		return p
	}
	if !flags["config"] && !flags["import"] {
		if dir, err := os.UserConfigDir(); err == nil {
			return filepath.Join(dir, "sesame", "sesame.toml")
		}
	}
	return "(--config/--import)"
}
