package main

import (
	"errors"
	"fmt"
	"os"

	"github.com/sesame-auth/sesame/keyring"
)

const loginUsage = `sesame login --user 'DOMAIN\user' [--domain D] [--password-stdin]   store the password
       sesame login --check --user 'DOMAIN\user'                              is one stored?
       sesame login --delete --user 'DOMAIN\user'                             remove it

The password goes to the OS keyring (the Secret Service, e.g. gnome-keyring,
on Linux; the Keychain on macOS; the Credential Manager on Windows) under the
service "sesame" and the account as spelled here. 'sesame proxy --user' with
the same spelling, and no secret configured, takes it from there.`

// runLogin stores, checks or removes the password of an upstream proxy
// account in the OS keyring, so that the proxy can start without a
// password in a file, a flag or the environment, and without a prompt.
func runLogin(e *env, args []string) error {
	fs := newFlagSet("sesame login", loginUsage, e.stderr)
	user := fs.String("user", "", "account: `DOMAIN\\user`, user@domain or user (required)")
	domain := fs.String("domain", "", "domain, if --user has none")
	passwordStdin := fs.Bool("password-stdin", false, "read the password from the first line of stdin (without it, sesame asks on the terminal)")
	check := fs.Bool("check", false, "say whether a password is stored (exit status 1 if not); never prints it")
	del := fs.Bool("delete", false, "remove the stored password")
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	switch {
	case len(rest) > 0:
		// Not quoted back: a stray argument here is most likely the
		// password itself, and an error message ends up in logs.
		return usagef("unexpected argument: the password is never an argument (it would show in ps and shell history)")
	case *user == "":
		return usagef("--user is required")
	case *check && *del:
		return usagef("--check and --delete exclude each other")
	case (*check || *del) && *passwordStdin:
		return usagef("--password-stdin is for storing a password, not with --check or --delete")
	}
	account := qualifiedUser(*user, *domain)
	if err := keyringUsable(e); err != nil {
		return err
	}
	switch {
	case *check:
		if _, err := keyring.Get(keyring.Service, account); err != nil {
			if errors.Is(err, keyring.ErrNotFound) {
				return fmt.Errorf("no password for %s in the OS keyring (store one with `sesame login --user %s`)", account, shellQuote(account))
			}
			return err
		}
		fmt.Fprintf(e.stdout, "a password for %s is stored in the OS keyring\n", account)
		return nil
	case *del:
		if err := keyring.Delete(keyring.Service, account); err != nil {
			if errors.Is(err, keyring.ErrNotFound) {
				// Removing what is not there is done, not failed:
				// scripts that log out twice must not break.
				fmt.Fprintf(e.stdout, "no password for %s was stored in the OS keyring\n", account)
				return nil
			}
			return err
		}
		fmt.Fprintf(e.stdout, "removed the password for %s from the OS keyring\n", account)
		return nil
	}
	if !*passwordStdin && !e.stdinTerminal {
		// Reading a pipe silently would take whatever happens to be on
		// stdin as the password; saying so is explicit, as with
		// docker login.
		return usagef("stdin is not a terminal: give --password-stdin to read the password from it")
	}
	prompt := "Password for " + account + ": "
	password, err := readPassword(e, prompt)
	if err != nil {
		return err
	}
	if password == "" {
		return fmt.Errorf("empty password: nothing stored")
	}
	if e.stdinTerminal {
		// Typed blind, so typed twice: a wrong password stored here is
		// sent to the proxy on every start, and a domain controller
		// locks accounts after a few failures.
		again, err := readPassword(e, "Again: ")
		if err != nil {
			return err
		}
		if again != password {
			return fmt.Errorf("the passwords differ: nothing stored")
		}
	}
	if err := keyring.Set(keyring.Service, account, password); err != nil {
		if errors.Is(err, keyring.ErrUnavailable) {
			return fmt.Errorf("%w; where there is no keyring (a server, a container) put the output of `sesame hash` in auth.nt_hash, or use --password-env", err)
		}
		return err
	}
	fmt.Fprintf(e.stdout, "stored the password for %s in the OS keyring; `sesame proxy --user %s` uses it\n", account, shellQuote(account))
	return nil
}

// keyringUsable refuses the keyring when e's environment names another
// session bus than the process's: the keyring library reads only the
// process environment, and a command run with an environment of its own
// (the in-process tests give every command a hermetic one) must not reach
// a keyring its environment does not name. For sesame itself the two are
// the same, so this never refuses.
func keyringUsable(e *env) error {
	if e.getenv("DBUS_SESSION_BUS_ADDRESS") != os.Getenv("DBUS_SESSION_BUS_ADDRESS") {
		return fmt.Errorf("%w: DBUS_SESSION_BUS_ADDRESS differs from the process's", keyring.ErrUnavailable)
	}
	return nil
}

// keyringPassword returns the password `sesame login` stored for the
// account, for proxyCredentials. The error wraps keyring.ErrNotFound or
// keyring.ErrUnavailable in the usual cases.
func keyringPassword(e *env, account string) (string, error) {
	if err := keyringUsable(e); err != nil {
		return "", err
	}
	return keyring.Get(keyring.Service, account)
}

// keyringNotFound reports whether err means the keyring was asked and has
// no password for the account (as opposed to a keyring that could not be
// asked).
func keyringNotFound(err error) bool { return errors.Is(err, keyring.ErrNotFound) }

// keyringUnavailable reports whether err means there is no keyring to ask
// (no session bus, no Secret Service).
func keyringUnavailable(err error) bool { return errors.Is(err, keyring.ErrUnavailable) }

// keyringMiss says why the keyring gave no password, for a message that
// already names the account.
func keyringMiss(err error) string {
	if keyringNotFound(err) {
		return "none in the OS keyring"
	}
	var ke *keyring.Error
	if errors.As(err, &ke) {
		return ke.Err.Error()
	}
	return err.Error()
}
