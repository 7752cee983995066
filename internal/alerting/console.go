package alerting

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
)

var _ Sender = (*ConsoleSender)(nil)

// ConsoleSender prints messages to a writer (stdout in the worker), not to
// the logger (drift.md §5.4).
type ConsoleSender struct {
	mu sync.Mutex
	w  io.Writer
}

// NewConsoleSender returns a sender printing to w.
func NewConsoleSender(w io.Writer) (*ConsoleSender, error) {
	if w == nil {
		return nil, errors.New("console sender: nil writer")
	}
	return &ConsoleSender{w: w}, nil
}

// ConsoleText is what Send prints for m: nothing for an empty description,
// otherwise "\nDrift detected for <space>/<name>/<version>! \n" and the
// description.
func ConsoleText(m Message) string {
	if m.Description == "" {
		return ""
	}
	return "\nDrift detected for " + m.Space + "/" + m.Name + "/" + m.Version + "! \n" + m.Description
}

// Send prints m in one write, so concurrent sends do not interleave.
func (s *ConsoleSender) Send(ctx context.Context, m Message) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	text := ConsoleText(m)
	if text == "" {
		return nil
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, err := io.WriteString(s.w, text); err != nil {
		return fmt.Errorf("print alert: %w", err)
	}
	return nil
}
