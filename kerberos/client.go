package kerberos

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"log"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/jcmturner/gofork/encoding/asn1"
	"github.com/jcmturner/gokrb5/v8/client"
	"github.com/jcmturner/gokrb5/v8/credentials"
	"github.com/jcmturner/gokrb5/v8/crypto"
	"github.com/jcmturner/gokrb5/v8/iana/flags"
	"github.com/jcmturner/gokrb5/v8/iana/keyusage"
	"github.com/jcmturner/gokrb5/v8/iana/nametype"
	"github.com/jcmturner/gokrb5/v8/iana/patype"
	"github.com/jcmturner/gokrb5/v8/keytab"
	"github.com/jcmturner/gokrb5/v8/krberror"
	"github.com/jcmturner/gokrb5/v8/messages"
	"github.com/jcmturner/gokrb5/v8/types"
)

// renewBefore is how long before a TGT's end a keytab or password Client
// asks for a new one, and the margin within which a ticket counts as
// expired (a request must still reach the server in time).
const renewBefore = time.Minute

// maxCachedTickets bounds the Client's service ticket cache.
const maxCachedTickets = 256

// ccacheRecheck is how often a Client looks at a KCM, KEYRING or DIR
// cache again for a new TGT (kinit, kswitch); a FILE cache is checked on
// every use, which costs only a stat.
const ccacheRecheck = 2 * time.Second

type source int

const (
	fromCCache source = iota
	fromKeytab
	fromPassword
)

// ticket is a ticket with what the client knows of it from the KDC's
// reply: session key, flags and times.
type ticket struct {
	ticket                                  messages.Ticket
	key                                     types.EncryptionKey
	flags                                   asn1.BitString
	authTime, startTime, endTime, renewTill time.Time
	cname                                   types.PrincipalName
	crealm                                  string
}

func (t *ticket) valid(now time.Time) bool {
	if t == nil {
		return false
	}
	if !t.startTime.IsZero() && now.Add(5*time.Minute).Before(t.startTime) {
		return false // postdated far ahead
	}
	return now.Add(t.margin()).Before(t.endTime)
}

// margin is how long before its end a ticket stops counting as valid:
// renewBefore, or a quarter of a short ticket's lifetime (a KDC policy of
// a few minutes would otherwise make every ticket look expired at once).
func (t *ticket) margin() time.Duration {
	start := t.startTime
	if start.IsZero() {
		start = t.authTime
	}
	if life := t.endTime.Sub(start); life > 0 && life/4 < renewBefore {
		return life / 4
	}
	return renewBefore
}

func (t *ticket) has(flag int) bool { return types.IsFlagSet(&t.flags, flag) }

// ccStamp identifies a version of the ccache file.
type ccStamp struct {
	mtime time.Time
	size  int64
	ino   uint64
}

// Client holds one principal's Kerberos credentials and obtains service
// tickets with them. It is safe for concurrent use; create it with
// NewFromCCache, NewWithKeytab or NewWithPassword.
type Client struct {
	cfg      *Config
	src      source
	ccache   string           // the cache name as resolved (FILE: a path)
	col      CCacheCollection // the cache or collection ccache names
	cname    types.PrincipalName
	realm    string
	password string
	kt       *keytab.Keytab
	want     string // NewFromCCacheAs: the only principal the cache may hold

	mu      sync.Mutex
	krb     *client.Client
	tgt     *ticket
	stamp   ccStamp
	checked time.Time          // last look at a non-FILE cache
	digest  [32]byte           // of the non-FILE cache's contents as last loaded
	tickets map[string]*ticket // service principal with realm -> ticket
	fwd     *ticket            // forwarded TGT for delegation
	loadErr error              // a login the KDC refused; not retried until Refresh
	loads   int                // TGT loads and logins, for tests
	now     func() time.Time

	cache      CCache        // the cache the TGT was read from
	renew      *RenewOptions // nil: the cache's TGT is never renewed
	renewWait  time.Time     // no renewal attempt before this (after a failure)
	reloginErr error         // a relogin the KDC refused: not repeated for this TGT
	stopRenew  chan struct{} // closed by Close
	renewed    int           // renewals, for Renewals
	relogins   int           // new TGTs from RenewOptions.Password
}

