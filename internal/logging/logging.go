// Package logging builds the process logger from the configuration.
package logging

import (
	"io"
	"log/slog"
)

// Options selects the handler and level.
type Options struct {
	Level slog.Level
	JSON  bool
}

// New returns a logger writing to w: JSON lines in production setups,
// human-readable text otherwise.
func New(w io.Writer, opts Options) *slog.Logger {
	ho := &slog.HandlerOptions{Level: opts.Level}
	if opts.JSON {
		return slog.New(slog.NewJSONHandler(w, ho))
	}
	return slog.New(slog.NewTextHandler(w, ho))
}

// Discard is a logger that drops everything, for tests.
func Discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
