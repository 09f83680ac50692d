package winbind

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"strings"
	"sync"
	"time"

	"github.com/sesame-auth/sesame/ntlm"
)

// Defaults of the Verifier.
const (
	DefaultNTLMAuth = "ntlm_auth"
	DefaultWbinfo   = "wbinfo"
	DefaultPoolSize = 4
	DefaultTimeout  = 10 * time.Second
	// DefaultAccountTTL is how long an account's SID, canonical name and
	// groups are kept after a logon, so that a busy user costs wbinfo
	// three runs a minute rather than three per logon.
	DefaultAccountTTL = time.Minute
	maxAccounts       = 10000
)

// Verifier verifies NTLM responses with the domain through winbindd. Set
// its fields before first use; it is then safe for concurrent use. Close
// it to stop its ntlm_auth processes.
type Verifier struct {
	// NTLMAuth and Wbinfo are the programs' paths; defaults DefaultNTLMAuth
	// and DefaultWbinfo, looked up in PATH.
	NTLMAuth, Wbinfo string
	// Env is added to the programs' environment (that of Command's
	// result, or this process's when Command leaves it nil).
	Env []string
	// Command makes the command that runs a program, for running it
	// through a wrapper (another namespace, sudo); default
	// exec.CommandContext. The started process should be the program
	// itself (wrappers exec), so that killing it ends it.
	Command func(ctx context.Context, name string, args ...string) *exec.Cmd
	// PoolSize bounds the ntlm_auth processes, and so the logons verified
	// at once; default DefaultPoolSize.
	PoolSize int
	// Timeout bounds one verification, including the wait for a free
	// ntlm_auth and the wbinfo lookups; default DefaultTimeout.
	Timeout time.Duration
	// NoGroups skips the account and group lookups: the identity keeps
	// the client's spelling of the names and has no SIDs.
	NoGroups bool
	// AccountTTL is how long an account's lookups are cached; default
	// DefaultAccountTTL, negative for no cache.
	AccountTTL time.Duration
	// Logger receives failures of winbind (never secrets); default
	// slog.Default().
	Logger *slog.Logger

	once     sync.Once
	pool     *pool
	mu       sync.Mutex
	accounts map[string]*account
	sepOnce  sync.Once
	sep      string
}

var (
	_ ntlm.CredentialStore  = (*Verifier)(nil)
	_ ntlm.ResponseVerifier = (*Verifier)(nil)
)

// LookupCredential implements ntlm.CredentialStore. The domain keeps the
// hashes, so it always fails; ntlm.Server calls VerifyResponse instead.
func (v *Verifier) LookupCredential(_ context.Context, domain, user string) (*ntlm.Credential, error) {
	return nil, fmt.Errorf("winbind: no hashes for %s\\%s: responses are verified by the domain (use VerifyResponse)", domain, user)
}

// VerifyResponse implements ntlm.ResponseVerifier: ntlm_auth has winbindd
// ask the domain controller, then wbinfo names the account's SID, its
// canonical name and its groups' SIDs. A refused logon wraps
// ntlm.ErrAuthFailed; winbindd not answering wraps ErrUnavailable.
func (v *Verifier) VerifyResponse(ctx context.Context, r *ntlm.ResponseToVerify) (*ntlm.VerifiedResponse, error) {
	if err := checkName(r.User); err != nil {
		return nil, fmt.Errorf("winbind: %w: user name: %v", ntlm.ErrAuthFailed, err)
	}
	if err := checkName(r.Domain); err != nil {
		return nil, fmt.Errorf("winbind: %w: domain name: %v", ntlm.ErrAuthFailed, err)
	}
	ctx, cancel := context.WithTimeout(ctx, v.timeout())
	defer cancel()
	v.once.Do(v.init)
	a, err := v.pool.do(ctx, encodeRequest(r))
	if err != nil {
		v.logger().Warn("winbind: ntlm_auth failed", "user", r.User, "domain", r.Domain, "err", err)
		return nil, fmt.Errorf("winbind: %w", err)
	}
	if !a.authenticated {
		if unavailable(a.authError) {
			v.logger().Warn("winbind: winbindd did not verify", "user", r.User, "domain", r.Domain, "reason", a.authError)
			return nil, fmt.Errorf("winbind: %w: %s", ErrUnavailable, a.authError)
		}
		return nil, fmt.Errorf("winbind: %w: the domain refused the logon: %s", ntlm.ErrAuthFailed, orNone(a.authError))
	}
	if len(a.sessionKey) != 16 {
		return nil, fmt.Errorf("winbind: %w: no user session key in ntlm_auth's answer", ErrProtocol)
	}
	vr := &ntlm.VerifiedResponse{SessionKey: a.sessionKey}
	if v.NoGroups {
		return vr, nil
	}
	acct, err := v.account(ctx, r.Domain, r.User)
	if err != nil {
		return nil, fmt.Errorf("winbind: %s\\%s verified, but: %w", r.Domain, r.User, err)
	}
	vr.User, vr.Domain, vr.UserSID = acct.user, acct.domain, acct.sid
	vr.Groups = append([]string(nil), acct.groups...)
	return vr, nil
}

// Close stops the ntlm_auth processes; requests after it fail with
// ErrClosed.
func (v *Verifier) Close() error {
	v.once.Do(v.init)
	v.pool.close()
	return nil
}

func (v *Verifier) init() {
	v.pool = newPool(v.poolSize(), func(ctx context.Context) (*exec.Cmd, error) {
		return v.command(ctx, v.ntlmAuth(), "--helper-protocol=ntlm-server-1"), nil
	})
}

// command makes a command for a program, with the Verifier's wrapper and
// environment.
func (v *Verifier) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	var cmd *exec.Cmd
	if v.Command != nil {
		cmd = v.Command(ctx, name, args...)
	} else {
		cmd = exec.CommandContext(ctx, name, args...)
	}
	if len(v.Env) > 0 {
		if cmd.Env == nil {
			cmd.Env = os.Environ()
		}
		cmd.Env = append(cmd.Env, v.Env...)
	}
	return cmd
}

// unavailable tells messages of ntlm_auth that say winbindd or the domain
// could not be asked from those that refuse the logon, so that an outage
// is logged as one rather than as wrong passwords.
func unavailable(msg string) bool {
	m := strings.ToLower(msg)
	for _, s := range []string{"winbind", "no logon servers", "nt_status_no_logon_servers", "nt_status_unsuccessful",
		"nt_status_io_timeout", "nt_status_internal_error", "not authorized"} {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}

// checkName refuses names no account has that would confuse a line
// protocol or a command line.
func checkName(s string) error {
	if len(s) > 256 {
		return fmt.Errorf("%d bytes long", len(s))
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f {
			return fmt.Errorf("control character %U", r)
		}
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "no reason given"
	}
	return s
}

func (v *Verifier) ntlmAuth() string { return orDefault(v.NTLMAuth, DefaultNTLMAuth) }
func (v *Verifier) wbinfo() string   { return orDefault(v.Wbinfo, DefaultWbinfo) }

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func (v *Verifier) poolSize() int {
	if v.PoolSize > 0 {
		return v.PoolSize
	}
	return DefaultPoolSize
}

func (v *Verifier) timeout() time.Duration {
	if v.Timeout > 0 {
		return v.Timeout
	}
	return DefaultTimeout
}

func (v *Verifier) logger() *slog.Logger {
	if v.Logger != nil {
		return v.Logger
	}
	return slog.Default()
}
