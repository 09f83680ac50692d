package auth

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"
)

// Limits on the password files the server side reads.
const (
	// MaxPasswordFileBytes bounds an htpasswd or htdigest file.
	MaxPasswordFileBytes = 16 << 20
	// maxPasswordFileLine bounds one line of such a file.
	maxPasswordFileLine = 4096
)

// loadPasswordFile opens path and parses it with parse; errors name the
// path (kind is "htpasswd" or "htdigest").
func loadPasswordFile[T any](path, kind string, parse func(io.Reader) (T, error)) (T, error) {
	var zero T
	f, err := os.Open(path)
	if err != nil {
		return zero, fmt.Errorf("auth: %s: %w", kind, err)
	}
	defer f.Close()
	v, err := parse(f)
	if err != nil {
		return zero, fmt.Errorf("%s: %w", path, err)
	}
	return v, nil
}

// scanPasswordFile calls line for each line of r that is neither blank
// nor a '#' comment, with its number and its text trimmed of spaces,
// and stops at the first error. The file and each line are bounded
// (MaxPasswordFileBytes, maxPasswordFileLine): these files are read
// whole into memory.
func scanPasswordFile(r io.Reader, kind string, line func(n int, text string) error) error {
	sc := bufio.NewScanner(io.LimitReader(r, MaxPasswordFileBytes+1))
	sc.Buffer(make([]byte, 0, 256), maxPasswordFileLine)
	read := 0
	for n := 1; sc.Scan(); n++ {
		read += len(sc.Bytes()) + 1
		if read > MaxPasswordFileBytes+1 {
			return fmt.Errorf("auth: %s: file larger than %d bytes", kind, MaxPasswordFileBytes)
		}
		text := strings.TrimSpace(sc.Text())
		if text == "" || strings.HasPrefix(text, "#") {
			continue
		}
		if err := line(n, text); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("auth: %s: %w", kind, err)
	}
	return nil
}
