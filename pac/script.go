package pac

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/url"
	"runtime"
	"runtime/metrics"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/dlclark/regexp2/v2"
	"github.com/dop251/goja"
)

// RegexpMatchTimeout bounds one regular-expression match of the
// backtracking engine (regexp2) that goja uses for patterns Go's regexp
// can't run (lookaround, back-references): goja's interrupt is not seen
// inside such a match, so without this bound `/^(?=x?)(a+)+$/.test(...)`
// runs for minutes. It is regexp2's process-wide default, set when this
// package is initialised unless the program already set one. An
// evaluation does not wait for it (it returns at its deadline and
// abandons the runtime); the bound ends the abandoned goroutine's work.
// A match cut short counts as no match, which only happens to a
// pathological pattern.
const RegexpMatchTimeout = time.Second

func init() {
	if regexp2.DefaultMatchTimeout == time.Duration(math.MaxInt64) {
		regexp2.DefaultMatchTimeout = RegexpMatchTimeout
	}
}

// Limits and defaults.
const (
	// MaxScriptSize is the largest PAC source Compile accepts.
	MaxScriptSize = 1 << 20
	// DefaultTimeout bounds one evaluation (and the script's top level).
	DefaultTimeout = time.Second
	// DefaultMaxResultLen bounds the length of a FindProxyForURL result.
	DefaultMaxResultLen = 32 << 10
	// DefaultMaxHeapGrowth is how far the Go heap may grow during one
	// evaluation that has run longer than memCheckDelay before it is
	// interrupted.
	DefaultMaxHeapGrowth = 128 << 20
	// DefaultDNSTimeout bounds one host lookup.
	DefaultDNSTimeout = 500 * time.Millisecond
	// DefaultDNSCacheTTL is how long lookups (and failures) are cached.
	DefaultDNSCacheTTL = 30 * time.Second
	// maxCallStack bounds JavaScript recursion.
	maxCallStack  = 4096
	memCheckDelay = 20 * time.Millisecond
	memCheckEvery = 5 * time.Millisecond
)

// Errors returned by evaluations. They wrap the details.
var (
	// ErrTimeout: the evaluation ran longer than Options.Timeout.
	ErrTimeout = errors.New("pac: script ran too long")
	// ErrMemory: the heap grew by more than Options.MaxHeapGrowth.
	ErrMemory = errors.New("pac: script used too much memory")
	// ErrScript: the script threw, or returned something unusable.
	ErrScript = errors.New("pac: script error")
	// ErrTooLarge: the script source exceeds MaxScriptSize.
	ErrTooLarge = errors.New("pac: script too large")
	// ErrBusy: MaxConcurrent evaluations were running and none ended
	// within the evaluation's time limit (or before its context ended).
	ErrBusy = errors.New("pac: too many evaluations running")
)

// abandonGrace is how long an evaluation past its deadline waits for the
// interrupted runtime to stop before abandoning it. The interrupt lands
// within microseconds unless the script is inside one native call that
// does not check it (a backtracking regular-expression match).
const abandonGrace = 20 * time.Millisecond

// Options configure a Script. The zero value is usable: system DNS with a
// cache, the default-route address for myIpAddress, local time, 1 s per
// evaluation, and HTTPS URLs stripped as browsers strip them.
type Options struct {
	// Resolver answers dnsResolve, isResolvable, isInNet and the Ex
	// functions. Default net.DefaultResolver.
	Resolver Resolver
	// DNSTimeout bounds each lookup (default DefaultDNSTimeout); the
	// evaluation's own deadline bounds it too.
	DNSTimeout time.Duration
	// DNSCacheTTL is the lifetime of cached lookups, failures included
	// (default DefaultDNSCacheTTL; negative disables the cache).
	DNSCacheTTL time.Duration
	// MyIP answers myIpAddress and myIpAddressEx. Default DefaultMyIP,
	// cached for DNSCacheTTL.
	MyIP MyIPFunc
	// Now is the clock for weekdayRange, dateRange, timeRange and the
	// script's own Date. Default time.Now.
	Now func() time.Time
	// Location is the local time zone of the date functions (default
	// time.Local). The script's own Date objects always use time.Local,
	// a limit of goja.
	Location *time.Location
	// Timeout bounds one evaluation, and the script's top-level code at
	// Compile (default DefaultTimeout).
	Timeout time.Duration
	// MaxResultLen bounds the returned string (default
	// DefaultMaxResultLen).
	MaxResultLen int
	// MaxHeapGrowth interrupts an evaluation that runs longer than 20 ms
	// while the process heap grows by more than this many bytes (default
	// DefaultMaxHeapGrowth; negative disables the check). It is a
	// heuristic: goja has no per-runtime heap limit, so the bound is on the
	// whole process heap, sampled every 5 ms (not while the script waits
	// for DNS). One JavaScript operation can't be interrupted half-way, so
	// the peak can overshoot by what a single operation allocates (a
	// string doubling in size, a large array literal).
	MaxHeapGrowth int64
	// KeepHTTPSURL passes https:// and wss:// URLs to the script whole.
	// By default they are cut to scheme://host[:port]/ as Chromium and
	// Firefox do, so that the script can't see paths and queries that TLS
	// would hide from the proxy.
	KeepHTTPSURL bool
	// PoolSize is the number of idle runtimes kept (default GOMAXPROCS).
	PoolSize int
	// MaxConcurrent bounds the evaluations running at once (default
	// GOMAXPROCS, at least 2). An evaluation abandoned at its deadline
	// keeps its slot until its goroutine really ends, so a hostile script
	// can't pile up goroutines burning CPU. Waiting for a slot counts
	// against the evaluation's Timeout and its context; if neither leaves
	// room, the evaluation fails with ErrBusy.
	MaxConcurrent int
	// Logger receives alert() messages. Default slog.Default().
	Logger *slog.Logger
}

