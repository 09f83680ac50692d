package pac

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"
	"unicode/utf16"
	"unicode/utf8"
)

// FailMode says what a Loader does when the PAC file can't be fetched or
// compiled, or an evaluation fails.
type FailMode int

const (
	// FailLastGood keeps using the last script that loaded (the default);
	// with none yet, it behaves as FailError.
	FailLastGood FailMode = iota
	// FailDirect answers "DIRECT" while the script is unavailable or when
	// an evaluation fails.
	FailDirect
	// FailError returns the error.
	FailError
)

// DefaultRefresh is the Loader's default re-fetch interval.
const DefaultRefresh = 5 * time.Minute

// Loader loads a PAC file from a path, a file:// URL or an http(s):// URL,
// keeps the compiled Script, and re-fetches it when Refresh has passed,
// recompiling only when the content changed. HTTP fetches are conditional
// (If-None-Match / If-Modified-Since), files are re-read when their size
// or modification time changes. The text is decoded as UTF-8 (a BOM is
// dropped; a UTF-16 BOM is honoured), as the charset the server declares,
// or else as Latin-1, the encoding Windows PAC files are often saved in.
// A Loader is safe for concurrent use; set the fields before first use.
type Loader struct {
	// Source is a file path or URL.
	Source string
	// Client fetches http(s) sources (default http.DefaultClient). The
	// PAC file should be fetched DIRECT: don't give it a client that goes
	// through the PAC's own proxies.
	Client *http.Client
	// Refresh is the re-fetch interval (default DefaultRefresh).
	Refresh time.Duration
	// Fail is the failure policy.
	Fail FailMode
	// Options are passed to Compile.
	Options Options

	mu       sync.Mutex
	loading  bool
	script   *Script
	sum      [32]byte
	etag     string
	lastMod  string
	fileSize int64
	fileMod  time.Time
	next     time.Time
	lastErr  error
}

// ErrNoScript: no PAC script could be loaded yet.
var ErrNoScript = errors.New("pac: no script loaded")

