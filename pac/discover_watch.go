package pac

import (
	"context"
	"reflect"
	"slices"
	"time"
)

// DefaultRediscover is Watch's default re-discovery interval.
const DefaultRediscover = 5 * time.Minute

// Watch runs Discover now, then again every interval (DefaultRediscover
// when interval <= 0) and whenever the set of local addresses changes
// (opts.InterfaceAddrs, polled every opts.AddrPoll): a new address is the
// usual sign of a new network (docking, Wi-Fi, VPN up or down), whose
// proxy may differ. The first result is always sent; later ones only when
// they differ from the last one sent. The channel is closed when ctx is
// done. Polling rather than netlink or routing sockets keeps it portable
// and unprivileged, at the cost of a few seconds' delay.
func Watch(ctx context.Context, opts DiscoverOptions, interval time.Duration) <-chan []Setting {
	if interval <= 0 {
		interval = DefaultRediscover
	}
	d := newDiscoverer(opts)
	ch := make(chan []Setting)
	go func() {
		defer close(ch)
		var last []Setting
		sent := false
		addrs := d.addrKey()
		poll := time.NewTicker(d.AddrPoll)
		defer poll.Stop()
		timer := time.NewTimer(0) // discover at once
		defer timer.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-poll.C:
				if a := d.addrKey(); !slices.Equal(a, addrs) {
					addrs = a
					d.Trace("watch: local addresses changed")
					timer.Reset(0)
				}
				continue
			case <-timer.C:
			}
			settings, err := d.discover(ctx)
			timer.Reset(interval)
			if err != nil {
				// Only the context fails discovery: we are done.
				return
			}
			if sent && reflect.DeepEqual(settings, last) {
				continue
			}
			select {
			case ch <- settings:
				last, sent = settings, true
			case <-ctx.Done():
				return
			}
		}
	}()
	return ch
}

// addrKey returns the local addresses, sorted, for comparison. An error
// gives nil, which compares as a change once addresses return.
func (d *discoverer) addrKey() []string {
	as, err := d.InterfaceAddrs()
	if err != nil {
		return nil
	}
	key := make([]string, len(as))
	for i, a := range as {
		key[i] = a.String()
	}
	slices.Sort(key)
	return key
}
