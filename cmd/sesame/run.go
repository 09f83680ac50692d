package main

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/sesame-auth/sesame/proxy"
)

const runUsage = `sesame run [proxy flags] -- COMMAND [ARGS...]

Runs COMMAND with HTTP_PROXY/HTTPS_PROXY pointing at sesame. If your own
sesame proxy already listens at the configured address (default
127.0.0.1:3128), it is used; otherwise (nothing there, or a listener that
is another user's or not sesame) an ephemeral sesame proxy with the same
configuration (see 'sesame proxy -h' for the flags) serves on a free
loopback port for as long as COMMAND runs. The variable named by
--password-env is not passed to COMMAND. The exit status is COMMAND's.`

// runRun runs a command behind the proxy.
func runRun(e *env, args []string) error {
	if _, isFile := e.stderr.(*os.File); !isFile {
		// The ephemeral proxy's log and the command's stderr (copied by
		// os/exec's goroutine) share e.stderr: serialise them unless it
		// is a file, which the command then gets as its own stderr.
		e2 := *e
		e2.stderr = &syncWriter{w: e.stderr}
		e = &e2
	}
	fs := newFlagSet("sesame run", runUsage, e.stderr)
	pf := newProxyFlags(fs, "allow", "admin", "ntlm-to-basic", "allow-localhost-targets")
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
	use := false
	if c, err := net.DialTimeout("tcp", addr, 500*time.Millisecond); err == nil {
		c.Close()
		var why string
		if use, why = defaultListenerCheck().trust(addr); !use {
			fmt.Fprintf(e.stderr, "sesame run: not using the listener at %s: %s; starting a proxy of its own on a free port\n", addr, why)
		}
	}
	if !use {
		// None running (or not ours): an ephemeral one, on a port of
		// its own.
		cfg.Listen = []string{"127.0.0.1:0"}
		// The proxy's log shares stderr with the command's output:
		// warnings only, unless a level was asked for.
		if !flagGiven(fs, "log-level") && e.getenv("SESAME_LOG_LEVEL") == "" {
			cfg.LogLevel = "warn"
		}
		logger, err := proxyLogger(e, cfg, notes)
		if err != nil {
			return err
		}
		srv, err := newProxyServer(e, cfg, &pf.secret, logger, nil)
		if err != nil {
			return err
		}
		if err := checkPACAtStart(srv, cfg.PACFail, pf.discovered, logger); err != nil {
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
		go func() { done <- serveAll(srvCtx, stopSrv, nil, sw, lns, logger) }()
		defer func() { stopSrv(); <-done }()
	}

	cmd := exec.CommandContext(ctx, cmdArgs[0], cmdArgs[1:]...)
	cmd.Env = childEnv(os.Environ(), cfg.Auth.PasswordEnv, "http://"+addr)
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

// syncWriter serialises writes to w.
type syncWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (s *syncWriter) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.w.Write(p)
}

// childEnv is the command's environment: environ without the variable
// that holds the proxy password (the command has no use for it, and
// whatever it runs could log or leak it), plus the proxy variables.
func childEnv(environ []string, passwordEnv, proxyURL string) []string {
	// The password variable, and the hash variables, which log in as well
	// as a password does: every child (a pip build backend, an npm
	// script) could read them.
	secret := []string{"SESAME_NT_HASH", "SESAME_NTLMV2_HASH"}
	if passwordEnv != "" {
		secret = append(secret, passwordEnv)
	}
	env := make([]string, 0, len(environ)+6)
	for _, kv := range environ {
		k, _, _ := strings.Cut(kv, "=")
		if slices.ContainsFunc(secret, func(s string) bool { return k == s || runtime.GOOS == "windows" && strings.EqualFold(k, s) }) {
			continue
		}
		env = append(env, kv)
	}
	// The command's own NO_PROXY is kept, loopback added to it; the
	// variables are replaced, not repeated.
	getenv := func(name string) string {
		for _, kv := range environ {
			if k, v, _ := strings.Cut(kv, "="); k == name {
				return v
			}
		}
		return ""
	}
	out := env[:0]
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		if k != "NO_PROXY" && k != "no_proxy" {
			out = append(out, kv)
		}
	}
	return append(out, proxyEnv(proxyURL, getenv)...)
}

