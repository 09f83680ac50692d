package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"
	"golang.org/x/sys/windows/svc"
	"golang.org/x/sys/windows/svc/eventlog"
	"golang.org/x/sys/windows/svc/mgr"
)

const serviceUsage = `sesame service install [proxy flags]   register the Windows service "sesame" (automatic start)
       sesame service uninstall                stop it if running, then remove it
       sesame service start | stop | status    status exits 3 when the service is not running
       sesame service run [proxy flags]        what the service manager runs; in a console, the same as 'sesame proxy'

The service runs 'sesame.exe service run PROXY FLAGS' as LocalSystem, which is
not you: single sign-on (SSPI) cannot work from it, so it needs an account in
the config file (auth.user and its secret) and refuses to start without one.
For single sign-on use 'sesame install' (autostart at your logon) instead.
Its log is sesame-service.log next to the config file (--config), or in
%ProgramData%\sesame without one; starts, stops and errors also go to the
Windows event log (Application, source "sesame"). Secrets never go on the service's command
line (every local user can read it): put them in the config file.`

const (
	// serviceName is the service's key name (sc query sesame, net start
	// sesame); one per machine, like the proxy port it owns.
	serviceName        = "sesame"
	serviceDisplayName = "sesame proxy"
	serviceDescription = "Local authenticating proxy (Negotiate, NTLM, Digest, Basic) for tools behind a corporate proxy."
	// serviceLogName is the service's log file; a service has no console,
	// and a file next to the config is where its user looks first.
	serviceLogName = "sesame-service.log"

	// serviceStopWait bounds the graceful shutdown the service asks the
	// SCM to wait for: proxy.Serve gives running requests 10 s.
	serviceStopWait = 15 * time.Second
	// serviceControlWait is how long start, stop and uninstall wait for
	// the service to reach the state they asked for.
	serviceControlWait = 30 * time.Second
)

// Service-specific exit codes, reported to the SCM (sc query shows them as
// SERVICE_EXIT_CODE) so that 'sesame service status' can say why the
// service stopped even when its log could not be written.
const (
	serviceExitFailed = 1 // the proxy stopped with an error (see the log)
	serviceExitUsage  = 2 // bad flags or configuration (see the log)
	serviceExitNoLog  = 3 // the log file could not be opened
)

// serviceCtx is the context runProxy serves under (through
// serviceContext). Execute replaces it with one it cancels on Stop or
// Shutdown: a service gets no console signal, only the SCM's controls.
var serviceCtx = context.Background()

// serviceContext is the parent of runProxy's context.
func serviceContext() context.Context { return serviceCtx }

// runService is 'sesame service': it installs and controls the Windows
// service, and 'run' is the service itself.
func runService(e *env, args []string) error {
	if len(args) == 0 {
		fmt.Fprintf(e.stderr, "usage: %s\n", serviceUsage)
		return usagef("missing subcommand")
	}
	sub, rest := args[0], args[1:]
	switch sub {
	case "-h", "--help", "help":
		fmt.Fprintf(e.stderr, "usage: %s\n", serviceUsage)
		return errHelp
	case "install":
		return serviceInstall(e, rest)
	case "run":
		return serviceRun(e, rest)
	case "uninstall", "start", "stop", "status":
		if len(rest) > 0 {
			return usagef("service %s takes no arguments (proxy flags go to 'service install')", sub)
		}
	default:
		return usagef("unknown subcommand %q (install, uninstall, start, stop, status, run)", sub)
	}
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("connect to the service control manager: %w (administrator rights needed?)", err)
	}
	defer m.Disconnect()
	s, err := m.OpenService(serviceName)
	if err != nil {
		return fmt.Errorf("service %s: %w (not installed? 'sesame service install')", serviceName, err)
	}
	defer s.Close()
	switch sub {
	case "uninstall":
		return serviceUninstall(e, s)
	case "start":
		return serviceStart(e, s)
	case "stop":
		return serviceStop(e, s)
	default:
		return serviceStatus(e, s)
	}
}