func (o Options) withDefaults() Options {
	if o.Resolver == nil {
		o.Resolver = net.DefaultResolver
	}
	if o.DNSTimeout <= 0 {
		o.DNSTimeout = DefaultDNSTimeout
	}
	if o.DNSCacheTTL == 0 {
		o.DNSCacheTTL = DefaultDNSCacheTTL
	}
	if o.MyIP == nil {
		o.MyIP = DefaultMyIP
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Location == nil {
		o.Location = time.Local
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
	if o.MaxResultLen <= 0 {
		o.MaxResultLen = DefaultMaxResultLen
	}
	if o.MaxHeapGrowth == 0 {
		o.MaxHeapGrowth = DefaultMaxHeapGrowth
	}
	if o.PoolSize <= 0 {
		o.PoolSize = runtime.GOMAXPROCS(0)
	}
	if o.MaxConcurrent <= 0 {
		o.MaxConcurrent = max(2, runtime.GOMAXPROCS(0))
	}
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	return o
}

// Script is a compiled PAC file. It is safe for concurrent use: each
// evaluation takes a JavaScript runtime from a pool (goja runtimes are not
// goroutine-safe), creating one when none is idle. Global state a script
// keeps between calls lives per runtime, as it would per browser process.
type Script struct {
	opts    Options
	prog    *goja.Program
	dns     *dnsCache
	myIP    *myIPCache
	idle    chan *vm
	slots   chan struct{} // one token per running evaluation (MaxConcurrent)
	hasEx   bool
	srcSize int
}

// vm is one runtime with the script loaded.
type vm struct {
	s          *Script
	rt         *goja.Runtime
	fn         goja.Callable
	ctx        context.Context
	regexpCtor goja.Value
	regexpTest goja.Callable
	reCache    map[string]*goja.Object
	isEx       bool
	inLookup   atomic.Bool
	// abandoned is set when an evaluation returned at its deadline while
	// the runtime was still running: it must never be used again.
	abandoned bool
}

// Compile parses src (a PAC file as text) and runs its top level once to
// check that it defines FindProxyForURL or FindProxyForURLEx.
func Compile(src []byte, opts Options) (*Script, error) {
	if len(src) > MaxScriptSize {
		return nil, fmt.Errorf("%w: %d bytes, limit %d", ErrTooLarge, len(src), MaxScriptSize)
	}
	opts = opts.withDefaults()
	prog, err := goja.Compile("pac", string(src), false)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrScript, err)
	}
	s := &Script{
		opts:    opts,
		prog:    prog,
		dns:     &dnsCache{r: opts.Resolver, ttl: opts.DNSCacheTTL, timeout: opts.DNSTimeout, now: time.Now},
		myIP:    &myIPCache{f: opts.MyIP, ttl: max(opts.DNSCacheTTL, 0), now: time.Now},
		idle:    make(chan *vm, opts.PoolSize),
		slots:   make(chan struct{}, opts.MaxConcurrent),
		srcSize: len(src),
	}
	v, err := s.newVM(context.Background())
	if err != nil {
		return nil, err
	}
	s.hasEx = v.isEx
	s.put(v)
	return s, nil
}

// HasEx reports whether the script defines FindProxyForURLEx, which is
// then called in preference to FindProxyForURL (as Windows does).
func (s *Script) HasEx() bool { return s.hasEx }