// Script returns the current script, loading or re-fetching it first when
// it is due. Only one caller re-fetches at a time; the others get the
// previous script meanwhile. With FailDirect it returns (nil, nil) when no
// script is available.
func (l *Loader) Script(ctx context.Context) (*Script, error) {
	l.mu.Lock()
	due := time.Now().After(l.next) && !l.loading
	if due {
		l.loading = true
	}
	cur := l.script
	l.mu.Unlock()
	if due {
		// Concurrent callers keep using cur meanwhile.
		_ = l.load(ctx)
	} else if cur == nil {
		// Someone else is loading the first script: wait for it.
		l.mu.Lock()
		for l.loading {
			l.mu.Unlock()
			select {
			case <-ctx.Done():
				return nil, ctx.Err()
			case <-time.After(5 * time.Millisecond):
			}
			l.mu.Lock()
		}
		l.mu.Unlock()
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.script != nil {
		return l.script, nil
	}
	if l.Fail == FailDirect {
		return nil, nil
	}
	if l.lastErr != nil {
		return nil, l.lastErr
	}
	return nil, ErrNoScript
}

// Reload fetches the source now, whatever the interval says, and returns
// the fetch or compile error, if any (the fail mode decides what the
// Loader serves afterwards).
func (l *Loader) Reload(ctx context.Context) error {
	l.mu.Lock()
	if l.loading {
		l.mu.Unlock()
		return errors.New("pac: reload already in progress")
	}
	l.loading = true
	l.mu.Unlock()
	return l.load(ctx)
}

// FindProxyForURL evaluates the current script (see Script.FindProxyForURL)
// and applies the fail mode: with FailDirect any failure gives "DIRECT".
func (l *Loader) FindProxyForURL(ctx context.Context, rawURL, host string) (string, error) {
	s, err := l.Script(ctx)
	if err != nil {
		return "", err
	}
	if s == nil {
		return "DIRECT", nil
	}
	r, err := s.FindProxyForURL(ctx, rawURL, host)
	if err != nil && l.Fail == FailDirect {
		return "DIRECT", nil
	}
	return r, err
}

func (l *Loader) interval() time.Duration {
	if l.Refresh > 0 {
		return l.Refresh
	}
	return DefaultRefresh
}

// load fetches and compiles; l.loading is set by the caller.
func (l *Loader) load(ctx context.Context) error {
	src, unchanged, err := l.fetch(ctx)
	var s *Script
	var sum [32]byte
	if err == nil && !unchanged {
		sum = sha256.Sum256(src)
		l.mu.Lock()
		same := l.script != nil && sum == l.sum
		l.mu.Unlock()
		if !same {
			s, err = Compile(src, l.Options)
		}
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	l.loading = false
	l.next = time.Now().Add(l.interval())
	l.lastErr = err
	if err != nil {
		if l.Fail != FailLastGood {
			l.script = nil
			l.sum = [32]byte{}
		}
		return err
	}
	if s != nil {
		l.script, l.sum = s, sum
	}
	return nil
}

const maxFetch = MaxScriptSize + 1

// fetch returns the decoded source, or unchanged=true when the server or
// file says nothing changed since the last load.
func (l *Loader) fetch(ctx context.Context) (src []byte, unchanged bool, err error) {
	u, perr := url.Parse(l.Source)
	if perr == nil && (u.Scheme == "http" || u.Scheme == "https") {
		return l.fetchHTTP(ctx)
	}
	path := l.Source
	if perr == nil && u.Scheme == "file" {
		path = u.Path
	}
	fi, err := os.Stat(path)
	if err != nil {
		return nil, false, fmt.Errorf("pac: %w", err)
	}
	l.mu.Lock()
	same := l.script != nil && fi.Size() == l.fileSize && fi.ModTime().Equal(l.fileMod)
	l.mu.Unlock()
	if same {
		return nil, true, nil
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, false, fmt.Errorf("pac: %w", err)
	}
	defer f.Close()
	raw, err := io.ReadAll(io.LimitReader(f, maxFetch))
	if err != nil {
		return nil, false, fmt.Errorf("pac: %w", err)
	}
	if len(raw) > MaxScriptSize {
		return nil, false, ErrTooLarge
	}
	l.mu.Lock()
	l.fileSize, l.fileMod = fi.Size(), fi.ModTime()
	l.mu.Unlock()
	return DecodeText(raw, ""), false, nil
}

func (l *Loader) fetchHTTP(ctx context.Context) ([]byte, bool, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, l.Source, nil)
	if err != nil {
		return nil, false, fmt.Errorf("pac: %w", err)
	}
	l.mu.Lock()
	if l.script != nil {
		if l.etag != "" {
			req.Header.Set("If-None-Match", l.etag)
		}
		if l.lastMod != "" {
			req.Header.Set("If-Modified-Since", l.lastMod)
		}
	}
	l.mu.Unlock()
	c := l.Client
	if c == nil {
		c = http.DefaultClient
	}
	resp, err := c.Do(req)
	if err != nil {
		return nil, false, fmt.Errorf("pac: fetch %s: %w", l.Source, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusNotModified {
		return nil, true, nil
	}
	if resp.StatusCode != http.StatusOK {
		return nil, false, fmt.Errorf("pac: fetch %s: %s", l.Source, resp.Status)
	}
	raw, err := io.ReadAll(io.LimitReader(resp.Body, maxFetch))
	if err != nil {
		return nil, false, fmt.Errorf("pac: fetch %s: %w", l.Source, err)
	}
	if len(raw) > MaxScriptSize {
		return nil, false, ErrTooLarge
	}
	charset := ""
	if _, params, err := mime.ParseMediaType(resp.Header.Get("Content-Type")); err == nil {
		charset = params["charset"]
	}
	l.mu.Lock()
	l.etag, l.lastMod = resp.Header.Get("ETag"), resp.Header.Get("Last-Modified")
	l.mu.Unlock()
	return DecodeText(raw, charset), false, nil
}

// DecodeText turns the bytes of a PAC file into UTF-8: a UTF-8 BOM is
// removed, a UTF-16 BOM selects UTF-16, a declared charset of ISO-8859-1,
// Latin-1, US-ASCII or windows-1252 selects Latin-1 (windows-1252's extra
// characters in 0x80-0x9F are taken as Latin-1 control characters), and
// otherwise valid UTF-8 is kept and anything else is read as Latin-1.
func DecodeText(raw []byte, charset string) []byte {
	switch {
	case bytes.HasPrefix(raw, []byte{0xEF, 0xBB, 0xBF}):
		return raw[3:]
	case bytes.HasPrefix(raw, []byte{0xFE, 0xFF}), bytes.HasPrefix(raw, []byte{0xFF, 0xFE}):
		be := raw[0] == 0xFE
		body := raw[2:]
		u := make([]uint16, len(body)/2)
		for i := range u {
			if be {
				u[i] = uint16(body[2*i])<<8 | uint16(body[2*i+1])
			} else {
				u[i] = uint16(body[2*i+1])<<8 | uint16(body[2*i])
			}
		}
		return []byte(string(utf16.Decode(u)))
	}
	switch strings.ToLower(strings.TrimSpace(charset)) {
	case "iso-8859-1", "latin1", "latin-1", "us-ascii", "windows-1252", "cp1252":
		return latin1(raw)
	}
	if utf8.Valid(raw) {
		return raw
	}
	return latin1(raw)
}

func latin1(raw []byte) []byte {
	var b bytes.Buffer
	b.Grow(len(raw) + len(raw)/8)
	for _, c := range raw {
		b.WriteRune(rune(c))
	}
	return b.Bytes()
}

// ProxyFunc returns a function for http.Transport.Proxy (and
// auth.Transport.Proxy) that routes each request by the PAC file: its first
// entry a plain HTTP client can use (PROXY, HTTP, HTTPS, or DIRECT). A script
// that fails, or names only SOCKS proxies, fails the request. HTTPS URLs are
// shown to the script as scheme://host/, as browsers do.
func (l *Loader) ProxyFunc() func(*http.Request) (*url.URL, error) {
	return func(r *http.Request) (*url.URL, error) {
		result, err := l.FindProxyForURL(r.Context(), r.URL.String(), r.URL.Hostname())
		if err != nil {
			return nil, fmt.Errorf("pac: %w", err)
		}
		for _, p := range ParseResult(result) {
			switch p.Type {
			case DIRECT:
				return nil, nil
			case PROXY, HTTP:
				return &url.URL{Scheme: "http", Host: p.Host}, nil
			case HTTPS:
				return &url.URL{Scheme: "https", Host: p.Host}, nil
			}
		}
		return nil, fmt.Errorf("pac: %q names no proxy an HTTP client can use", result)
	}
}
