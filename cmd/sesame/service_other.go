//go:build !windows

package main

import (
	"context"
	"fmt"
)

// runService is 'sesame service', which manages a Windows service: here it
// only says so (exit status 2), pointing at the systemd unit instead.
func runService(e *env, args []string) error {
	if len(args) > 0 && (args[0] == "-h" || args[0] == "--help") {
		fmt.Fprintln(e.stderr, "usage: sesame service install|uninstall|start|stop|status|run [proxy flags]\n\n"+
			"Windows only. On Linux use the systemd user unit in contrib/systemd/sesame-proxy.service.")
		return errHelp
	}
	return usagef("'sesame service' installs and controls a Windows service and works on Windows only; " +
		"on Linux use the systemd user unit in contrib/systemd/sesame-proxy.service")
}

// serviceContext is the parent of runProxy's context: without a service
// manager to stop the proxy, only signals do.
func serviceContext() context.Context { return context.Background() }
