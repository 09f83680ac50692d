//go:build !windows

package main

import "fmt"

// systemdHowTo is what to do instead of `sesame install` on Linux.
const systemdHowTo = `on Linux, run the proxy at login with the systemd user unit:
  mkdir -p ~/.config/systemd/user
  cp contrib/systemd/sesame-proxy.service ~/.config/systemd/user/
  systemctl --user daemon-reload && systemctl --user enable --now sesame-proxy
(and 'systemctl --user disable --now sesame-proxy' to remove it)`

// runInstall is Windows only: here it says what to do instead (exit 2).
func runInstall(e *env, args []string) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprintf(e.stderr, "usage: %s\n\n%s\n", installUsage, systemdHowTo)
		return errHelp
	}
	return usagef("'sesame install' writes a Windows autostart entry and works on Windows only; %s", systemdHowTo)
}

// runUninstall is Windows only, as runInstall.
func runUninstall(e *env, args []string) error { return runInstall(e, args) }
