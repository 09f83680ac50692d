package kerberos

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"time"
	"weak"

	"github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/krberror"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// ErrRenew reports a TGT that could not be renewed or replaced: the KDC
// refused the renewal, or the relogin password.
var ErrRenew = errors.New("kerberos: TGT renewal failed")

// renewRetry is how long a Client waits after a failed renewal before it
// tries again (a KDC that is down is not asked on every request).
const renewRetry = 10 * time.Second

// maxRenewSleep bounds the background renewer's sleep, so that it also
// looks at a cache that kinit replaced meanwhile.
const maxRenewSleep = 30 * time.Second

// PasswordFunc returns the password of principal ("user@REALM") for a
// new TGT, e.g. from the OS keyring; an error means there is none.
type PasswordFunc func(ctx context.Context, principal string) (string, error)

// RenewOptions configures how a credential cache Client keeps its TGT
// fresh (see StartRenewal).
type RenewOptions struct {
	// Password, if set, gives the password for a new TGT (an AS
	// exchange, as kinit) once the TGT can no longer be renewed. A
	// password the KDC refuses is not asked for again until the cache
	// changes.
	Password PasswordFunc
	// Logger hears of renewals and failures; nil means none. Passwords
	// and keys are never logged.
	Logger *slog.Logger
}

// StartRenewal makes a credential cache Client renew its TGT when half
// its lifetime has passed (or a minute before its end, whichever comes
// first) with a TGS-REQ carrying the RENEW option, and store the renewed
// TGT back into the cache it came from, whatever its type (FILE, DIR,
// KCM, KEYRING, MEMORY) — as `kinit -R` would, so that other programs
// using the cache see it too. When the TGT is not renewable or its
// renew-till time has come, opts.Password (if set) gives a new one. A
// cache replaced by kinit meanwhile is picked up as before.
//
// Renewal happens on use and in a background goroutine that ends with
// Close or when the Client is no longer referenced. It does nothing for
// a keytab or password Client, which logs in again by itself.
func (c *Client) StartRenewal(opts RenewOptions) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.src != fromCCache || c.renew != nil {
		return
	}
	o := opts
	c.renew = &o
	c.stopRenew = make(chan struct{})
	go renewLoop(weak.Make(c), c.stopRenew)
}

