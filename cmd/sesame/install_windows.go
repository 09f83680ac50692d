//go:build windows

package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/registry"
)

// runKey is the per-user autostart key Explorer reads at logon.
const runKey = `Software\Microsoft\Windows\CurrentVersion\Run`

// runInstall writes the Run value that starts `sesame proxy` at logon,
// with the proxy flags given (checked now, written back with absolute
// paths: the logon starts it in another directory) and the config file
// the user has now.
func runInstall(e *env, args []string) error {
	fs := newFlagSet("sesame install", installUsage, e.stderr)
	pf := newProxyFlags(fs)
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("unexpected argument %q", rest[0])
	}
	switch {
	case pf.secret.passwordStdin:
		return usagef("--password-stdin: nothing types a password at logon; put it in the config file, or use single sign-on (no account)")
	case pf.secret.ntHash != "" || *pf.ntlmv2Hash != "":
		return usagef("--nt-hash/--ntlmv2-hash would be stored in the registry's Run value: put the hash in the config file (auth.nt_hash) instead")
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["config"] && !set["import"] {
		if p := defaultConfigPath(e); p != "" {
			if err := fs.Set("config", p); err != nil {
				return err
			}
			set["config"] = true
		}
	}
	if err := absFileFlags(fs, set); err != nil {
		return err
	}
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	if exe, err = filepath.Abs(exe); err != nil {
		return err
	}
	cmdline := windows.ComposeCommandLine(append([]string{exe, "proxy"}, canonicalFlags(fs)...))
	k, _, err := registry.CreateKey(registry.CURRENT_USER, runKey, registry.QUERY_VALUE|registry.SET_VALUE)
	if err != nil {
		return fmt.Errorf(`open HKCU\%s: %w`, runKey, err)
	}
	defer k.Close()
	old, _, _ := k.GetStringValue(autostartValue)
	if err := k.SetStringValue(autostartValue, cmdline); err != nil {
		return fmt.Errorf(`write HKCU\%s\%s: %w`, runKey, autostartValue, err)
	}
	if old != "" && old != cmdline {
		fmt.Fprintf(e.stdout, "replaced the autostart entry %q\n", old)
	}
	fmt.Fprintf(e.stdout, "installed: at each logon of %s, HKCU\\%s\\%s runs\n  %s\n", userName(), runKey, autostartValue, cmdline)
	fmt.Fprintf(e.stdout, "it runs as you (single sign-on through SSPI works); start it now by running that command, remove it with 'sesame uninstall'\n")
	return nil
}

// runUninstall removes the Run value; none is not an error (a second
// uninstall, or an install that never happened, leaves nothing to do).
func runUninstall(e *env, args []string) error {
	fs := newFlagSet("sesame uninstall", installUsage, e.stderr)
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("unexpected argument %q", rest[0])
	}
	k, err := registry.OpenKey(registry.CURRENT_USER, runKey, registry.SET_VALUE)
	if errors.Is(err, registry.ErrNotExist) {
		fmt.Fprintln(e.stdout, "no autostart entry: nothing to remove")
		return nil
	}
	if err != nil {
		return fmt.Errorf(`open HKCU\%s: %w`, runKey, err)
	}
	defer k.Close()
	switch err := k.DeleteValue(autostartValue); {
	case errors.Is(err, registry.ErrNotExist):
		fmt.Fprintln(e.stdout, "no autostart entry: nothing to remove")
	case err != nil:
		return fmt.Errorf(`delete HKCU\%s\%s: %w`, runKey, autostartValue, err)
	default:
		fmt.Fprintf(e.stdout, "removed the autostart entry HKCU\\%s\\%s (a proxy running now keeps running until you log off)\n", runKey, autostartValue)
	}
	return nil
}

// userName is the account the autostart entry belongs to.
func userName() string {
	if u := os.Getenv("USERNAME"); u != "" {
		return u
	}
	return "this user"
}
