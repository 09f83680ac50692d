package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"

	"golang.org/x/sys/windows/svc/eventlog"
)

// serviceNoAccount is why the service refuses to run without an account.
const serviceNoAccount = "the Windows service runs as LocalSystem, not as you, so single sign-on " +
	"(SSPI: your Kerberos ticket or NTLM logon) cannot work from it: it needs an account in its config " +
	"file (auth.user with auth.nt_hash or a password source; or ntlm_to_basic). " +
	"For single sign-on use 'sesame install' instead, which starts the proxy at your logon, as you"

// serviceAccountCheck fails, with serviceNoAccount, when the proxy the
// service would run (these proxy flags, the config they name, the
// machine's SESAME_* variables) has no account: the proxy's no-account
// mode is single sign-on as the process's user, which for a service is
// the machine account, never the person the proxy is for.
func serviceAccountCheck(e *env, proxyArgs []string) error {
	fs := flag.NewFlagSet("sesame service", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	pf := newProxyFlags(fs)
	if err := fs.Parse(proxyArgs); err != nil {
		return usagef("%v", err)
	}
	cfg, _, err := pf.config(e)
	if err != nil {
		return err
	}
	if cfg.Auth.User == "" && !cfg.NTLMToBasic {
		return usagef("%s", serviceNoAccount)
	}
	return nil
}

// Event IDs of the service's event log records (EventCreate.exe's
// message file takes 1 to 1000 and prints the text as given).
const (
	eventInfo  = 1
	eventWarn  = 2
	eventError = 3
)

// serviceEventTypes are the record types the source announces.
const serviceEventTypes = eventlog.Error | eventlog.Warning | eventlog.Info

// installEventSource registers the "sesame" event source (under
// HKLM\SYSTEM\CurrentControlSet\Services\EventLog\Application), replacing
// a registration left by an earlier install.
func installEventSource() error {
	_ = eventlog.Remove(serviceName)
	return eventlog.InstallAsEventCreate(serviceName, serviceEventTypes)
}

// eventLogHandler copies the service's log records of level Info and
// above into the Windows event log, where administrators look first; the
// log file keeps everything.
type eventLogHandler struct {
	slog.Handler
	ev *eventlog.Log
}

func (h eventLogHandler) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelInfo {
		var b strings.Builder
		b.WriteString(r.Message)
		r.Attrs(func(a slog.Attr) bool {
			fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
			return true
		})
		switch {
		case r.Level >= slog.LevelError:
			h.ev.Error(eventError, b.String())
		case r.Level >= slog.LevelWarn:
			h.ev.Warning(eventWarn, b.String())
		default:
			h.ev.Info(eventInfo, b.String())
		}
	}
	return h.Handler.Handle(ctx, r)
}

func (h eventLogHandler) WithAttrs(as []slog.Attr) slog.Handler {
	return eventLogHandler{h.Handler.WithAttrs(as), h.ev}
}

func (h eventLogHandler) WithGroup(n string) slog.Handler {
	return eventLogHandler{h.Handler.WithGroup(n), h.ev}
}
