package schedule

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
)

func TestRunTimeoutFor(t *testing.T) {
	tests := []struct {
		retries int
		want    time.Duration
	}{
		{-1, DefaultRunTimeout},
		{0, DefaultRunTimeout},
		{3, DefaultRunTimeout},
		{5, 66 * time.Minute},
		{10, 121 * time.Minute},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, RunTimeoutFor(tt.retries), "MAX_RETRIES=%d", tt.retries)
	}
}
