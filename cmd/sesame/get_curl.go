package main

import (
	"compress/flate"
	"compress/gzip"
	"flag"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strings"
	"time"
)

// getCurlOptions are the curl flags of "sesame get" about what is shown
// (-I, -i, -w) and how the body travels (--compressed).
type getCurlOptions struct {
	head, include, compressed bool
	writeOut                  string
	proxyPasswordEnv          string
	proxyPasswordStdin        bool
	start                     time.Time
}

// schemeFlag is one of curl's --ntlm, --negotiate, ... : it sets the
// scheme list, the last such flag winning as in curl.
type schemeFlag struct {
	dst    *string
	scheme string
}

func (f schemeFlag) String() string     { return "" }
func (f schemeFlag) IsBoolFlag() bool   { return true }
func (f schemeFlag) Set(v string) error { *f.dst = f.scheme; return nil }

// registerCurl adds the curl flags of getCurlOptions and the scheme
// aliases (--negotiate for --auth negotiate, --proxy-ntlm for
// --proxy-auth ntlm, --anyauth for any).
func (o *getOptions) registerCurl(fs *flag.FlagSet) {
	for _, n := range []string{"I", "head"} {
		fs.BoolVar(&o.curl.head, n, false, "")
	}
	for _, n := range []string{"i", "include"} {
		fs.BoolVar(&o.curl.include, n, false, "")
	}
	fs.BoolVar(&o.curl.compressed, "compressed", false, "")
	for _, n := range []string{"w", "write-out"} {
		fs.StringVar(&o.curl.writeOut, n, "", "")
	}
	fs.StringVar(&o.curl.proxyPasswordEnv, "proxy-password-env", "", "")
	fs.BoolVar(&o.curl.proxyPasswordStdin, "proxy-password-stdin", false, "")
	for _, s := range []string{"negotiate", "ntlm", "digest", "basic"} {
		fs.Var(schemeFlag{&o.authSchemes, s}, s, "")
		fs.Var(schemeFlag{&o.proxyAuth, s}, "proxy-"+s, "")
	}
	fs.Var(schemeFlag{&o.authSchemes, "any"}, "anyauth", "")
	fs.Var(schemeFlag{&o.proxyAuth, "any"}, "proxy-anyauth", "")
}

// writeHead writes the status line and header fields, as curl -i and -I
// do.
func writeHead(w io.Writer, resp *http.Response) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s\r\n", resp.Proto, resp.Status)
	keys := make([]string, 0, len(resp.Header))
	for k := range resp.Header {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		for _, v := range resp.Header[k] {
			fmt.Fprintf(&b, "%s: %s\r\n", k, v)
		}
	}
	b.WriteString("\r\n")
	_, err := io.WriteString(w, b.String())
	return err
}

// decodedBody undoes the Content-Encoding that --compressed asked for.
func decodedBody(resp *http.Response, body io.Reader) (io.Reader, error) {
	switch strings.ToLower(strings.TrimSpace(resp.Header.Get("Content-Encoding"))) {
	case "gzip", "x-gzip":
		zr, err := gzip.NewReader(body)
		if err != nil {
			return nil, fmt.Errorf("--compressed: %w", err)
		}
		return zr, nil
	case "deflate":
		return flate.NewReader(body), nil
	}
	return body, nil
}

// countingReader counts the bytes received, for -w %{size_download}.
type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}

// writeOutText expands curl's -w format: %{http_code}, %{size_download},
// %{time_total}, %{speed_download}, %{url_effective}, %{content_type},
// and the escapes \n, \r, \t and \\.
func writeOutText(format string, resp *http.Response, size int64, elapsed time.Duration) string {
	secs := elapsed.Seconds()
	speed := int64(0)
	if secs > 0 {
		speed = int64(float64(size) / secs)
	}
	vars := map[string]string{
		"http_code":      fmt.Sprintf("%03d", resp.StatusCode),
		"response_code":  fmt.Sprintf("%03d", resp.StatusCode),
		"size_download":  fmt.Sprint(size),
		"time_total":     fmt.Sprintf("%.6f", secs),
		"speed_download": fmt.Sprint(speed),
		"content_type":   resp.Header.Get("Content-Type"),
	}
	if resp.Request != nil {
		vars["url_effective"] = resp.Request.URL.Redacted()
	}
	var b strings.Builder
	for i := 0; i < len(format); i++ {
		c := format[i]
		switch {
		case c == '%' && strings.HasPrefix(format[i:], "%{"):
			end := strings.IndexByte(format[i:], '}')
			if end < 0 {
				b.WriteString(format[i:])
				return b.String()
			}
			name := format[i+2 : i+end]
			if v, ok := vars[name]; ok {
				b.WriteString(v)
			}
			i += end
		case c == '\\' && i+1 < len(format):
			i++
			switch format[i] {
			case 'n':
				b.WriteByte('\n')
			case 'r':
				b.WriteByte('\r')
			case 't':
				b.WriteByte('\t')
			default:
				b.WriteByte(format[i])
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}
