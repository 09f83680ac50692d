package sidname

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

const testMap = `# groups of the lab domain
S-1-5-21-1-2-3-513 Domain Users
s-1-5-32-545	Users

S-1-5-21-1-2-3-1103 webusers   
`

func TestMapFile(t *testing.T) {
	m, err := ParseMapFile(strings.NewReader(testMap))
	if err != nil {
		t.Fatal(err)
	}
	got, err := m.Names(context.Background(), []string{"S-1-5-21-1-2-3-513", "S-1-5-32-545", "S-1-5-21-1-2-3-1103", "S-1-5-21-1-2-3-9999", "junk"})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"S-1-5-21-1-2-3-513": "Domain Users", "S-1-5-32-545": "Users", "S-1-5-21-1-2-3-1103": "webusers"}
	if len(got) != len(want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s: %q, want %q", k, got[k], v)
		}
	}
	for _, bad := range []string{"S-1-5-32-545\n", "S-1-5-32-x Users\n", "S-1-5-32-545 a\nS-1-5-032-545 b\n", strings.Repeat("x", 5000) + "\n"} {
		if _, err := ParseMapFile(strings.NewReader(bad)); err == nil {
			t.Errorf("ParseMapFile(%.40q) accepted", bad)
		}
	}
}

func FuzzParseMapFile(f *testing.F) {
	f.Add(testMap)
	f.Add("S-1-5-32-545 a b c\n#\n")
	f.Fuzz(func(t *testing.T, s string) {
		m, err := ParseMapFile(strings.NewReader(s))
		if err != nil {
			return
		}
		for sid, name := range m.names {
			if name == "" || strings.ContainsAny(name, "\n") {
				t.Fatalf("bad name %q", name)
			}
			if c, err := CanonicalSID(sid); err != nil || c != sid {
				t.Fatalf("key %q not canonical", sid)
			}
		}
	})
}

// counting counts the SIDs passed to a Resolver.
type counting struct {
	r     Resolver
	asked int
	err   error
}

func (c *counting) Names(ctx context.Context, sids []string) (map[string]string, error) {
	c.asked += len(sids)
	if c.err != nil {
		return nil, c.err
	}
	return c.r.Names(ctx, sids)
}

func TestCache(t *testing.T) {
	m, _ := ParseMapFile(strings.NewReader(testMap))
	src := &counting{r: m}
	now := time.Now()
	c := &Cache{Resolver: src, TTL: time.Hour, NegativeTTL: time.Minute, Now: func() time.Time { return now }}
	ctx := context.Background()
	known, unknown := "S-1-5-21-1-2-3-1103", "S-1-5-21-1-2-3-9999"
	for range 3 {
		got, err := c.Names(ctx, []string{known, unknown})
		if err != nil || got[known] != "webusers" || len(got) != 1 {
			t.Fatalf("%v, %v", got, err)
		}
	}
	if hits, misses := c.Stats(); hits != 4 || misses != 2 || src.asked != 2 {
		t.Fatalf("hits %d misses %d asked %d, want 4, 2, 2", hits, misses, src.asked)
	}
	now = now.Add(2 * time.Minute) // the negative entry expires, the name does not
	c.Names(ctx, []string{known, unknown})
	if src.asked != 3 {
		t.Fatalf("asked %d, want 3 (only the unknown SID again)", src.asked)
	}
	src.err = ErrUnavailable // errors are passed on, not cached
	now = now.Add(2 * time.Minute)
	if _, err := c.Names(ctx, []string{unknown}); !errors.Is(err, ErrUnavailable) {
		t.Fatalf("err = %v", err)
	}
	src.err = nil
	if got, err := c.Names(ctx, []string{known}); err != nil || got[known] != "webusers" {
		t.Fatalf("%v, %v", got, err)
	}
	// Bounded.
	small := &Cache{Resolver: m, Size: 2}
	for i := range 10 {
		small.Names(ctx, []string{"S-1-5-21-1-2-3-" + string(rune('0'+i))})
	}
	if len(small.entries) > 2 {
		t.Fatalf("%d entries in a cache of 2", len(small.entries))
	}
}
