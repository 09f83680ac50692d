package main

import (
	"fmt"
	"strings"

	"github.com/sesame-auth/sesame/config"
	"github.com/sesame-auth/sesame/proxy"
)

const envUsage = `sesame env [--proxy URL] [--shell sh|bash|zsh|fish|powershell|cmd]

Prints the commands that point HTTP_PROXY, HTTPS_PROXY (and their lower-case
forms, which curl and wget read) at sesame, with NO_PROXY: loopback added to
what NO_PROXY already holds. Use: eval "$(sesame env)"`

// runEnv prints shell exports for using the proxy.
func runEnv(e *env, args []string) error {
	fs := newFlagSet("sesame env", envUsage, e.stderr)
	proxyURL := fs.String("proxy", "", "the proxy's URL (default: the first listen address of the configuration, http://127.0.0.1:3128)")
	shell := fs.String("shell", "sh", "syntax: sh, bash, zsh, fish, powershell or cmd")
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("unexpected argument %q", rest[0])
	}
	u := *proxyURL
	if u == "" {
		cfg, _, err := loadProxyConfig(e, "", "")
		if err != nil {
			return err
		}
		u = "http://" + proxy.ClientAddr(cfg.Listen[0])
	}
	switch *shell {
	case "sh", "bash", "zsh", "fish", "powershell", "cmd":
	default:
		return usagef("--shell %q: sh, bash, zsh, fish, powershell or cmd", *shell)
	}
	for _, kv := range proxyEnv(u, e.getenv) {
		k, v, _ := strings.Cut(kv, "=")
		switch *shell {
		case "sh", "bash", "zsh":
			fmt.Fprintf(e.stdout, "export %s=%s\n", k, shellQuote(v))
		case "fish":
			fmt.Fprintf(e.stdout, "set -gx %s %s\n", k, shellQuote(v))
		case "powershell":
			fmt.Fprintf(e.stdout, "$env:%s = '%s'\n", k, strings.ReplaceAll(v, "'", "''"))
		case "cmd":
			fmt.Fprintf(e.stdout, "set %s=%s\n", k, v)
		default:
			return usagef("--shell %q: sh, fish, powershell or cmd", *shell)
		}
	}
	return nil
}

// proxyEnv is the environment that sends a program's traffic to the proxy
// at u. Loopback stays direct: a local service must not be asked for
// through the corporate proxy. What NO_PROXY (or no_proxy) holds already
// stays too: the user's own exceptions.
func proxyEnv(u string, getenv func(string) string) []string {
	noProxy := strings.Join(config.NoProxyList(getenv("NO_PROXY"), getenv("no_proxy"), "localhost,127.0.0.1,::1"), ",")
	return []string{
		"HTTP_PROXY=" + u, "HTTPS_PROXY=" + u, "http_proxy=" + u, "https_proxy=" + u,
		"NO_PROXY=" + noProxy, "no_proxy=" + noProxy,
	}
}

func shellQuote(s string) string {
	if s != "" && !strings.ContainsAny(s, " \t\n'\"\\$`;&|<>()*?[]#~") {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}
