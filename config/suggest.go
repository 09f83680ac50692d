package config

import (
	"reflect"
	"sort"
	"strings"
)

// Closest returns the candidate nearest to word (edit distance, ignoring
// case), for "did you mean" messages; "" when none is close enough to be
// a likely typo.
func Closest(word string, candidates []string) string {
	w := strings.ToLower(word)
	best, bestD := "", 0
	for _, c := range candidates {
		d := editDistance(w, strings.ToLower(c))
		if best == "" || d < bestD {
			best, bestD = c, d
		}
	}
	limit := max(1, min(len(w), len(best))/3)
	if best != "" && bestD <= limit {
		return best
	}
	// A unique candidate that starts with word: --print for --print-config.
	var prefixed []string
	for _, c := range candidates {
		if len(w) >= 3 && strings.HasPrefix(strings.ToLower(c), w) {
			prefixed = append(prefixed, c)
		}
	}
	if len(prefixed) == 1 {
		return prefixed[0]
	}
	return ""
}

// editDistance is the optimal string alignment distance of a and b, in
// bytes (names here are ASCII): insertions, deletions, substitutions and
// swaps of neighbours, the usual typos, count one each.
func editDistance(a, b string) int {
	d := make([][]int, len(a)+1)
	for i := range d {
		d[i] = make([]int, len(b)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(a); i++ {
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && a[i-1] == b[j-2] && a[i-2] == b[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(a)][len(b)]
}

// Keys returns every key a configuration file may set, dotted
// ("auth.user", "serve.listen"), sorted.
func Keys() []string {
	var keys []string
	var walk func(prefix string, t reflect.Type)
	walk = func(prefix string, t reflect.Type) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			name, _, _ := strings.Cut(f.Tag.Get("toml"), ",")
			if name == "" || name == "-" {
				continue
			}
			keys = append(keys, prefix+name)
			if f.Type.Kind() == reflect.Struct {
				walk(prefix+name+".", f.Type)
			}
		}
	}
	walk("", reflect.TypeOf(Config{}))
	sort.Strings(keys)
	return keys
}

// EnvVar is one SESAME_* environment variable sesame reads.
type EnvVar struct {
	Name, Help string
}

// EnvVars are the SESAME_* variables sesame reads, in the order `sesame
// proxy -h` lists them.
var EnvVars = []EnvVar{
	{"SESAME_CONFIG", "configuration file (default ~/.config/sesame/sesame.toml)"},
	{"SESAME_LISTEN", "listen addresses (comma list)"},
	{"SESAME_UPSTREAMS", "upstream proxies, tried in order (comma list)"},
	{"SESAME_PAC", "PAC file path or URL"},
	{"SESAME_NO_PROXY", "hosts reached directly (comma list)"},
	{"SESAME_DIRECT_FALLBACK", "true: go DIRECT when every upstream is down"},
	{"SESAME_ALLOW", "client networks besides loopback (comma list)"},
	{"SESAME_ADMIN", "status page address"},
	{"SESAME_LOG_LEVEL", "debug, info, warn or error"},
	{"SESAME_AUTH", "upstream schemes (comma list)"},
	{"SESAME_USER", "upstream account"},
	{"SESAME_DOMAIN", "its domain"},
	{"SESAME_WORKSTATION", "workstation name sent in NTLM"},
	{"SESAME_PASSWORD_ENV", "name of the variable holding the password"},
	{"SESAME_NT_HASH", "NT hash instead of a password"},
	{"SESAME_NTLMV2_HASH", "NTLMv2 hash instead of a password"},
	{"SESAME_SSPI", "Windows: off to not use SSPI"},
}