func (s *Script) newVM(ctx context.Context) (*vm, error) {
	rt := goja.New()
	rt.SetMaxCallStackSize(maxCallStack)
	rt.SetTimeSource(s.opts.Now)
	v := &vm{s: s, rt: rt, ctx: ctx, reCache: make(map[string]*goja.Object)}
	v.regexpCtor = rt.Get("RegExp")
	test, ok := goja.AssertFunction(rt.Get("RegExp").ToObject(rt).Get("prototype").ToObject(rt).Get("test"))
	if !ok {
		return nil, errors.New("pac: RegExp.prototype.test missing")
	}
	v.regexpTest = test
	v.install()
	_, err := v.guard(ctx, func() (goja.Value, error) { return rt.RunProgram(s.prog) })
	if err != nil {
		return nil, err
	}
	fn, ok := goja.AssertFunction(rt.Get("FindProxyForURLEx"))
	v.isEx = ok
	if !ok {
		if fn, ok = goja.AssertFunction(rt.Get("FindProxyForURL")); !ok {
			return nil, fmt.Errorf("%w: FindProxyForURL is not defined", ErrScript)
		}
	}
	v.fn = fn
	return v, nil
}

func (s *Script) get(ctx context.Context) (*vm, error) {
	select {
	case v := <-s.idle:
		return v, nil
	default:
		return s.newVM(ctx)
	}
}

func (s *Script) put(v *vm) {
	if v.abandoned {
		return
	}
	v.ctx = nil
	select {
	case s.idle <- v:
	default:
	}
}

type interruptReason struct{ err error }

// guard runs f on v's runtime with the time, memory and context limits,
// and translates interruptions and exceptions into errors.
//
// f runs on its own goroutine, holding one of the Script's MaxConcurrent
// slots until it really ends. guard returns when f does, or at the
// deadline (or when ctx ends) plus a short grace for the interrupt to
// land: if f has not stopped by then (goja's interrupt doesn't reach a
// backtracking regexp match in progress), the runtime is marked
// abandoned, never to be pooled again, and guard returns the error while
// the goroutine finishes on its own. When guard returns without
// abandoning, no interrupt can still be pending on the runtime.
func (v *vm) guard(ctx context.Context, f func() (goja.Value, error)) (goja.Value, error) {
	ctx, cancel := context.WithTimeout(ctx, v.s.opts.Timeout)
	defer cancel()
	select {
	case v.s.slots <- struct{}{}:
	case <-ctx.Done():
		return nil, fmt.Errorf("%w (%d at once): %w", ErrBusy, cap(v.s.slots), limitErr(ctx))
	}
	v.ctx = ctx
	var mu sync.Mutex
	finished := false
	interrupt := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if !finished {
			v.rt.Interrupt(interruptReason{err})
		}
	}
	stopCtx := context.AfterFunc(ctx, func() { interrupt(limitErr(ctx)) })
	done := make(chan struct{})
	var memTimer *time.Timer
	if limit := v.s.opts.MaxHeapGrowth; limit > 0 {
		memTimer = time.AfterFunc(memCheckDelay, func() { watchHeap(limit, done, &v.inLookup, interrupt) })
	}
	type result struct {
		val goja.Value
		err error
	}
	ended := make(chan result, 1)
	go func() {
		var res goja.Value
		var err error
		func() {
			// A panic here would end the process, not just this call
			// as it did on the caller's goroutine.
			defer func() {
				if p := recover(); p != nil {
					err = fmt.Errorf("%w: panic: %v", ErrScript, p)
				}
			}()
			res, err = f()
		}()
		mu.Lock()
		finished = true
		mu.Unlock()
		close(done)
		stopCtx()
		if memTimer != nil {
			memTimer.Stop()
		}
		v.rt.ClearInterrupt()
		<-v.s.slots
		ended <- result{res, err}
	}()
	var r result
	select {
	case r = <-ended:
	case <-ctx.Done():
		grace := time.NewTimer(abandonGrace)
		select {
		case r = <-ended:
			grace.Stop()
		case <-grace.C:
			v.abandoned = true
			return nil, limitErr(ctx)
		}
	}
	if r.err == nil {
		return r.val, nil
	}
	var ie *goja.InterruptedError
	if errors.As(r.err, &ie) {
		if reason, ok := ie.Value().(interruptReason); ok {
			return nil, reason.err
		}
		return nil, ErrTimeout
	}
	var so *goja.StackOverflowError
	if errors.As(r.err, &so) {
		return nil, fmt.Errorf("%w: stack overflow", ErrScript)
	}
	return nil, fmt.Errorf("%w: %v", ErrScript, r.err)
}