// serviceInstall registers the service with the proxy flags given. They
// are checked here, where the user can still read an error, and written
// back in one canonical --name=value form with absolute paths: the service
// starts in %SystemRoot%\system32, so a relative path would not be found.
func serviceInstall(e *env, args []string) error {
	fs := newFlagSet("sesame service install", "sesame service install [proxy flags]", e.stderr)
	pf := newProxyFlags(fs)
	rest, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(rest) > 0 {
		return usagef("unexpected argument %q", rest[0])
	}
	// The command line is stored in the registry (ImagePath), readable by
	// every local user, and a service has no stdin to read a password
	// from.
	if pf.secret.passwordStdin {
		return usagef("--password-stdin: a service has no stdin; put the password (or an NT hash) in the config file")
	}
	if pf.secret.ntHash != "" || *pf.ntlmv2Hash != "" {
		return usagef("--nt-hash/--ntlmv2-hash would be stored in the service's command line, which every local user can read: put the hash in the config file (auth.nt_hash) instead")
	}
	if pf.secret.passwordEnv != "" {
		fmt.Fprintf(e.stderr, "sesame service: note: the service sees only system-wide environment variables; set %s for the machine, not the user\n", pf.secret.passwordEnv)
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if !set["config"] && !set["import"] {
		// The service runs as LocalSystem, whose profile is not the
		// installing user's: name the config the user has now, or the
		// service would silently run without it.
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
	runArgs := append([]string{"service", "run"}, canonicalFlags(fs)...)

	exe, err := os.Executable()
	if err != nil {
		return err
	}
	if exe, err = filepath.Abs(exe); err != nil {
		return err
	}
	m, err := mgr.Connect()
	if err != nil {
		return fmt.Errorf("connect to the service control manager: %w (run as administrator)", err)
	}
	defer m.Disconnect()
	if s, err := m.OpenService(serviceName); err == nil {
		s.Close()
		return fmt.Errorf("service %s is installed already ('sesame service uninstall' first)", serviceName)
	}
	if err := serviceAccountCheck(e, runArgs[2:]); err != nil {
		return err
	}
	s, err := m.CreateService(serviceName, exe, mgr.Config{
		DisplayName: serviceDisplayName,
		Description: serviceDescription,
		StartType:   mgr.StartAutomatic,
	}, runArgs...)
	if err != nil {
		return fmt.Errorf("create service %s: %w", serviceName, err)
	}
	defer s.Close()
	// Restart after a crash: tools behind the proxy fail without it. Not
	// fatal when refused (older or emulated SCMs lack failure actions).
	if err := s.SetRecoveryActions([]mgr.RecoveryAction{
		{Type: mgr.ServiceRestart, Delay: 5 * time.Second},
		{Type: mgr.ServiceRestart, Delay: 30 * time.Second},
		{Type: mgr.NoAction},
	}, 24*60*60); err != nil {
		fmt.Fprintf(e.stderr, "sesame service: warning: no restart-on-failure: %v\n", err)
	}
	if err := installEventSource(); err != nil {
		fmt.Fprintf(e.stderr, "sesame service: warning: no event log source %q (the log file still works): %v\n", serviceName, err)
	}
	fmt.Fprintf(e.stdout, "installed service %s: %s %s\n", serviceName, exe, strings.Join(runArgs, " "))
	fmt.Fprintf(e.stdout, "log: %s\nstart it with 'sesame service start' (it also starts at boot)\n", serviceLogPath(runArgs[2:]))
	return nil
}

// canonicalFlags writes the flags that were set as --name=value, one
// --name=value per element of a repeatable flag. The = form keeps a value
// that starts with '-' from being read as a flag.
func canonicalFlags(fs *flag.FlagSet) []string {
	var out []string
	fs.Visit(func(f *flag.Flag) {
		if l, ok := f.Value.(*listFlag); ok {
			for _, v := range *l {
				out = append(out, "--"+f.Name+"="+v)
			}
			return
		}
		out = append(out, "--"+f.Name+"="+f.Value.String())
	})
	return out
}

// defaultConfigPath is the config file 'sesame proxy' would read for this
// user without --config, or "" when there is none.
func defaultConfigPath(e *env) string {
	if p := e.getenv("SESAME_CONFIG"); p != "" {
		return p
	}
	if dir, err := os.UserConfigDir(); err == nil {
		if p := filepath.Join(dir, "sesame", "sesame.toml"); fileExists(p) {
			return p
		}
	}
	return ""
}

// serviceLogPath is where the service with these proxy flags logs: next to
// its config file, or in %ProgramData%\sesame.
func serviceLogPath(proxyArgs []string) string {
	fs := flag.NewFlagSet("", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	pf := newProxyFlags(fs)
	_ = fs.Parse(proxyArgs) // checked at install; a bad one fails in runProxy
	switch {
	case *pf.configFile != "":
		return filepath.Join(filepath.Dir(*pf.configFile), serviceLogName)
	case *pf.importFile != "":
		return filepath.Join(filepath.Dir(*pf.importFile), serviceLogName)
	}
	// The known folder, not %ProgramData%: the installer's environment and
	// the service's may differ (under Wine they do), and both must name
	// the same file.
	dir, err := windows.KnownFolderPath(windows.FOLDERID_ProgramData, 0)
	if err != nil {
		dir = `C:\ProgramData`
	}
	return filepath.Join(dir, "sesame", serviceLogName)
}

func serviceUninstall(e *env, s *mgr.Service) error {
	st, err := s.Query()
	if err != nil {
		return err
	}
	if st.State != svc.Stopped {
		if err := stopAndWait(s); err != nil {
			return err
		}
	}
	if err := s.Delete(); err != nil {
		return fmt.Errorf("delete service %s: %w", serviceName, err)
	}
	_ = eventlog.Remove(serviceName) // absent when the install could not add it
	fmt.Fprintf(e.stdout, "removed service %s\n", serviceName)
	return nil
}

func serviceStart(e *env, s *mgr.Service) error {
	if err := s.Start(); err != nil {
		return fmt.Errorf("start service %s: %w", serviceName, err)
	}
	st, err := waitState(s, svc.Running)
	if err != nil {
		return err
	}
	if st.State != svc.Running {
		return fmt.Errorf("service %s did not start: %s; see %s", serviceName, describeStatus(st), logPathOf(s))
	}
	fmt.Fprintf(e.stdout, "service %s running (pid %d)\n", serviceName, st.ProcessId)
	return nil
}

func serviceStop(e *env, s *mgr.Service) error {
	if err := stopAndWait(s); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "service %s stopped\n", serviceName)
	return nil
}

// stopAndWait asks the service to stop and waits until it has: callers
// (uninstall, a script that stops then reuses the port) need it gone.
func stopAndWait(s *mgr.Service) error {
	st, err := s.Control(svc.Stop)
	if err != nil && !errors.Is(err, windows.ERROR_SERVICE_NOT_ACTIVE) {
		return fmt.Errorf("stop service %s: %w", serviceName, err)
	}
	if err == nil && st.State == svc.Stopped {
		return nil
	}
	st, err = waitState(s, svc.Stopped)
	if err != nil {
		return err
	}
	if st.State != svc.Stopped {
		return fmt.Errorf("service %s did not stop within %v (%s)", serviceName, serviceControlWait, describeStatus(st))
	}
	return nil
}

// waitState polls until the service is in state want, has stopped, or
// serviceControlWait has passed, and returns the last status seen.
func waitState(s *mgr.Service, want svc.State) (svc.Status, error) {
	deadline := time.Now().Add(serviceControlWait)
	for {
		st, err := s.Query()
		if err != nil {
			return st, err
		}
		if st.State == want || st.State == svc.Stopped || time.Now().After(deadline) {
			return st, nil
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func serviceStatus(e *env, s *mgr.Service) error {
	st, err := s.Query()
	if err != nil {
		return err
	}
	cfg, err := queryConfig(s)
	if err != nil {
		return err
	}
	start := map[uint32]string{mgr.StartAutomatic: "automatic", mgr.StartManual: "manual", mgr.StartDisabled: "disabled"}[cfg.StartType]
	fmt.Fprintf(e.stdout, "service:  %s (%s)\nstate:    %s\nstart:    %s\ncommand:  %s\nlog:      %s\n",
		serviceName, cfg.DisplayName, describeStatus(st), start, cfg.BinaryPathName, logPathOf(s))
	if st.State != svc.Running {
		// Scripts test the status: non-zero means not serving.
		return &exitError{code: 3, err: errors.New("not running"), quiet: true}
	}
	return nil
}

// describeStatus says a state in words, with the exit code once stopped.
func describeStatus(st svc.Status) string {
	names := map[svc.State]string{
		svc.Stopped: "stopped", svc.StartPending: "starting", svc.StopPending: "stopping", svc.Running: "running",
		svc.ContinuePending: "continuing", svc.PausePending: "pausing", svc.Paused: "paused",
	}
	s := names[st.State]
	if s == "" {
		s = fmt.Sprintf("state %d", st.State)
	}
	switch {
	case st.State == svc.Running:
		s += fmt.Sprintf(" (pid %d)", st.ProcessId)
	case st.State != svc.Stopped:
	case st.Win32ExitCode == uint32(windows.ERROR_SERVICE_SPECIFIC_ERROR):
		why := map[uint32]string{serviceExitFailed: "the proxy failed", serviceExitUsage: "bad flags or configuration", serviceExitNoLog: "cannot open its log file"}[st.ServiceSpecificExitCode]
		s += fmt.Sprintf(", exit code %d: %s", st.ServiceSpecificExitCode, why)
	case st.Win32ExitCode != 0:
		s += fmt.Sprintf(", %v", windows.Errno(st.Win32ExitCode))
	}
	return s
}

// queryConfig reads the service's basic configuration. Not
// mgr.Service.Config: it also asks for the service SID type, an
// information level that Wine's SCM does not know ("Invalid level"), and
// nothing here needs it.
func queryConfig(s *mgr.Service) (mgr.Config, error) {
	n := uint32(1024)
	for {
		b := make([]byte, n)
		p := (*windows.QUERY_SERVICE_CONFIG)(unsafe.Pointer(&b[0]))
		err := windows.QueryServiceConfig(s.Handle, p, n, &n)
		if err == nil {
			return mgr.Config{
				StartType:      p.StartType,
				BinaryPathName: windows.UTF16PtrToString(p.BinaryPathName),
				DisplayName:    windows.UTF16PtrToString(p.DisplayName),
			}, nil
		}
		if !errors.Is(err, windows.ERROR_INSUFFICIENT_BUFFER) || n <= uint32(len(b)) {
			return mgr.Config{}, err
		}
	}
}

// logPathOf is the log path of the installed service, from its command
// line.
func logPathOf(s *mgr.Service) string {
	cfg, err := queryConfig(s)
	if err != nil {
		return "?"
	}
	argv, err := windows.DecomposeCommandLine(cfg.BinaryPathName)
	if err != nil || len(argv) < 3 {
		return "?"
	}
	return serviceLogPath(argv[3:]) // exe service run FLAGS...
}

// serviceRun is 'sesame service run': the proxy under the service control
// manager, or, started by hand, the proxy in the foreground (so the
// service's exact command line can be tried in a console).
//
// Whether the SCM started the process is asked of the dispatcher itself:
// StartServiceCtrlDispatcher fails at once with
// ERROR_FAILED_SERVICE_CONTROLLER_CONNECT in a process the SCM did not
// start. svc.IsWindowsService alone is not enough: it also wants the
// parent services.exe in session 0, and Wine runs every process, its
// services.exe included, in session 1, so under Wine it says false and the
// SCM would wait in vain for the service to report.
func serviceRun(e *env, args []string) error {
	h := &serviceHandler{args: args, logPath: serviceLogPath(args)}
	if isService, _ := svc.IsWindowsService(); isService {
		return svc.Run(serviceName, h)
	}
	err := svc.Run(serviceName, h)
	if errors.Is(err, windows.ERROR_FAILED_SERVICE_CONTROLLER_CONNECT) {
		return runProxy(e, args)
	}
	if err != nil {
		return fmt.Errorf("service dispatcher: %w", err)
	}
	return nil
}

// serviceHandler runs the proxy as the body of the service.
type serviceHandler struct {
	args    []string
	logPath string
}

// Execute implements svc.Handler: it starts the proxy, reports Running,
// and on Stop or Shutdown cancels the proxy's context (a graceful
// shutdown: listeners close, running requests get to finish) and waits
// for it. The start arguments the SCM passes (sc start sesame ARGS) are
// ignored: the flags are the ones on the installed command line.
func (h *serviceHandler) Execute(_ []string, req <-chan svc.ChangeRequest, status chan<- svc.Status) (bool, uint32) {
	status <- svc.Status{State: svc.StartPending, WaitHint: uint32((10 * time.Second).Milliseconds())}
	if err := os.MkdirAll(filepath.Dir(h.logPath), 0o700); err != nil {
		return true, serviceExitNoLog
	}
	// Appended, not truncated: the log of the run that failed is the one
	// the user wants after an automatic restart.
	f, err := os.OpenFile(h.logPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return true, serviceExitNoLog
	}
	defer f.Close()
	var handler slog.Handler = slog.NewTextHandler(f, nil)
	ev, evErr := eventlog.Open(serviceName)
	if evErr == nil {
		defer ev.Close()
		handler = eventLogHandler{handler, ev}
	}
	log := slog.New(handler)
	log.Info("service starting", "version", version, "pid", os.Getpid())
	if evErr != nil {
		log.Warn("no Windows event log; this file only", "err", evErr)
	}
	if err := serviceAccountCheck(&env{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard, getenv: os.Getenv}, h.args); err != nil {
		log.Error("service refused to start", "err", err)
		return true, serviceExitUsage
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	serviceCtx = ctx
	// The proxy logs to the file too. stdin is empty: a password prompt
	// must fail at once, not hang the service.
	ready := make(chan struct{})
	out := &readyWriter{w: f, ready: ready}
	e := &env{stdin: strings.NewReader(""), stdout: out, stderr: out, getenv: os.Getenv}
	done := make(chan error, 1)
	go func() { done <- runProxy(e, h.args) }()

	// Running only once the proxy listens, so that 'sesame service start'
	// (and net start) report a port in use or a bad config as a failure
	// to start. Until then a checkpoint every few seconds tells the SCM
	// that the start (a PAC download, proxy discovery) is progressing.
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for checkpoint := uint32(1); ready != nil; {
		select {
		case <-ready:
			ready = nil
		case err := <-done:
			return proxyFailed(log, err)
		case <-tick.C:
			checkpoint++
			status <- svc.Status{State: svc.StartPending, CheckPoint: checkpoint, WaitHint: uint32((10 * time.Second).Milliseconds())}
		case c := <-req:
			if c.Cmd == svc.Interrogate {
				status <- c.CurrentStatus
			}
		}
	}
	const accepts = svc.AcceptStop | svc.AcceptShutdown
	status <- svc.Status{State: svc.Running, Accepts: accepts}
	log.Info("service running")
	for {
		select {
		case err := <-done:
			return proxyFailed(log, err)
		case c := <-req:
			switch c.Cmd {
			case svc.Interrogate:
				status <- c.CurrentStatus
			case svc.Stop, svc.Shutdown:
				log.Info("service stopping", "control", map[svc.Cmd]string{svc.Stop: "stop", svc.Shutdown: "shutdown"}[c.Cmd])
				status <- svc.Status{State: svc.StopPending, WaitHint: uint32(serviceStopWait.Milliseconds())}
				cancel()
				select {
				case err := <-done:
					if err != nil {
						log.Error("proxy stopped with an error", "err", err)
					}
				case <-time.After(serviceStopWait):
					log.Warn("proxy still closing connections; stopping anyway")
				}
				log.Info("service stopped")
				return false, 0
			}
		}
	}
}

// proxyFailed logs why the proxy ended without being asked to and returns
// Execute's service-specific exit code for it.
func proxyFailed(log *slog.Logger, err error) (bool, uint32) {
	code := uint32(serviceExitFailed)
	var ue *usageError
	if errors.As(err, &ue) {
		code = serviceExitUsage
	}
	log.Error("proxy stopped", "err", err)
	return true, code
}

// readyWriter passes the proxy's log through and closes ready at the
// first record saying that it listens (serveAll's "sesame proxy
// listening", written once its listeners are bound): runProxy has no other
// way to tell, and slog writes each record in one Write.
type readyWriter struct {
	w     io.Writer
	once  sync.Once
	ready chan struct{}
}

func (r *readyWriter) Write(p []byte) (int, error) {
	if bytes.Contains(p, []byte(`msg="sesame proxy listening"`)) {
		r.once.Do(func() { close(r.ready) })
	}
	return r.w.Write(p)
}
