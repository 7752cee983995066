package auth

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newTestLimiter(clock *fakeClock, maxKeys int) *Limiter {
	return NewLimiter(LimiterOptions{Now: clock.Now, MaxKeys: maxKeys})
}

func failN(l *Limiter, key string, n int) {
	for range n {
		l.Fail(key)
	}
}

func TestLimiterDefaults(t *testing.T) {
	l := NewLimiter(LimiterOptions{})
	assert.Equal(t, DefaultMaxFailures, l.opts.MaxFailures)
	assert.Equal(t, 5*time.Minute, l.opts.Window)
	assert.Equal(t, 5*time.Minute, l.opts.BlockFor)
	assert.Equal(t, 100_000, l.opts.MaxKeys)
	ok, _ := l.Allow("k")
	assert.True(t, ok)
}

func TestLimiterBlocksAfterTenFailures(t *testing.T) {
	clock := newFakeClock(testEpoch)
	l := newTestLimiter(clock, 0)

	failN(l, "alice", 9)
	ok, wait := l.Allow("alice")
	require.True(t, ok, "9 failures: got blocked, want allowed")
	assert.Zero(t, wait)

	l.Fail("alice")
	ok, wait = l.Allow("alice")
	require.False(t, ok, "10 failures: got allowed, want blocked")
	assert.Equal(t, 5*time.Minute, wait)

	ok, _ = l.Allow("bob")
	assert.True(t, ok, "other keys are unaffected")

	clock.Advance(4 * time.Minute)
	ok, wait = l.Allow("alice")
	assert.False(t, ok)
	assert.Equal(t, time.Minute, wait)

	l.Fail("alice") // failures while blocked do not extend the block
	clock.Advance(time.Minute)
	ok, wait = l.Allow("alice")
	assert.True(t, ok, "block over: got blocked, want allowed")
	assert.Zero(t, wait)

	// The count starts afresh after a block.
	l.Fail("alice")
	ok, _ = l.Allow("alice")
	assert.True(t, ok)
}

func TestLimiterSlidingWindow(t *testing.T) {
	clock := newFakeClock(testEpoch)
	l := newTestLimiter(clock, 0)

	failN(l, "k", 5)
	clock.Advance(3 * time.Minute)
	failN(l, "k", 4)
	ok, _ := l.Allow("k")
	require.True(t, ok)

	clock.Advance(2 * time.Minute) // the first 5 failures leave the window
	l.Fail("k")
	ok, _ = l.Allow("k")
	assert.True(t, ok, "only 5 failures within the last 5 minutes")

	failN(l, "k", 4) // 4 + 1 + 4 = 9 within the window
	ok, _ = l.Allow("k")
	assert.True(t, ok)
	l.Fail("k")
	ok, wait := l.Allow("k")
	assert.False(t, ok, "10 failures within 5 minutes across the window boundary")
	assert.Equal(t, 5*time.Minute, wait)
}

func TestLimiterReset(t *testing.T) {
	clock := newFakeClock(testEpoch)
	l := newTestLimiter(clock, 0)
	failN(l, "k", 10)
	ok, _ := l.Allow("k")
	require.False(t, ok)
	l.Reset("k")
	ok, _ = l.Allow("k")
	assert.True(t, ok)
	assert.Equal(t, 0, l.Len())

	failN(l, "k", 9)
	l.Reset("k") // success resets the count
	failN(l, "k", 9)
	ok, _ = l.Allow("k")
	assert.True(t, ok)

	l.Reset("unknown") // no-op
}

func TestLimiterCustomOptions(t *testing.T) {
	clock := newFakeClock(testEpoch)
	l := NewLimiter(LimiterOptions{MaxFailures: 2, Window: time.Second, BlockFor: time.Hour, Now: clock.Now})
	l.Fail("k")
	clock.Advance(time.Second)
	l.Fail("k")
	ok, _ := l.Allow("k")
	assert.True(t, ok, "first failure left the 1 s window")
	l.Fail("k")
	ok, wait := l.Allow("k")
	assert.False(t, ok)
	assert.Equal(t, time.Hour, wait)
}

func TestLimiterExpiresIdleEntries(t *testing.T) {
	clock := newFakeClock(testEpoch)
	l := newTestLimiter(clock, 0)
	for i := range 1000 {
		l.Fail(fmt.Sprintf("k%d", i))
	}
	failN(l, "blocked", 10)
	require.Equal(t, 1001, l.Len())

	clock.Advance(5*time.Minute - time.Second)
	l.Allow("x")
	assert.Equal(t, 1001, l.Len(), "entries still inside the window are kept")

	clock.Advance(time.Second)
	l.Allow("x")
	assert.Equal(t, 0, l.Len(), "entries that can no longer block are dropped")
}

func TestLimiterCapsKeys(t *testing.T) {
	clock := newFakeClock(testEpoch)
	l := newTestLimiter(clock, 3)
	failN(l, "a", 10)
	clock.Advance(time.Second)
	l.Fail("b")
	clock.Advance(time.Second)
	l.Fail("c")
	clock.Advance(time.Second)
	l.Fail("a") // a becomes the most recent
	clock.Advance(time.Second)
	l.Fail("d") // evicts b, the least recently failed
	assert.Equal(t, 3, l.Len())

	ok, _ := l.Allow("a")
	assert.False(t, ok, "recently failed blocked key survives eviction")
	for range 20 {
		l.Fail(fmt.Sprintf("spray-%d", clock.Now().UnixNano()))
		clock.Advance(time.Nanosecond)
	}
	assert.Equal(t, 3, l.Len(), "map never grows beyond MaxKeys")
}

func TestLimiterConcurrent(t *testing.T) {
	tests := []struct {
		name    string
		maxKeys int
	}{
		{"roomy", 1000}, // 701 keys in play: nothing evicted, "shared" must end blocked
		{"tight", 50},   // constant eviction under contention
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clock := newFakeClock(testEpoch)
			l := newTestLimiter(clock, tt.maxKeys)
			var wg sync.WaitGroup
			for g := range 10 {
				wg.Go(func() {
					l.Fail("shared") // exactly 10 failures in total
					for i := range 200 {
						key := fmt.Sprintf("g%d-%d", g, i%70)
						l.Fail(key)
						l.Allow(key)
						if i%7 == 0 {
							l.Reset(key)
						}
						clock.Advance(time.Millisecond)
					}
				})
			}
			wg.Wait()
			assert.LessOrEqual(t, l.Len(), tt.maxKeys)
			if tt.maxKeys >= 1000 {
				ok, _ := l.Allow("shared")
				assert.False(t, ok, "10 concurrent failures must block the key")
			}
		})
	}
}
