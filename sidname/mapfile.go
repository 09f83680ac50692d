package sidname

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
)

// maxMapLine bounds one line of a map file.
const maxMapLine = 4096

// MapFile is a static SID→name map: the no-directory option.
type MapFile struct {
	names map[string]string
}

// LoadMapFile reads a map file: lines "SID name" (the name is the rest of
// the line, spaces and all: "S-1-5-21-…-513 Domain Users"); blank lines
// and lines starting with '#' are ignored.
func LoadMapFile(path string) (*MapFile, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("sidname: map file: %w", err)
	}
	defer f.Close()
	m, err := ParseMapFile(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return m, nil
}

// ParseMapFile parses the map file format from r. A SID listed twice is
// an error (which name was meant?).
func ParseMapFile(r io.Reader) (*MapFile, error) {
	m := &MapFile{names: make(map[string]string)}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 256), maxMapLine)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		i := strings.IndexAny(line, " \t")
		if i < 0 {
			return nil, fmt.Errorf("sidname: map file line %d: want \"SID name\"", n)
		}
		sid, name := line[:i], strings.TrimSpace(line[i+1:])
		if name == "" {
			return nil, fmt.Errorf("sidname: map file line %d: want \"SID name\"", n)
		}
		canon, err := CanonicalSID(sid)
		if err != nil {
			return nil, fmt.Errorf("sidname: map file line %d: %w", n, err)
		}
		if _, dup := m.names[canon]; dup {
			return nil, fmt.Errorf("sidname: map file line %d: %s listed twice", n, canon)
		}
		m.names[canon] = name
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("sidname: map file: %w", err)
	}
	return m, nil
}

// Len returns the number of SIDs in the map.
func (m *MapFile) Len() int { return len(m.names) }

// Names implements Resolver. SIDs are matched in canonical form;
// malformed ones are absent from the result.
func (m *MapFile) Names(_ context.Context, sids []string) (map[string]string, error) {
	out := make(map[string]string)
	for _, s := range sids {
		c, err := CanonicalSID(s)
		if err != nil {
			continue
		}
		if name, ok := m.names[c]; ok {
			out[s] = name
		}
	}
	return out, nil
}