// NewFromCCache returns a Client that uses the TGT in a credential
// cache. ccache names the cache as KRB5CCNAME does ("FILE:/path" or a
// path, "DIR:/dir", "KCM:", "KEYRING:persistent:1000", "MEMORY:x"); ""
// means KRB5CCNAME, else the configuration's default_ccache_name, else
// /tmp/krb5cc_<uid> (see DefaultCCacheName). A collection's primary cache
// is used. cfg nil means LoadConfig("").
//
// The cache need not exist yet: it is read when a ticket is first needed
// and read again whenever it changes (kinit, kinit -R, kswitch) or its TGT
// has expired. Types sesame cannot read (API:, MSLSA:, KEYRING: off Linux)
// give an error wrapping ErrCacheUnsupported.
func NewFromCCache(ccache string, cfg *Config) (*Client, error) {
	cfg, err := configOrDefault(cfg)
	if err != nil {
		return nil, err
	}
	if ccache == "" {
		ccache = DefaultCCacheName(cfg, nil)
	}
	col, err := ResolveCCache(ccache, cfg)
	if err != nil {
		return nil, err
	}
	name := col.Name()
	if s, ok := col.(single); ok {
		if f, ok := s.c.(*fileCCache); ok {
			name = f.path
		}
	}
	return &Client{cfg: cfg, src: fromCCache, ccache: name, col: col}, nil
}

// NewFromCCacheAs is NewFromCCache for one principal ("name@REALM"): it
// uses the cache of a collection whose default principal is that one
// (compared case-insensitively), primary or not. A cache of another
// principal, also one that kinit replaced later, makes ticket requests
// fail with an error wrapping ErrWrongPrincipal (and ErrNoCredentials):
// an identity the user named is never stood in for by whoever the cache
// holds. Principal returns
// principal even before the cache is read.
func NewFromCCacheAs(ccache, principal string, cfg *Config) (*Client, error) {
	c, err := NewFromCCache(ccache, cfg)
	if err != nil {
		return nil, err
	}
	name, realm := splitSPN(principal)
	if name == "" || realm == "" {
		return nil, fmt.Errorf("%w: principal %q has no realm", ErrConfig, principal)
	}
	c.want = principal
	c.cname, c.realm = types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, name), realm
	return c, nil
}

// NewWithKeytab returns a Client that logs in as principal ("user" or
// "user@REALM"; the default realm if none) with the key of the keytab file
// at path. Like NewWithPassword, a key the KDC refused is not tried again
// until Refresh.
func NewWithKeytab(principal, path string, cfg *Config) (*Client, error) {
	cfg, err := configOrDefault(cfg)
	if err != nil {
		return nil, err
	}
	kt, err := keytab.Load(path)
	if err != nil {
		return nil, fmt.Errorf("%w: keytab %s: %v", ErrNoCredentials, path, err)
	}
	c, err := newLogin(principal, cfg)
	if err != nil {
		return nil, err
	}
	c.src, c.kt = fromKeytab, kt
	return c, nil
}

// NewWithPassword returns a Client that logs in as principal ("user" or
// "user@REALM") with password. The password is kept in memory for
// renewed logins and never appears in errors. Once the KDC has refused
// it, the Client does not ask again (domain accounts lock out after a few
// failures) until Refresh.
func NewWithPassword(principal, password string, cfg *Config) (*Client, error) {
	cfg, err := configOrDefault(cfg)
	if err != nil {
		return nil, err
	}
	c, err := newLogin(principal, cfg)
	if err != nil {
		return nil, err
	}
	c.src, c.password = fromPassword, password
	return c, nil
}

func configOrDefault(cfg *Config) (*Config, error) {
	if cfg != nil {
		return cfg, nil
	}
	return LoadConfig("")
}

func newLogin(principal string, cfg *Config) (*Client, error) {
	name, realm := splitSPN(principal)
	if realm == "" {
		realm = cfg.LibDefaults.DefaultRealm
	}
	if name == "" || realm == "" {
		return nil, fmt.Errorf("%w: principal %q has no realm and krb5.conf sets no default_realm", ErrConfig, principal)
	}
	return &Client{cfg: cfg, cname: types.NewPrincipalName(nametype.KRB_NT_PRINCIPAL, name), realm: realm}, nil
}

// Config returns the configuration the Client uses.
func (c *Client) Config() *Config { return c.cfg }

// Principal returns the client principal, "user@REALM". For a credential
// cache it is the cache's principal as last read (the cache is read on
// the first call if it was not yet), or "" while there is no readable
// cache with a TGT.
func (c *Client) Principal() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.src == fromCCache && len(c.cname.NameString) == 0 {
		_, _ = c.tgtLocked() // an error leaves the name empty
	}
	if len(c.cname.NameString) == 0 {
		return ""
	}
	return c.cname.PrincipalNameString() + "@" + c.realm
}

// CCache returns the credential cache: the path of a FILE cache, the
// name of any other ("KCM:", "DIR:/dir"), "" for a keytab or password
// Client.
func (c *Client) CCache() string { return c.ccache }

// Refresh drops the TGT and service tickets the Client holds: a cache
// Client reads its file again, a keytab or password Client logs in again
// (also after a refused login).
func (c *Client) Refresh() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.tgt, c.fwd, c.tickets, c.stamp, c.loadErr, c.checked = nil, nil, nil, ccStamp{}, nil, time.Time{}
	_, err := c.tgtLocked()
	return err
}

// LoginError returns the error of a password or keytab login the KDC
// refused (wrapping ErrLoginRefused), which the Client does not repeat
// until Refresh; nil when there was none, and always for a cache Client.
func (c *Client) LoginError() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.loadErr
}

// Close stops the background work of the underlying gokrb5 client.
func (c *Client) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.krb != nil {
		c.krb.Destroy()
		c.krb = nil
	}
	c.tgt, c.fwd, c.tickets = nil, nil, nil
	if c.stopRenew != nil {
		close(c.stopRenew)
		c.stopRenew = nil
	}
}

func (c *Client) clock() time.Time {
	if c.now != nil {
		return c.now()
	}
	return time.Now()
}

// tgtLocked returns a valid TGT, reading the cache again when it changed
// or its TGT expired, or logging in again before the TGT expires.
func (c *Client) tgtLocked() (*ticket, error) {
	now := c.clock()
	if c.src != fromCCache {
		if c.tgt.valid(now) {
			return c.tgt, nil
		}
		if c.loadErr != nil {
			return nil, c.loadErr
		}
		return c.loginLocked()
	}
	if f, ok := c.col.(single); ok {
		if fc, ok := f.c.(*fileCCache); ok {
			st, err := statCCache(fc.path)
			if err != nil {
				c.tgt = nil
				if errors.Is(err, os.ErrNotExist) {
					return nil, fmt.Errorf("%w: %w: no credentials cache found (%s); run kinit", ErrNoCredentials, ErrCacheEmpty, fc.Name())
				}
				return nil, fmt.Errorf("%w: credential cache %s: %v", ErrNoCredentials, c.ccache, err)
			}
			if c.tgt == nil || st != c.stamp || !c.tgt.valid(now) {
				if err := c.loadCCacheLocked(st); err != nil {
					return nil, err
				}
			}
			c.renewLocked(now)
			return c.checkTGTLocked(now)
		}
	}
	if c.tgt == nil || !c.tgt.valid(now) || now.Sub(c.checked) >= ccacheRecheck {
		c.checked = now
		if err := c.loadCCacheLocked(ccStamp{}); err != nil {
			return nil, err
		}
	}
	c.renewLocked(now)
	return c.checkTGTLocked(now)
}