// limitErr is the error of an ended evaluation context: ErrTimeout for its
// deadline, else the context's own error.
func limitErr(ctx context.Context) error {
	if errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return ErrTimeout
	}
	return ctx.Err()
}

var heapSample = []metrics.Sample{{Name: "/memory/classes/heap/objects:bytes"}}
var heapMu sync.Mutex

func heapBytes() int64 {
	heapMu.Lock()
	defer heapMu.Unlock()
	metrics.Read(heapSample)
	if heapSample[0].Value.Kind() != metrics.KindUint64 {
		return 0
	}
	return int64(heapSample[0].Value.Uint64())
}

// watchHeap samples the heap until done and interrupts when it has grown
// by more than limit since the first sample. While the script waits for a
// lookup (paused is set) the baseline follows the heap: other goroutines'
// allocations during a slow DNS answer are not the script's.
func watchHeap(limit int64, done <-chan struct{}, paused *atomic.Bool, interrupt func(error)) {
	base := heapBytes()
	t := time.NewTicker(memCheckEvery)
	defer t.Stop()
	for {
		select {
		case <-done:
			return
		case <-t.C:
			if paused.Load() {
				base = heapBytes()
				continue
			}
			if heapBytes()-base > limit {
				interrupt(ErrMemory)
				return
			}
		}
	}
}

// FindProxyForURL evaluates the script for rawURL and returns its result
// string, such as "PROXY p.corp:8080; DIRECT" (see ParseResult). host is
// the URL's host name as the script should see it; when empty it is taken
// from rawURL (IPv6 without brackets). Both are lower-cased, the host
// argument and the host part of the URL, as browsers canonicalise them
// (Chromium passes GURL's lower-case host), so a script's case-sensitive
// comparisons route UPPER.Corp.Example as a browser does. If the script defines
// FindProxyForURLEx, that is called instead. An error means the script
// threw, ran too long, used too much memory, returned a non-string or an
// over-long string, or ctx ended; the Script stays usable.
func (s *Script) FindProxyForURL(ctx context.Context, rawURL, host string) (string, error) {
	u := s.prepareURL(rawURL)
	if host == "" {
		host = hostOf(rawURL)
	}
	host = strings.ToLower(host)
	v, err := s.get(ctx)
	if err != nil {
		return "", err
	}
	res, err := v.guard(ctx, func() (goja.Value, error) {
		return v.fn(goja.Undefined(), v.rt.ToValue(u), v.rt.ToValue(host))
	})
	if err != nil {
		// The runtime may hold whatever the failed call built (or be in
		// an odd state after an interrupt): don't reuse it.
		return "", err
	}
	defer s.put(v)
	str, ok := res.Export().(string)
	if !ok {
		return "", fmt.Errorf("%w: result is %s, not a string", ErrScript, describe(res))
	}
	if len(str) > s.opts.MaxResultLen {
		return "", fmt.Errorf("%w: result is %d bytes long (limit %d)", ErrScript, len(str), s.opts.MaxResultLen)
	}
	return str, nil
}

// FindProxyForURLEx is FindProxyForURL; it exists for symmetry with the
// Microsoft entry point, which FindProxyForURL already prefers.
func (s *Script) FindProxyForURLEx(ctx context.Context, rawURL, host string) (string, error) {
	return s.FindProxyForURL(ctx, rawURL, host)
}

// Proxies evaluates the script and parses the result with ParseResult.
func (s *Script) Proxies(ctx context.Context, rawURL, host string) ([]Proxy, error) {
	r, err := s.FindProxyForURL(ctx, rawURL, host)
	if err != nil {
		return nil, err
	}
	return ParseResult(r), nil
}

func describe(v goja.Value) string {
	if v == nil || goja.IsUndefined(v) {
		return "undefined"
	}
	if goja.IsNull(v) {
		return "null"
	}
	return fmt.Sprintf("%T", v.Export())
}

// prepareURL lower-cases the host and removes user info and fragment from
// every URL, and path and query from https and wss URLs unless
// KeepHTTPSURL is set. A URL that doesn't parse is passed as is.
func (s *Script) prepareURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return raw
	}
	u.Host = strings.ToLower(u.Host)
	u.User = nil
	u.Fragment, u.RawFragment = "", ""
	scheme := strings.ToLower(u.Scheme)
	if !s.opts.KeepHTTPSURL && (scheme == "https" || scheme == "wss") {
		u.Path, u.RawPath, u.RawQuery, u.ForceQuery = "/", "", "", false
		if u.Port() == "443" {
			u.Host = strings.TrimSuffix(u.Host, ":443")
		}
	}
	return u.String()
}

func hostOf(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return ""
	}
	return strings.ToLower(u.Hostname())
}
