package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"strings"

	"golang.org/x/term"

	"github.com/sesame-auth/sesame/ntlm"
)

// secretFlags are the ways a command takes a password or NT hash. There
// is deliberately no --password flag: a password on the command line is
// visible to every user in ps and lands in shell history.
type secretFlags struct {
	passwordStdin bool
	passwordEnv   string
	ntHash        string
}

func (s *secretFlags) register(fs interface {
	BoolVar(*bool, string, bool, string)
	StringVar(*string, string, string, string)
}) {
	fs.BoolVar(&s.passwordStdin, "password-stdin", false, "read the password from the first line of stdin")
	fs.StringVar(&s.passwordEnv, "password-env", "", "read the password from environment variable `VAR`")
	fs.StringVar(&s.ntHash, "nt-hash", "", "use this NT hash (`HEX`, 32 digits, from 'sesame hash') instead of a password")
}

// given reports whether any secret source was named.
func (s *secretFlags) given() bool { return s.passwordStdin || s.passwordEnv != "" || s.ntHash != "" }

// read returns the password or the NT hash; exactly one source may be
// named.
func (s *secretFlags) read(e *env) (password string, ntHash []byte, err error) {
	n := 0
	for _, b := range []bool{s.passwordStdin, s.passwordEnv != "", s.ntHash != ""} {
		if b {
			n++
		}
	}
	switch {
	case n == 0:
		return "", nil, usagef("need one of --password-stdin, --password-env VAR or --nt-hash HEX")
	case n > 1:
		return "", nil, usagef("--password-stdin, --password-env and --nt-hash exclude each other")
	case s.ntHash != "":
		h, err := ntlm.ParseNTHash(s.ntHash)
		return "", h, err
	case s.passwordEnv != "":
		p := e.getenv(s.passwordEnv)
		if p == "" {
			return "", nil, fmt.Errorf("environment variable %s is empty or not set", s.passwordEnv)
		}
		return p, nil, nil
	default:
		p, err := readPassword(e, "Password: ")
		return p, nil, err
	}
}

// readPassword reads one line from stdin: without echo and after a prompt
// on stderr when stdin is a terminal, as cntlm -H and kinit do.
func readPassword(e *env, prompt string) (string, error) {
	if e.stdinTerminal {
		if f, ok := e.stdin.(*os.File); ok {
			fmt.Fprint(e.stderr, prompt)
			b, err := term.ReadPassword(int(f.Fd()))
			fmt.Fprintln(e.stderr)
			if err != nil {
				return "", fmt.Errorf("read password: %w", err)
			}
			return string(b), nil
		}
	}
	line, err := bufio.NewReader(io.LimitReader(e.stdin, 64<<10)).ReadString('\n')
	if err != nil && err != io.EOF {
		return "", fmt.Errorf("read password: %w", err)
	}
	if line == "" && err == io.EOF {
		return "", fmt.Errorf("read password: stdin is empty")
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }
