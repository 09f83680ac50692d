package config

import "testing"

func TestClosest(t *testing.T) {
	cands := []string{"upstreams", "listen", "auth.user", "print-config", "hash", "file"}
	for word, want := range map[string]string{
		"upstream":  "upstreams",
		"hsah":      "hash",
		"auth.usr":  "auth.user",
		"print":     "print-config",
		"fil":       "file",
		"zzzzzz":    "",
		"x":         "",
		"LISTEN":    "listen",
		"listening": "",
	} {
		if got := Closest(word, cands); got != want {
			t.Errorf("Closest(%q) = %q, want %q", word, got, want)
		}
	}
}

func TestKeysHasNested(t *testing.T) {
	keys := Keys()
	for _, want := range []string{"upstreams", "auth.user", "serve.listen"} {
		found := false
		for _, k := range keys {
			found = found || k == want
		}
		if !found {
			t.Errorf("Keys() lacks %s: %v", want, keys)
		}
	}
}
