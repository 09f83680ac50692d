package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/sesame-auth/sesame/pac"
)

const pacUsage = `sesame pac [--file PATH | --url URL] [-v] URL...

Evaluates a PAC file for each URL and prints the decision, as a browser
would make it. Without --file or --url the PAC file named by the
configuration (pac = ...) is used.`

// newPACLoader makes the loader for a PAC file. It fetches the file
// DIRECT: through the proxies the file itself names would be a loop.
func newPACLoader(src, fail string, logger *slog.Logger) *pac.Loader {
	mode := pac.FailLastGood
	switch fail {
	case "direct":
		mode = pac.FailDirect
	case "fail":
		mode = pac.FailError
	}
	return &pac.Loader{
		Source:  src,
		Fail:    mode,
		Client:  &http.Client{Transport: &http.Transport{Proxy: nil}, Timeout: 30 * time.Second},
		Options: pac.Options{Logger: logger},
	}
}

// runPAC prints the PAC decision for each URL.
func runPAC(e *env, args []string) error {
	fs := newFlagSet("sesame pac", pacUsage, e.stderr)
	file := fs.String("file", "", "PAC file `PATH`")
	src := fs.String("url", "", "PAC file `URL`")
	verbose := fs.Bool("v", false, "say where the PAC file came from and how long each evaluation took")
	urls, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if *file != "" && *src != "" {
		return usagef("--file and --url exclude each other")
	}
	if len(urls) == 0 {
		return usagef("no URL to evaluate")
	}
	source, from := *file, "--file"
	if *src != "" {
		source, from = *src, "--url"
	}
	if source == "" {
		cfg, _, err := loadProxyConfig(e, "", "")
		if err != nil {
			return err
		}
		source, from = cfg.PAC, "configuration (pac)"
	}
	if source == "" {
		// Discovery, as browsers do it (WPAD only when asked: wpad = true).
		cfg, _, err := loadProxyConfig(e, "", "")
		if err != nil {
			return err
		}
		opts := pac.DiscoverOptions{Getenv: e.getenv, NoWPAD: !cfg.WPAD}
		if *verbose {
			opts.Trace = func(line string) { fmt.Fprintf(e.stdout, "# %s\n", line) }
		}
		ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
		found, err := pac.Discover(ctx, opts)
		cancel()
		if err != nil {
			return err
		}
		if len(found) == 0 || found[0].PACURL == "" {
			what := "nothing"
			if len(found) > 0 {
				what = found[0].String()
			}
			return fmt.Errorf("no PAC file found by discovery (found %s): give --file or --url", what)
		}
		source, from = found[0].PACURL, found[0].Source
	}
	logger := slog.New(slog.NewTextHandler(e.stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	loader := newPACLoader(source, "fail", logger)
	if *verbose {
		fmt.Fprintf(e.stdout, "# PAC file %s (from %s)\n", source, from)
	}
	failed := false
	for _, raw := range urls {
		if !strings.Contains(raw, "://") {
			raw = "http://" + raw // a bare host, as curl takes it
		}
		u, err := url.Parse(raw)
		if err != nil || u.Host == "" {
			fmt.Fprintf(e.stdout, "%s\tERROR not an absolute URL\n", raw)
			failed = true
			continue
		}
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		start := time.Now()
		result, err := loader.FindProxyForURL(ctx, raw, u.Hostname())
		cancel()
		if err != nil {
			fmt.Fprintf(e.stdout, "%s\tERROR %v\n", raw, err)
			failed = true
			continue
		}
		var parts []string
		for _, p := range pac.ParseResult(result) {
			parts = append(parts, p.String())
		}
		line := fmt.Sprintf("%s\t%s", raw, strings.Join(parts, "; "))
		if *verbose {
			line += fmt.Sprintf("\t(script said %q in %v)", result, time.Since(start).Round(time.Microsecond))
		}
		fmt.Fprintln(e.stdout, line)
	}
	if failed {
		return &exitError{code: 1, err: fmt.Errorf("some URLs could not be evaluated"), quiet: true}
	}
	return nil
}
