package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/signal"
	"syscall"
	"time"

	"github.com/sesame-auth/sesame/proxy"
)

const runUsage = `sesame run [proxy flags] -- COMMAND [ARGS...]

Runs COMMAND with HTTP_PROXY/HTTPS_PROXY pointing at sesame. If a proxy
already listens at the configured address (default 127.0.0.1:3128), it is
used; otherwise an ephemeral sesame proxy with the same configuration (see
'sesame proxy -h' for the flags) serves on a free loopback port for as long
as COMMAND runs. The exit status is COMMAND's.`

// runRun runs a command behind the proxy.
func runRun(e *env, args []string) error {
	fs := newFlagSet("sesame run", runUsage, e.stderr)
	pf := newProxyFlags(fs)
	// Everything after "--" is the command; the proxy flags come before.
	var cmdArgs []string
	for i, a := range args {
		if a == "--" {
			args, cmdArgs = args[:i], args[i+1:]
			break
		}
	}
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(cmdArgs) == 0 {
		cmdArgs, rest = rest, nil
	}
	if len(rest) > 0 {
		return usagef("unexpected argument %q (put the command after --)", rest[0])
	}
	if len(cmdArgs) == 0 {
		return usagef("no command given")
	}
	cfg, notes, err := pf.config(e)
	if err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	addr := proxy.ClientAddr(cfg.Listen[0])
	if c, err := net.DialTimeout("tcp", addr, 500*time.Millisecond); err == nil {
		c.Close()
	} else {
		// None running: an ephemeral one, on a port of its own.
		cfg.Listen = []string{"127.0.0.1:0"}
		logger, err := proxyLogger(e, cfg, notes)
		if err != nil {
			return err
		}
		srv, err := newProxyServer(e, cfg, &pf.secret, logger, nil)
		if err != nil {
			return err
		}
		lns, err := listenAll(cfg.Listen)
		if err != nil {
			return err
		}
		addr = lns[0].Addr().String()
		srvCtx, stopSrv := context.WithCancel(ctx)
		done := make(chan error, 1)
		sw := &proxy.Switch{}
		sw.Store(srv)
		go func() { done <- serveAll(srvCtx, stopSrv, sw, lns, logger) }()
		defer func() { stopSrv(); <-done }()
	}

	cmd := exec.CommandContext(ctx, cmdArgs[0], cmdArgs[1:]...)
	cmd.Env = append(os.Environ(), proxyEnv("http://"+addr)...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = e.stdin, e.stdout, e.stderr
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ee) && ee.ExitCode() > 0:
		return &exitError{code: ee.ExitCode(), err: err, quiet: true}
	default:
		return fmt.Errorf("%s: %w", cmdArgs[0], err)
	}
}