func (c *Client) checkTGTLocked(now time.Time) (*ticket, error) {
	if !c.tgt.valid(now) {
		return nil, fmt.Errorf("%w: %w: the TGT of %s@%s in %s expired at %s (run kinit)", ErrNoCredentials, ErrTicketExpired,
			c.cname.PrincipalNameString(), c.realm, c.ccache, c.tgt.endTime.Local().Format("2006-01-02 15:04:05 MST"))
	}
	return c.tgt, nil
}

// loadContentsLocked reads the cache the Client uses: the collection's
// primary, or the cache of the principal it was made for.
func (c *Client) loadContentsLocked() (CCache, *CCacheContents, error) {
	ctx, cancel := context.WithTimeout(context.Background(), kcmTimeout)
	defer cancel()
	if c.want == "" {
		return FindCCache(ctx, c.col, "")
	}
	caches, err := c.col.Caches(ctx)
	if err != nil {
		return nil, nil, err
	}
	var firstErr error
	var held []string
	for _, cache := range caches {
		cc, err := cache.Load(ctx)
		if err != nil {
			if firstErr == nil {
				firstErr = err
			}
			continue
		}
		if p := cc.Principal.String(); strings.EqualFold(p, c.want) {
			return cache, cc, nil
		} else {
			held = append(held, p)
		}
	}
	if len(held) > 0 {
		return nil, nil, fmt.Errorf("%w: credential cache %s holds %s, not %s", ErrWrongPrincipal, c.ccache, strings.Join(held, ", "), c.want)
	}
	if firstErr == nil {
		firstErr = fmt.Errorf("%w: no credentials cache found (%s)", ErrCacheEmpty, c.ccache)
	}
	return nil, nil, firstErr
}

func statCCache(path string) (ccStamp, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return ccStamp{}, err
	}
	return ccStamp{mtime: fi.ModTime(), size: fi.Size(), ino: inode(fi)}, nil
}

func (c *Client) loadCCacheLocked(st ccStamp) error {
	cache, cc, err := c.loadContentsLocked()
	if err != nil {
		c.tgt, c.fwd, c.tickets = nil, nil, nil
		return fmt.Errorf("%w: %w", ErrNoCredentials, err)
	}
	sum := sumContents(cc)
	if c.tgt != nil && st == (ccStamp{}) && sum == c.digest {
		return nil // a KCM/KEYRING/DIR cache as it was: keep the service tickets
	}
	c.loads++
	c.tgt, c.fwd, c.tickets = nil, nil, nil
	c.stamp = st
	c.digest = sum
	cname, realm := cc.Principal.Name(), cc.Principal.Realm
	var tgt *ticket
	tickets := map[string]*ticket{}
	for _, e := range cc.Credentials {
		if e.IsConfig() || !strings.EqualFold(e.Client.String(), cc.Principal.String()) {
			continue
		}
		var tk messages.Ticket
		if err := safeUnmarshal(func() error { return tk.Unmarshal(e.Ticket) }); err != nil {
			continue
		}
		t := &ticket{ticket: tk, key: e.Key, flags: e.TicketFlags(), authTime: e.AuthTime, startTime: e.StartTime,
			endTime: e.EndTime, renewTill: e.RenewTill, cname: cname, crealm: realm}
		switch {
		case e.IsTGT():
			if tgt == nil || t.endTime.After(tgt.endTime) {
				tgt = t
			}
		case len(tickets) < maxCachedTickets:
			tickets[strings.Join(e.Server.Components, "/")+"@"+e.Server.Realm] = t
		}
	}
	if tgt == nil {
		return fmt.Errorf("%w: %w: no TGT for %s in credential cache %s (run kinit)", ErrNoCredentials, ErrCacheEmpty, cc.Principal, cache.Name())
	}
	if c.krb != nil {
		c.krb.Destroy()
	}
	c.krb = client.NewWithPassword(cname.PrincipalNameString(), realm, "", c.cfg.Config, client.DisablePAFXFAST(true), client.Logger(discardLogger))
	c.krb.Credentials = credentials.NewFromPrincipalName(cname, realm)
	c.cname, c.realm, c.tgt, c.tickets = cname, realm, tgt, tickets
	c.cache, c.renewWait, c.reloginErr = cache, time.Time{}, nil
	return nil
}

