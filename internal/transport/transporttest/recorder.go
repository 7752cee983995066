// Package transporttest holds what the broker consumers' tests share: a
// handler that records the messages it is given, and test payloads.
package transporttest

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// Recorder is a consumer Handler that counts its calls per payload. Set
// Fail, Hold and Delay before the consumer starts.
type Recorder struct {
	// Fail, when set, decides the outcome of each call: call is how many
	// times the payload has been handled, this call included.
	Fail func(payload string, call int) error
	// Hold, when set, runs at the start of each call, outside the lock: a
	// test can block calls with it until something has happened.
	Hold func()
	// Delay is slept at the start of each call.
	Delay time.Duration

	mu      sync.Mutex
	calls   map[string]int
	sources map[string]bool
	changed chan struct{} // signalled after each call

	active, maxActive atomic.Int32
}

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder {
	return &Recorder{calls: map[string]int{}, sources: map[string]bool{}, changed: make(chan struct{}, 1)}
}

// Handle records one call.
func (r *Recorder) Handle(_ context.Context, source string, payload []byte) error {
	n := r.active.Add(1)
	defer r.active.Add(-1)
	for {
		m := r.maxActive.Load()
		if n <= m || r.maxActive.CompareAndSwap(m, n) {
			break
		}
	}
	if r.Hold != nil {
		r.Hold()
	}
	if r.Delay > 0 {
		time.Sleep(r.Delay)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	p := string(payload)
	r.calls[p]++
	r.sources[source] = true
	select {
	case r.changed <- struct{}{}:
	default:
	}
	if r.Fail != nil {
		return r.Fail(p, r.calls[p])
	}
	return nil
}

// Calls copies the call counts per payload.
func (r *Recorder) Calls() map[string]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.calls)
}

// Sources copies the set of sources the calls named.
func (r *Recorder) Sources() map[string]bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return maps.Clone(r.sources)
}

// MaxActive is the largest number of calls that ran at once.
func (r *Recorder) MaxActive() int32 { return r.maxActive.Load() }

// WaitFor waits until cond holds for the call counts, failing the test
// after timeout.
func (r *Recorder) WaitFor(t testing.TB, timeout time.Duration, what string, cond func(calls map[string]int) bool) {
	t.Helper()
	deadline := time.After(timeout)
	for {
		if cond(r.Calls()) {
			return
		}
		select {
		case <-r.changed:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
	}
}

// Handled reports whether every payload of want was handled at least n
// times.
func Handled(want []string, n int) func(calls map[string]int) bool {
	return func(calls map[string]int) bool {
		for _, p := range want {
			if calls[p] < n {
				return false
			}
		}
		return true
	}
}

// Payloads returns n distinct MessageRecord payloads (empty record lists).
func Payloads(prefix string, n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = fmt.Sprintf(`{"records":[],"test":"%s-%d"}`, prefix, i)
	}
	return out
}
