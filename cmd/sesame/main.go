// Command sesame gets software through networks that demand NTLM,
// Negotiate (Kerberos), Digest or Basic authentication, and helps debug
// them.
//
// Usage:
//
//	sesame proxy [flags]                 the local authenticating proxy (127.0.0.1:3128)
//	sesame serve --backend URL           an authenticating reverse proxy in front of a web app
//	sesame get URL [flags]               fetch a URL like curl, answering challenges
//	sesame doctor [flags]                diagnose the upstream proxy and the credentials
//	sesame pac [--file F | --url U] URL  evaluate a PAC file as a browser would
//	sesame env | sesame run -- CMD       point tools at the proxy
//	sesame login --user 'DOMAIN\user'    store the password in the OS keyring
//	sesame service install|...           run the proxy as a Windows service
//	sesame token negotiate|authenticate|decode   make and inspect NTLM tokens
//	sesame hash --user 'DOMAIN\user'     NT and NTLMv2 hashes of a password
//
// Run "sesame COMMAND -h" for a command's flags. Exit status: 0 success,
// 1 failure, 2 wrong usage.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sort"
	"strings"

	"github.com/sesame-auth/sesame/config"
)

// version is sesame's version, set at release builds with
// -ldflags "-X main.version=...".
var version = "dev"

// env is the process's view of the outside world, passed in so that tests
// can run commands in-process with their own input and environment.
type env struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	getenv         func(string) string
	// stdinTerminal reports whether stdin is a terminal, so that
	// passwords are read without echo and with a prompt.
	stdinTerminal bool
	// environ lists the environment (os.Environ), to report SESAME_*
	// variables sesame does not know; nil skips the check.
	environ func() []string
}

// command is one subcommand; run gets the arguments after its name.
type command struct {
	summary string
	run     func(e *env, args []string) error
}

var commands = map[string]command{
	"token":     {"make and decode NTLM tokens (negotiate, authenticate, decode)", runToken},
	"hash":      {"print the NT and NTLMv2 hashes of a password, for a config file", runHash},
	"get":       {"fetch a URL like curl, answering NTLM/Negotiate/Digest/Basic challenges", runGet},
	"proxy":     {"run the local authenticating proxy (default 127.0.0.1:3128)", runProxy},
	"serve":     {"serve a web app behind Negotiate/NTLM/Basic/Digest login, as a reverse proxy", runServe},
	"env":       {"print shell exports that point HTTP(S)_PROXY at sesame", runEnv},
	"run":       {"run a command with HTTP(S)_PROXY pointing at sesame (starting one if none runs)", runRun},
	"pac":       {"evaluate a PAC file for URLs, as a browser would", runPAC},
	"doctor":    {"diagnose the upstream proxy: schemes offered, credentials tried once, suggested config", runDoctor},
	"login":     {"store an upstream account's password in the OS keyring (--check, --delete)", runLogin},
	"kinit":     {"get a Kerberos TGT (password, keytab or OS keyring) into the default cache: FILE, DIR, KCM or KEYRING", runKinit},
	"klist":     {"list the tickets of a Kerberos credential cache (-l: the caches of a collection)", runKlist},
	"install":   {"start the proxy at each logon of this user (Windows Run key; elsewhere: how)", runInstall},
	"uninstall": {"remove the autostart entry of 'sesame install'", runUninstall},
	"service":   {"install and control the proxy as a Windows service (Windows only)", runService},
	"version":   {"print sesame's version and VCS revision (also --version)", runVersion},
	"help":      {"print a command's help: sesame help COMMAND", nil},
}

// usageError marks errors caused by how sesame was called (exit status 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &usageError{fmt.Sprintf(format, args...)} }

func main() {
	e := &env{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr, getenv: os.Getenv, stdinTerminal: isTerminal(os.Stdin), environ: os.Environ}
	os.Exit(run(e, os.Args[1:]))
}

// run executes one command line and returns the exit status.
func run(e *env, args []string) int {
	if len(args) >= 2 && args[0] == "help" {
		// "sesame help get" is "sesame get -h".
		args = []string{args[1], "-h"}
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printUsage(e.stderr)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	if args[0] == "--version" || args[0] == "-V" {
		args[0] = "version"
	}
	cmd, ok := commands[args[0]]
	if !ok || cmd.run == nil {
		msg := fmt.Sprintf("sesame: unknown command %q", args[0])
		names := make([]string, 0, len(commands))
		for n := range commands {
			names = append(names, n)
		}
		if s := config.Closest(args[0], names); s != "" {
			msg += fmt.Sprintf("; did you mean %q?", s)
		}
		fmt.Fprintf(e.stderr, "%s (see sesame -h)\n", msg)
		return 2
	}
	warnUnknownEnv(e)
	err := cmd.run(e, args[1:])
	var ue *usageError
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errHelp):
		return 0
	case errors.As(err, &ue):
		fmt.Fprintf(e.stderr, "sesame %s: %v\n", args[0], err)
		return 2
	case exitStatus(err) != 0: // a command's finer status (sesame get's are curl's)
		var xe *exitError
		if !errors.As(err, &xe) || !xe.quiet {
			fmt.Fprintf(e.stderr, "sesame %s: %v\n", args[0], err)
		}
		return exitStatus(err)
	default:
		fmt.Fprintf(e.stderr, "sesame %s: %v\n", args[0], err)
		return 1
	}
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: sesame COMMAND [flags]\n\ncommands:")
	names := make([]string, 0, len(commands))
	for n := range commands {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-8s %s\n", n, commands[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'sesame help COMMAND' or 'sesame COMMAND -h' for a command's flags,\n'sesame --version' for the version.")
}

// warnUnknownEnv reports SESAME_* variables sesame does not read: a typo
// there (SESAME_UPSTREAM for SESAME_UPSTREAMS) would otherwise be ignored
// without a word.
func warnUnknownEnv(e *env) {
	if e.environ == nil {
		return
	}
	known := make([]string, 0, len(config.EnvVars))
	for _, v := range config.EnvVars {
		known = append(known, v.Name)
	}
	for _, kv := range e.environ() {
		name, _, _ := strings.Cut(kv, "=")
		if !strings.HasPrefix(name, "SESAME_") || slices.Contains(known, name) || strings.HasPrefix(name, "SESAME_LAB_") {
			continue
		}
		msg := fmt.Sprintf("sesame: warning: unknown environment variable %s, ignored", name)
		if s := config.Closest(name, known); s != "" {
			msg += fmt.Sprintf(" (did you mean %s?)", s)
		}
		fmt.Fprintln(e.stderr, msg)
	}
}

// exitError carries an exit status other than 1 (failure) and 2 (usage),
// for commands that, like "sesame get", give scripts finer statuses.
type exitError struct {
	code int
	err  error
	// quiet: the status speaks for itself (sesame run passes on its
	// command's), so run prints nothing.
	quiet bool
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

func exitf(code int, format string, args ...any) error {
	return &exitError{code: code, err: fmt.Errorf(format, args...)}
}

// exitStatus returns the status err asks for, 0 when it names none (run
// then uses 1 or 2).
func exitStatus(err error) int {
	var xe *exitError
	if errors.As(err, &xe) {
		return xe.code
	}
	return 0
}
