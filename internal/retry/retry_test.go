package retry

import (
	"context"
	"errors"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestBackoff(t *testing.T) {
	tests := []struct {
		attempt int
		want    time.Duration
	}{
		{0, 100 * time.Millisecond},
		{1, 100 * time.Millisecond},
		{2, 200 * time.Millisecond},
		{3, 400 * time.Millisecond},
		{5, time.Second},
		{1000, time.Second},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, Backoff(100*time.Millisecond, time.Second, tt.attempt), "attempt %d", tt.attempt)
	}
}

func TestSleep(t *testing.T) {
	assert.True(t, Sleep(context.Background(), time.Millisecond))
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	start := time.Now()
	assert.False(t, Sleep(ctx, time.Hour))
	assert.Less(t, time.Since(start), time.Second)
}

func TestGraceContext(t *testing.T) {
	parent, cancelParent := context.WithCancel(context.Background())
	g, release := GraceContext(parent, 50*time.Millisecond)
	defer release()
	cancelParent()
	select {
	case <-g.Done():
		t.Fatal("grace context ended with its parent, want it to outlive it")
	case <-time.After(10 * time.Millisecond):
	}
	select {
	case <-g.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("grace context did not end after the grace period")
	}

	g2, release2 := GraceContext(context.Background(), time.Hour)
	release2()
	assert.Error(t, g2.Err(), "release ends the context")
}

func TestRedactURLError(t *testing.T) {
	_, err := url.Parse("amqp://u:secret@host:bad/") //lint:ignore SA1007 the URL is invalid on purpose
	assert.NotContains(t, RedactURLError(err), "secret")
	assert.Equal(t, "plain", RedactURLError(errors.New("plain")))
}