// Whether `sesame run` may use a proxy that already listens at the
// configured address. On a shared machine any user can listen on
// 127.0.0.1:3128 first, and would then see (and could answer) everything
// the command sends, with no credentials needed. Two checks, both simple:
//
//  1. Ownership (the security check): the listening socket must belong to
//     this user. Linux lists every TCP socket with its owner's uid in
//     /proc/net/tcp and /proc/net/tcp6, readable without privileges; a
//     LISTEN socket on the port, bound to the address or to a wildcard,
//     must have our uid. Where there is no /proc/net (macOS, Windows) this
//     check is skipped and only the second one is made.
//  2. Identity: it must answer as sesame. A request in origin form, which
//     a proxy refuses, gets sesame's own 400 ("sesame is a proxy: ...").
//     This keeps the command off another program of ours that happens to
//     listen there; it proves nothing against another user, which is what
//     the first check is for.
//
// A per-user token file proven through an endpoint would work everywhere,
// but needs the proxy to serve it; the uid is already there.
type listenerCheck struct {
	// owners returns the uids of the sockets listening on addr, or
	// errOwnerUnknown where the system does not tell.
	owners func(addr string) ([]int, error)
	uid    int
	// probe returns nil when addr answers as a sesame proxy.
	probe func(addr string) error
}

var errOwnerUnknown = errors.New("this system does not tell who owns a socket")

func defaultListenerCheck() listenerCheck {
	return listenerCheck{owners: procListenerOwners, uid: os.Getuid(), probe: probeSesame}
}

// trust reports whether the listener at addr is this user's sesame, and if
// not, why.
func (c listenerCheck) trust(addr string) (bool, string) {
	uids, err := c.owners(addr)
	switch {
	case errors.Is(err, errOwnerUnknown):
	case err != nil:
		return false, fmt.Sprintf("cannot tell who owns it (%v)", err)
	case len(uids) == 0:
		return false, "cannot tell who owns it (no listening socket found)"
	default:
		for _, u := range uids {
			if u != c.uid {
				return false, fmt.Sprintf("it belongs to another user (uid %d)", u)
			}
		}
	}
	if err := c.probe(addr); err != nil {
		return false, fmt.Sprintf("it does not answer as sesame (%v)", err)
	}
	return true, ""
}

// procListenerOwners reads the owners of the TCP sockets listening on addr
// from /proc/net/tcp and /proc/net/tcp6 (Linux).
func procListenerOwners(addr string) ([]int, error) {
	host, portStr, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, err
	}
	port, err := strconv.ParseUint(portStr, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("port %q: %w", portStr, err)
	}
	var ips []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		ips = []netip.Addr{ip}
	} else {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		if ips, err = net.DefaultResolver.LookupNetIP(ctx, "ip", host); err != nil {
			return nil, err
		}
	}
	var uids []int
	found := false
	for _, name := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		data, err := os.ReadFile(name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, err
		}
		found = true
		uids = append(uids, listenerUIDs(string(data), uint16(port), ips)...)
	}
	if !found {
		return nil, errOwnerUnknown
	}
	return uids, nil
}

// listenerUIDs parses a /proc/net/tcp or tcp6 table and returns the uids
// of the LISTEN sockets on port bound to one of ips or to a wildcard
// address (which also serves them).
func listenerUIDs(table string, port uint16, ips []netip.Addr) []int {
	var uids []int
	for _, line := range strings.Split(table, "\n")[1:] {
		f := strings.Fields(line)
		if len(f) < 10 || f[3] != "0A" { // 0A: TCP_LISTEN
			continue
		}
		local, lport, ok := parseProcAddr(f[1])
		if !ok || lport != port {
			continue
		}
		match := false
		for _, ip := range ips {
			l, ip := local.Unmap(), ip.Unmap()
			if l == ip || l.IsUnspecified() && (l.Is6() || ip.Is4()) {
				match = true
			}
		}
		if !match {
			continue
		}
		if uid, err := strconv.Atoi(f[7]); err == nil {
			uids = append(uids, uid)
		}
	}
	return uids
}

// parseProcAddr decodes "0100007F:0C38" (IPv4) or the 32-digit IPv6 form:
// the address in 32-bit words of host byte order (little-endian on the
// machines Linux mostly runs on), the port in big-endian hex.
func parseProcAddr(s string) (netip.Addr, uint16, bool) {
	h, p, ok := strings.Cut(s, ":")
	if !ok {
		return netip.Addr{}, 0, false
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return netip.Addr{}, 0, false
	}
	raw, err := hex.DecodeString(h)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.Addr{}, 0, false
	}
	for i := 0; i < len(raw); i += 4 {
		w := binary.NativeEndian.Uint32(raw[i:])
		binary.BigEndian.PutUint32(raw[i:], w)
	}
	ip, _ := netip.AddrFromSlice(raw)
	return ip, uint16(port), true
}

// probeSesame asks addr for a request in origin form, which a sesame proxy
// refuses with its own 400 ("sesame is a proxy: ...").
func probeSesame(addr string) error {
	c, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(3 * time.Second))
	if _, err := io.WriteString(c, "GET /sesame-run-probe HTTP/1.1\r\nHost: "+addr+"\r\nConnection: close\r\n\r\n"); err != nil {
		return err
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return fmt.Errorf("no HTTP answer: %w", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	if resp.StatusCode != http.StatusBadRequest || !strings.HasPrefix(string(body), "sesame is a proxy") {
		return fmt.Errorf("answered %s", resp.Status)
	}
	return nil
}