var discardLogger = log.New(io.Discard, "", 0)

// sumContents identifies a cache's contents, to tell a kinit from a
// cache as the Client left it.
func sumContents(cc *CCacheContents) [32]byte { return sha256.Sum256(MarshalFileCCache(cc)) }

func (c *Client) loginLocked() (*ticket, error) {
	c.loads++
	c.tgt, c.fwd, c.tickets = nil, nil, nil
	if c.krb == nil {
		name := c.cname.PrincipalNameString()
		if c.src == fromKeytab {
			c.krb = client.NewWithKeytab(name, c.realm, c.kt, c.cfg.Config, client.DisablePAFXFAST(true), client.Logger(discardLogger))
		} else {
			c.krb = client.NewWithPassword(name, c.realm, c.password, c.cfg.Config, client.DisablePAFXFAST(true), client.Logger(discardLogger))
		}
	}
	req, err := messages.NewASReqForTGT(c.realm, c.cfg.Config, c.cname)
	if err != nil {
		return nil, fmt.Errorf("%w: AS-REQ: %v", ErrConfig, err)
	}
	rep, err := c.krb.ASExchange(c.realm, req, 0)
	if serr, skew := c.explainSkew(err, c.realm); skew {
		// Not a refused password: nothing to hold against it.
		return nil, fmt.Errorf("%w: %w", ErrNoCredentials, serr)
	}
	if err != nil {
		who := c.cname.PrincipalNameString() + "@" + c.realm
		if strings.Contains(err.Error(), krberror.NetworkingError) {
			if nerr := c.cfg.explainNoKDC(c.realm); nerr != nil {
				return nil, fmt.Errorf("%w: %w: login %s: %w", ErrNoCredentials, ErrKDC, who, nerr)
			}
			return nil, fmt.Errorf("%w: %w: login %s: %v", ErrNoCredentials, ErrKDC, who, err)
		}
		// The KDC refused the password or key: asking again with the
		// same one would only count towards an account lockout.
		c.loadErr = fmt.Errorf("%w: %w: login %s: %v", ErrNoCredentials, ErrLoginRefused, who, err)
		return nil, c.loadErr
	}
	p := rep.DecryptedEncPart
	c.tgt = &ticket{ticket: rep.Ticket, key: p.Key, flags: p.Flags, authTime: p.AuthTime, startTime: p.StartTime,
		endTime: p.EndTime, renewTill: p.RenewTill, cname: c.cname, crealm: c.realm}
	return c.tgt, nil
}

// serviceTicketLocked returns a ticket for name ("HTTP/host") in realm,
// from the cache or by a TGS exchange (through a cross-realm TGT when
// realm is not the client's).
func (c *Client) serviceTicketLocked(tgt *ticket, name, realm string) (*ticket, error) {
	key := name + "@" + realm
	if t := c.tickets[key]; t.valid(c.clock()) {
		return t, nil
	}
	via := tgt
	if realm != tgt.crealm {
		var err error
		if via, err = c.serviceTicketLocked(tgt, "krbtgt/"+realm, tgt.crealm); err != nil {
			return nil, err
		}
	}
	nt := int32(nametype.KRB_NT_SRV_HST)
	if strings.HasPrefix(name, "krbtgt/") {
		nt = nametype.KRB_NT_SRV_INST
	}
	sname := types.NewPrincipalName(nt, name)
	_, rep, err := c.krb.TGSREQGenerateAndExchange(sname, realm, via.ticket, via.key, false)
	if err != nil {
		if serr, skew := c.explainSkew(err, realm); skew {
			return nil, fmt.Errorf("%w: service ticket for %s: %w", ErrKDC, key, serr)
		}
		if strings.Contains(err.Error(), krberror.NetworkingError) {
			// The TGS-REQ went to realm's KDC.
			if nerr := c.cfg.explainNoKDC(realm); nerr != nil {
				return nil, fmt.Errorf("%w: service ticket for %s: %w", ErrKDC, key, nerr)
			}
		}
		return nil, fmt.Errorf("%w: service ticket for %s: %v", ErrKDC, key, err)
	}
	t := c.fromTGSRep(rep, tgt)
	if c.tickets == nil || len(c.tickets) >= maxCachedTickets {
		c.tickets = map[string]*ticket{}
	}
	c.tickets[key] = t
	return t, nil
}

