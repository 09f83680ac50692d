package winbind

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"time"
)

// maxWbinfoOutput bounds what is read of one wbinfo run.
const maxWbinfoOutput = 1 << 20

// account is what wbinfo says about a user who logged on.
type account struct {
	user, domain, sid string
	groups            []string
	expires           time.Time
}

// account returns the user's SID, canonical names and group SIDs, from
// the cache or from wbinfo.
func (v *Verifier) account(ctx context.Context, domain, user string) (*account, error) {
	name := user
	if domain != "" {
		name = domain + `\` + user
	}
	key := strings.ToLower(name)
	now := time.Now()
	v.mu.Lock()
	if a := v.accounts[key]; a != nil && now.Before(a.expires) {
		v.mu.Unlock()
		return a, nil
	}
	v.mu.Unlock()

	// A name without a domain resolves in winbindd's own domain, as
	// ntlm_auth verified it.
	out, err := v.runWbinfo(ctx, "--name-to-sid="+name)
	if err != nil {
		return nil, err
	}
	f := strings.Fields(out)
	if len(f) < 2 || !looksLikeSID(f[0]) {
		return nil, fmt.Errorf("%w: wbinfo --name-to-sid: %q", ErrProtocol, printable(out))
	}
	if f[1] != "SID_USER" {
		return nil, fmt.Errorf("%w: %s is a %s, not a user", ErrProtocol, printable(name), printable(f[1]))
	}
	a := &account{sid: f[0]}
	type result struct {
		out string
		err error
	}
	namec := make(chan result, 1)
	go func() {
		out, err := v.runWbinfo(ctx, "--sid-to-name="+a.sid)
		namec <- result{out, err}
	}()
	groups, err := v.runWbinfo(ctx, "--user-sids="+a.sid)
	if err != nil {
		<-namec
		return nil, err
	}
	for _, g := range strings.Fields(groups) {
		if !looksLikeSID(g) {
			<-namec
			return nil, fmt.Errorf("%w: wbinfo --user-sids: %q is not a SID", ErrProtocol, printable(g))
		}
		if g != a.sid {
			a.groups = append(a.groups, g)
		}
	}
	res := <-namec
	if res.err != nil {
		return nil, res.err
	}
	if a.domain, a.user, err = v.splitName(ctx, res.out); err != nil {
		return nil, err
	}
	if ttl := v.accountTTL(); ttl > 0 {
		a.expires = now.Add(ttl)
		v.mu.Lock()
		if v.accounts == nil || len(v.accounts) >= maxAccounts {
			v.accounts = make(map[string]*account) // crude, but bounded
		}
		v.accounts[key] = a
		v.mu.Unlock()
	}
	return a, nil
}

// splitName parses wbinfo --sid-to-name's "DOMAIN<sep>name <type>"; the
// name may contain spaces ("Domain Users").
func (v *Verifier) splitName(ctx context.Context, out string) (domain, name string, err error) {
	out = strings.TrimSpace(out)
	i := strings.LastIndexByte(out, ' ')
	if i < 0 {
		return "", "", fmt.Errorf("%w: wbinfo --sid-to-name: %q", ErrProtocol, printable(out))
	}
	full := out[:i]
	sep := v.separator(ctx)
	if d, n, ok := strings.Cut(full, sep); ok {
		return d, n, nil
	}
	return "", full, nil
}

// separator is winbind's separator of domain and user names (smb.conf
// "winbind separator"), asked of wbinfo once; `\` if that fails.
func (v *Verifier) separator(ctx context.Context) string {
	v.sepOnce.Do(func() {
		v.sep = `\`
		if out, err := v.runWbinfo(ctx, "--separator"); err == nil {
			if s := strings.TrimSpace(out); len(s) == 1 {
				v.sep = s
			}
		}
	})
	return v.sep
}

// runWbinfo runs wbinfo with one argument and returns its output.
func (v *Verifier) runWbinfo(ctx context.Context, arg string) (string, error) {
	cmd := v.command(ctx, v.wbinfo(), arg)
	var out, errb bytes.Buffer
	cmd.Stdout = &limitedBuffer{b: &out, max: maxWbinfoOutput}
	cmd.Stderr = &limitedBuffer{b: &errb, max: 4096}
	cmd.WaitDelay = helperGrace
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("%w: wbinfo %s: %w", ErrUnavailable, arg, context.Cause(ctx))
		}
		return "", fmt.Errorf("%w: wbinfo %s: %v: %s", ErrUnavailable, arg, err, printable(strings.TrimSpace(errb.String()+" "+out.String())))
	}
	return out.String(), nil
}

// looksLikeSID accepts the textual form S-1-<authority>(-<sub>)*.
func looksLikeSID(s string) bool {
	rest, ok := strings.CutPrefix(s, "S-1-")
	if !ok || rest == "" || len(s) > 200 {
		return false
	}
	for _, p := range strings.Split(rest, "-") {
		if p == "" || strings.Trim(p, "0123456789") != "" {
			return false
		}
	}
	return true
}

// limitedBuffer keeps the first max bytes written and drops the rest.
type limitedBuffer struct {
	b   *bytes.Buffer
	max int
}

func (w *limitedBuffer) Write(p []byte) (int, error) {
	if room := w.max - w.b.Len(); room > 0 {
		w.b.Write(p[:min(room, len(p))])
	}
	return len(p), nil
}

func (v *Verifier) accountTTL() time.Duration {
	switch {
	case v.AccountTTL < 0:
		return 0
	case v.AccountTTL == 0:
		return DefaultAccountTTL
	}
	return v.AccountTTL
}