// renewLoop wakes at the TGT's renew point. It holds the Client only
// weakly: a Client nobody uses any more (a proxy reloaded with other
// credentials) is collected, and the loop ends.
func renewLoop(wc weak.Pointer[Client], stop <-chan struct{}) {
	for {
		c := wc.Value()
		if c == nil {
			return
		}
		wait := c.renewTick()
		c = nil
		runtime.Gosched()
		t := time.NewTimer(wait)
		select {
		case <-stop:
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// renewTick renews if due and returns how long to sleep.
func (c *Client) renewTick() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.clock()
	wait := maxRenewSleep
	if tgt, err := c.tgtLocked(); err == nil {
		if d := tgt.renewAt().Sub(now); d < wait {
			wait = d
		}
	}
	if !c.renewWait.IsZero() {
		if d := c.renewWait.Sub(now); d > 0 && d < wait {
			wait = d
		}
	}
	return max(wait, time.Second)
}

// renewAt is when a TGT is renewed: half its lifetime gone, and no later
// than twice its validity margin before the end.
func (t *ticket) renewAt() time.Time {
	start := t.startTime
	if start.IsZero() {
		start = t.authTime
	}
	half := start.Add(t.endTime.Sub(start) / 2)
	late := t.endTime.Add(-2 * t.margin())
	if late.Before(half) {
		return late
	}
	return half
}

// renewable reports a TGT the KDC will renew: flagged so, and with a
// renew-till beyond its current end.
func (t *ticket) renewable(now time.Time) bool {
	return t.has(flags.Renewable) && t.renewTill.After(t.endTime.Add(time.Second)) && now.Before(t.endTime)
}

// Renewals returns how many times the Client renewed its TGT and how
// many times it logged in again with RenewOptions.Password.
func (c *Client) Renewals() (renewed, relogins int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.renewed, c.relogins
}

// renewLocked renews or replaces the cache's TGT when it is due. A
// failure leaves the TGT as it is (it may still be valid) and is logged.
func (c *Client) renewLocked(now time.Time) {
	if c.renew == nil || c.tgt == nil || c.cache == nil || now.Before(c.tgt.renewAt()) || now.Before(c.renewWait) {
		return
	}
	var err error
	if c.tgt.renewable(now) {
		if err = c.renewTGTLocked(); err == nil {
			c.renewed++
			c.logRenew("Kerberos TGT renewed")
			return
		}
	}
	// Not renewable (any more), or the renewal failed while the TGT is
	// about to expire: a new one with the stored password, if any.
	if c.renew.Password != nil && c.reloginErr == nil && (err == nil || !c.tgt.valid(now)) {
		if err = c.reloginLocked(); err == nil {
			c.relogins++
			c.logRenew("Kerberos TGT replaced with the stored password")
			return
		}
	}
	if err == nil {
		return // nothing to renew with: kinit will tell
	}
	c.renewWait = now.Add(renewRetry)
	if l := c.renew.Logger; l != nil {
		l.Warn("Kerberos TGT not renewed", "principal", c.tgt.cname.PrincipalNameString()+"@"+c.tgt.crealm,
			"expires", c.tgt.endTime.Local().Format(time.DateTime), "err", err)
	}
}

func (c *Client) logRenew(msg string) {
	if l := c.renew.Logger; l != nil {
		l.Info(msg, "principal", c.tgt.cname.PrincipalNameString()+"@"+c.tgt.crealm, "cache", c.cache.Name(),
			"expires", c.tgt.endTime.Local().Format(time.DateTime), "renew_till", c.tgt.renewTill.Local().Format(time.DateTime))
	}
}

// renewTGTLocked sends a TGS-REQ with the RENEW option for the TGT
// itself (RFC 4120 section 3.3.3) and stores the result.
func (c *Client) renewTGTLocked() error {
	tgt := c.tgt
	sname := types.PrincipalName{NameType: nametype.KRB_NT_SRV_INST, NameString: []string{"krbtgt", tgt.crealm}}
	req, err := messages.NewTGSReq(tgt.cname, tgt.crealm, c.cfg.Config, tgt.ticket, tgt.key, sname, true)
	if err != nil {
		return fmt.Errorf("%w: renewal request: %v", ErrRenew, err)
	}
	_, rep, err := c.krb.TGSExchange(req, tgt.crealm, tgt.ticket, tgt.key, 0)
	if err != nil {
		serr, _ := c.explainSkew(err, tgt.crealm)
		return fmt.Errorf("%w: %w: %w", ErrRenew, ErrKDC, serr)
	}
	return c.storeTGTLocked(c.fromTGSRep(rep, tgt))
}

// reloginLocked gets a new TGT with the password RenewOptions gives.
func (c *Client) reloginLocked() error {
	who := c.cname.PrincipalNameString() + "@" + c.realm
	ctx, cancel := context.WithTimeout(context.Background(), kcmTimeout)
	pw, err := c.renew.Password(ctx, who)
	cancel()
	if err != nil || pw == "" {
		return fmt.Errorf("%w: no password for %s to get a new TGT: %v", ErrRenew, who, err)
	}
	kc := client.NewWithPassword(c.cname.PrincipalNameString(), c.realm, pw, c.cfg.Config, client.DisablePAFXFAST(true), client.Logger(discardLogger))
	defer kc.Destroy()
	req, err := messages.NewASReqForTGT(c.realm, c.cfg.Config, c.cname)
	if err != nil {
		return fmt.Errorf("%w: AS-REQ: %v", ErrConfig, err)
	}
	rep, err := kc.ASExchange(c.realm, req, 0)
	if serr, skew := c.explainSkew(err, c.realm); skew {
		return fmt.Errorf("%w: login %s: %w", ErrRenew, who, serr)
	}
	if err != nil {
		if !strings.Contains(err.Error(), krberror.NetworkingError) {
			// Not again with the same password: accounts lock out.
			c.reloginErr = err
		}
		return fmt.Errorf("%w: login %s: %v", ErrRenew, who, err)
	}
	p := rep.DecryptedEncPart
	return c.storeTGTLocked(&ticket{ticket: rep.Ticket, key: p.Key, flags: p.Flags, authTime: p.AuthTime, startTime: p.StartTime,
		endTime: p.EndTime, renewTill: p.RenewTill, cname: c.cname, crealm: c.realm})
}

// storeTGTLocked makes t the TGT, and writes it into the cache it came
// from as kinit does: the principal, the new TGT and the cache's
// configuration entries; service tickets of the old TGT are dropped.
func (c *Client) storeTGTLocked(t *ticket) error {
	ctx, cancel := context.WithTimeout(context.Background(), kcmTimeout)
	defer cancel()
	cred, err := ticketCredential(t)
	if err != nil {
		return err
	}
	out := &CCacheContents{Principal: cred.Client}
	if old, err := c.cache.Load(ctx); err == nil {
		out.KDCOffset = old.KDCOffset
		for _, e := range old.Credentials {
			if e.IsConfig() {
				out.Credentials = append(out.Credentials, e)
			}
		}
	}
	out.Credentials = append(out.Credentials, cred)
	if err := c.cache.Store(ctx, out); err != nil {
		return fmt.Errorf("%w: storing the new TGT in %s: %w", ErrRenew, c.cache.Name(), err)
	}
	c.tgt, c.fwd, c.tickets = t, nil, nil
	// What the cache now holds is ours: not a kinit to reload for.
	if stored, err := c.cache.Load(ctx); err == nil {
		c.digest = sumContents(stored)
	}
	if f, ok := c.cache.(*fileCCache); ok {
		if st, err := statCCache(f.path); err == nil {
			c.stamp = st
		}
	}
	return nil
}

// ticketCredential is t as a credential cache entry.
func ticketCredential(t *ticket) (*CCCredential, error) {
	tb, err := t.ticket.Marshal()
	if err != nil {
		return nil, fmt.Errorf("kerberos: encoding the TGT: %v", err)
	}
	var x [4]byte
	copy(x[:], t.flags.Bytes)
	client := CCPrincipal{NameType: t.cname.NameType, Components: append([]string(nil), t.cname.NameString...), Realm: t.crealm}
	return &CCCredential{
		Client:   client,
		Server:   CCPrincipal{NameType: nametype.KRB_NT_SRV_INST, Components: []string{"krbtgt", t.crealm}, Realm: t.crealm},
		Key:      t.key,
		AuthTime: t.authTime, StartTime: t.startTime, EndTime: t.endTime, RenewTill: t.renewTill,
		Flags:  binary.BigEndian.Uint32(x[:]),
		Ticket: tb,
	}, nil
}
