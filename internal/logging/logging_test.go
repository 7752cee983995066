package logging

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestNew(t *testing.T) {
	tests := []struct {
		name     string
		opts     Options
		wantJSON bool
		wantInfo bool
	}{
		{"text info", Options{Level: slog.LevelInfo}, false, true},
		{"json info", Options{Level: slog.LevelInfo, JSON: true}, true, true},
		{"warn drops info", Options{Level: slog.LevelWarn}, false, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			New(&buf, tt.opts).Info("server started", "port", 8000)
			out := buf.String()
			if !tt.wantInfo {
				assert.Empty(t, out)
				return
			}
			if tt.wantJSON {
				var m map[string]any
				require.NoError(t, json.Unmarshal([]byte(out), &m))
				assert.Equal(t, "server started", m["msg"])
				assert.EqualValues(t, 8000, m["port"])
			} else {
				assert.True(t, strings.Contains(out, `msg="server started"`), "got %q", out)
			}
		})
	}
}
