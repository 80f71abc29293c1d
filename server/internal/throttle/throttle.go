// Package throttle slows down guessing of a secret (the admin token) per
// client address, without ever refusing the right secret.
//
// Callers check the secret first and consult a Limiter only for a wrong
// one: within Max wrong secrets in Window an address is answered at once,
// beyond that the further wrong ones are answered one per Delay, however
// many arrive together (a pause each would not slow down guesses sent in
// parallel, and answering a wrong one sooner would tell it is wrong). Refusing
// an address outright would let anyone who shares it lock out the one who
// knows the secret, and every local process shares 127.0.0.1. For the same
// reason the right secret does not clear the count: it would give whoever
// shares the address a fresh budget each time the rightful user comes by.
package throttle

import (
	"context"
	"net"
	"net/netip"
	"sync"
	"time"
)

// Defaults of the admin token's throttles.
const (
	DefaultMax        = 10
	DefaultWindow     = time.Minute
	DefaultDelay      = 2 * time.Second
	DefaultMaxRecords = 1024
)

// overflow is the record shared by the addresses that found the table full.
// (Emptying a full table instead would let anyone with enough addresses, say
// an IPv6 prefix, wipe every count and guess on.)
const overflow = "*"

// Limiter counts wrong secrets per address. It is safe for concurrent use.
type Limiter struct {
	Max        int              // wrong secrets per Window answered at once
	Window     time.Duration    // counting starts at an address's first failure
	Delay      time.Duration    // wrong secrets beyond Max are answered one per Delay
	MaxRecords int              // bound of the table of addresses
	Now        func() time.Time // the wall clock

	mu       sync.Mutex
	failures map[string]*failure
}

type failure struct {
	since time.Time
	count int
	free  time.Time // when the last pause handed out ends
}

// New returns a Limiter with the defaults.
func New() *Limiter {
	return &Limiter{Max: DefaultMax, Window: DefaultWindow, Delay: DefaultDelay, MaxRecords: DefaultMaxRecords, Now: time.Now}
}

// Fail counts a wrong secret from addr and returns how long to wait before
// answering it: 0 within the budget, else until Delay after the end of the
// pause handed out last (Delay when none is running).
func (l *Limiter) Fail(addr string) time.Duration {
	now := l.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.failures == nil {
		l.failures = map[string]*failure{}
	}
	key := l.bucketLocked(addr, now)
	f := l.failures[key]
	if f == nil || now.Sub(f.since) >= l.Window {
		f = &failure{since: now, free: now}
		l.failures[key] = f
	}
	f.count++
	if f.count <= l.Max {
		return 0
	}
	f.free = later(f.free, now).Add(l.Delay)
	return f.free.Sub(now)
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// Key is the address a request's failures are counted under, from its
// http.Request.RemoteAddr (the connection's, never X-Forwarded-For): an
// IPv4 address (also when mapped into IPv6), or the /64 prefix of an IPv6
// address, since one host commonly holds a whole /64 and could otherwise
// take a fresh budget with each of its addresses.
func Key(remoteAddr string) string {
	host, _, err := net.SplitHostPort(remoteAddr)
	if err != nil {
		host = remoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return remoteAddr
	}
	if a = a.Unmap(); a.Is6() {
		p, _ := a.WithZone("").Prefix(64)
		return p.String()
	}
	return a.String()
}

// Records is the number of addresses in the table.
func (l *Limiter) Records() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.failures)
}

// bucketLocked returns the key under which addr's failures are counted: its
// own record, or the shared overflow record when the table has no room for
// another address even after forgetting the expired ones.
func (l *Limiter) bucketLocked(addr string, now time.Time) string {
	if _, ok := l.failures[addr]; ok || len(l.failures) < l.MaxRecords-1 {
		return addr
	}
	for a, g := range l.failures {
		if now.Sub(g.since) >= l.Window {
			delete(l.failures, a)
		}
	}
	if len(l.failures) < l.MaxRecords-1 {
		return addr
	}
	return overflow
}

// Wait pauses for d, or until ctx ends; it reports whether the pause was
// complete (and the answer should still be written).
func Wait(ctx context.Context, d time.Duration) bool {
	if d <= 0 {
		return true
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}