func (c *Client) fromTGSRep(rep messages.TGSRep, tgt *ticket) *ticket {
	p := rep.DecryptedEncPart
	return &ticket{ticket: rep.Ticket, key: p.Key, flags: p.Flags, authTime: p.AuthTime, startTime: p.StartTime,
		endTime: p.EndTime, renewTill: p.RenewTill, cname: tgt.cname, crealm: tgt.crealm}
}

// forwardedTGTLocked returns a forwarded TGT for delegation (a TGS
// exchange for krbtgt/REALM with the FORWARDED option), or nil when the
// TGT is not forwardable.
func (c *Client) forwardedTGTLocked(tgt *ticket) (*ticket, error) {
	if !tgt.has(flags.Forwardable) {
		return nil, nil
	}
	if c.fwd.valid(c.clock()) {
		return c.fwd, nil
	}
	sname := types.PrincipalName{NameType: nametype.KRB_NT_SRV_INST, NameString: []string{"krbtgt", tgt.crealm}}
	req, err := messages.NewTGSReq(tgt.cname, tgt.crealm, c.cfg.Config, tgt.ticket, tgt.key, sname, false)
	if err != nil {
		return nil, fmt.Errorf("%w: forwarded TGT request: %v", ErrKDC, err)
	}
	types.SetFlag(&req.ReqBody.KDCOptions, flags.Forwardable)
	types.SetFlag(&req.ReqBody.KDCOptions, flags.Forwarded)
	req.ReqBody.Addresses = nil // an addressless ticket, usable from the server's host
	if err := signTGSReq(&req, tgt); err != nil {
		return nil, err
	}
	_, rep, err := c.krb.TGSExchange(req, tgt.crealm, tgt.ticket, tgt.key, 0)
	if err != nil {
		return nil, fmt.Errorf("%w: forwarded TGT: %v", ErrKDC, err)
	}
	c.fwd = c.fromTGSRep(rep, tgt)
	return c.fwd, nil
}

// signTGSReq (re)computes the PA-TGS-REQ of a TGS-REQ whose body changed:
// an AP-REQ with the TGT whose authenticator checksums the body (RFC 4120
// section 7.5.2, key usage 6; authenticator key usage 7).
func signTGSReq(req *messages.TGSReq, tgt *ticket) error {
	body, err := req.ReqBody.Marshal()
	if err != nil {
		return fmt.Errorf("kerberos: TGS-REQ body: %v", err)
	}
	et, err := crypto.GetEtype(tgt.key.KeyType)
	if err != nil {
		return fmt.Errorf("kerberos: TGT session key: %v", err)
	}
	sum, err := et.GetChecksumHash(tgt.key.KeyValue, body, keyusage.TGS_REQ_PA_TGS_REQ_AP_REQ_AUTHENTICATOR_CHKSUM)
	if err != nil {
		return fmt.Errorf("kerberos: TGS-REQ checksum: %v", err)
	}
	auth, err := types.NewAuthenticator(tgt.crealm, tgt.cname)
	if err != nil {
		return err
	}
	auth.Cksum = types.Checksum{CksumType: et.GetHashID(), Checksum: sum}
	ap, err := messages.NewAPReq(tgt.ticket, tgt.key, auth)
	if err != nil {
		return fmt.Errorf("kerberos: TGS-REQ AP-REQ: %v", err)
	}
	apb, err := ap.Marshal()
	if err != nil {
		return fmt.Errorf("kerberos: TGS-REQ AP-REQ: %v", err)
	}
	req.PAData = types.PADataSequence{{PADataType: patype.PA_TGS_REQ, PADataValue: apb}}
	return nil
}
