package sidname

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"
)

// Winbind names SIDs with Samba's wbinfo --sid-to-name, one run per SID
// (wbinfo --lookup-sids fails as a whole when one SID is unknown). Put a
// Cache in front of it.
type Winbind struct {
	// Wbinfo is wbinfo's path; default "wbinfo", looked up in PATH.
	Wbinfo string
	// Command makes the command, for running wbinfo through a wrapper;
	// default exec.CommandContext.
	Command func(ctx context.Context, name string, args ...string) *exec.Cmd
	// Env is added to wbinfo's environment.
	Env []string
	// Timeout bounds one Names call; default 10 s.
	Timeout time.Duration
	// Qualified keeps the domain in names ("CORP\webusers"); by default
	// a name is the account name alone ("webusers"), as LDAP's
	// sAMAccountName.
	Qualified bool
}

// Names implements Resolver. A SID wbinfo cannot name (its message says
// so) is absent; wbinfo failing otherwise is an error.
func (w *Winbind) Names(ctx context.Context, sids []string) (map[string]string, error) {
	timeout := w.Timeout
	if timeout <= 0 {
		timeout = 10 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	out := make(map[string]string)
	for _, s := range sids {
		c, err := CanonicalSID(s)
		if err != nil {
			continue
		}
		name, found, err := w.lookup(ctx, c)
		if err != nil {
			return out, err
		}
		if found {
			out[s] = name
		}
	}
	return out, nil
}

func (w *Winbind) lookup(ctx context.Context, sid string) (name string, found bool, err error) {
	bin := w.Wbinfo
	if bin == "" {
		bin = "wbinfo"
	}
	var cmd *exec.Cmd
	if w.Command != nil {
		cmd = w.Command(ctx, bin, "--sid-to-name="+sid)
	} else {
		cmd = exec.CommandContext(ctx, bin, "--sid-to-name="+sid)
	}
	if len(w.Env) > 0 {
		if cmd.Env == nil {
			cmd.Env = os.Environ()
		}
		cmd.Env = append(cmd.Env, w.Env...)
	}
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	cmd.WaitDelay = 2 * time.Second
	if err := cmd.Run(); err != nil {
		msg := stderr.String() + stdout.String()
		if ctx.Err() == nil && (strings.Contains(msg, "WBC_ERR_DOMAIN_NOT_FOUND") || strings.Contains(msg, "NONE_MAPPED") ||
			strings.Contains(msg, "Could not lookup sid")) {
			return "", false, nil
		}
		return "", false, fmt.Errorf("%w: wbinfo --sid-to-name=%s: %v: %s", ErrUnavailable, sid, err, trunc(strings.TrimSpace(msg)))
	}
	// "CORP\Domain Users 2": the name, then the SID type.
	line := strings.TrimSpace(stdout.String())
	i := strings.LastIndexByte(line, ' ')
	if i <= 0 {
		return "", false, fmt.Errorf("%w: wbinfo --sid-to-name=%s: unexpected answer %q", ErrUnavailable, sid, trunc(line))
	}
	name = line[:i]
	if !w.Qualified {
		if j := strings.IndexAny(name, `\+`); j >= 0 {
			name = name[j+1:]
		}
	}
	return name, name != "", nil
}
