package auth

import (
	"container/list"
	"sync"
	"time"
)

// Login rate-limit defaults: 10 failures within 5 minutes block the key for
// 5 minutes; at most 100 000 keys are tracked.
const (
	DefaultMaxFailures = 10
	DefaultFailWindow  = 5 * time.Minute
	DefaultBlockFor    = 5 * time.Minute
	DefaultMaxKeys     = 100_000
)

// LimiterOptions configures a Limiter. Zero fields take the defaults.
type LimiterOptions struct {
	MaxFailures int              // failures within Window that trigger a block
	Window      time.Duration    // sliding window over which failures count
	BlockFor    time.Duration    // how long a key stays blocked
	MaxKeys     int              // cap on tracked keys; the least recently failed is evicted
	Now         func() time.Time // clock; nil means time.Now
}

// Limiter counts failed logins per key (e.g. username or client address) in
// memory. It is safe for concurrent use. Memory is bounded: entries expire
// once they can no longer affect a decision, and beyond MaxKeys the entry with
// the oldest failure is dropped.
type Limiter struct {
	opts LimiterOptions

	mu      sync.Mutex
	entries map[string]*list.Element // value: *limiterEntry
	order   *list.List               // front = most recent failure
}

type limiterEntry struct {
	key          string
	failures     []time.Time // within the window, oldest first, at most MaxFailures
	last         time.Time   // most recent failure
	blockedUntil time.Time
}

// NewLimiter returns a Limiter with opts (zero fields take the defaults).
func NewLimiter(opts LimiterOptions) *Limiter {
	if opts.MaxFailures <= 0 {
		opts.MaxFailures = DefaultMaxFailures
	}
	if opts.Window <= 0 {
		opts.Window = DefaultFailWindow
	}
	if opts.BlockFor <= 0 {
		opts.BlockFor = DefaultBlockFor
	}
	if opts.MaxKeys <= 0 {
		opts.MaxKeys = DefaultMaxKeys
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	return &Limiter{opts: opts, entries: make(map[string]*list.Element), order: list.New()}
}

// Allow reports whether an attempt for key may proceed; when it may not,
// retryAfter is the remaining block time (always > 0).
func (l *Limiter) Allow(key string) (ok bool, retryAfter time.Duration) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.opts.Now()
	l.pruneLocked(now)
	el, found := l.entries[key]
	if !found {
		return true, 0
	}
	e := el.Value.(*limiterEntry)
	if wait := e.blockedUntil.Sub(now); wait > 0 {
		return false, wait
	}
	return true, 0
}

// Fail records a failed attempt for key. Reaching MaxFailures within Window
// blocks the key for BlockFor. Failures while blocked do not extend the block.
func (l *Limiter) Fail(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.opts.Now()
	l.pruneLocked(now)
	var e *limiterEntry
	if el, found := l.entries[key]; found {
		e = el.Value.(*limiterEntry)
		l.order.MoveToFront(el)
	} else {
		for len(l.entries) >= l.opts.MaxKeys {
			l.removeLocked(l.order.Back())
		}
		e = &limiterEntry{key: key}
		l.entries[key] = l.order.PushFront(e)
	}
	e.last = now
	if now.Before(e.blockedUntil) {
		return
	}
	// Drop failures that left the window, then record this one.
	cut := 0
	for cut < len(e.failures) && now.Sub(e.failures[cut]) >= l.opts.Window {
		cut++
	}
	e.failures = append(e.failures[cut:], now)
	if len(e.failures) >= l.opts.MaxFailures {
		e.blockedUntil = now.Add(l.opts.BlockFor)
		e.failures = e.failures[:0]
	}
}

// Reset forgets key (call it after a successful login).
func (l *Limiter) Reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if el, found := l.entries[key]; found {
		l.removeLocked(el)
	}
}

// Len returns the number of tracked keys.
func (l *Limiter) Len() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.entries)
}

// pruneLocked drops entries whose last failure is older than both the window
// and the block duration: they can no longer block anything. The list is
// ordered by last failure, so only the tail needs looking at.
func (l *Limiter) pruneLocked(now time.Time) {
	ttl := max(l.opts.Window, l.opts.BlockFor)
	for el := l.order.Back(); el != nil; el = l.order.Back() {
		e := el.Value.(*limiterEntry)
		if now.Sub(e.last) < ttl || now.Before(e.blockedUntil) {
			return
		}
		l.removeLocked(el)
	}
}

func (l *Limiter) removeLocked(el *list.Element) {
	e := l.order.Remove(el).(*limiterEntry)
	delete(l.entries, e.key)
}
