package driftread

import (
	"fmt"
	"time"

	"github.com/scoutergo/server/internal/profile"
)

// Span is one contiguous part of a read window with the bin width used for
// it. Bins are aligned to the Unix epoch: a record at t falls into the bin
// starting at epoch + floor((t - epoch) / bin) * bin.
type Span struct {
	// Start is the inclusive lower bound.
	Start time.Time
	// End is the exclusive upper bound; nil means unbounded (preset
	// intervals read everything stored since now - interval).
	End *time.Time
	// BinMicros is the bin width in microseconds (>= 1).
	BinMicros int64
}

// BinWidth is the bin width as a duration.
func (s Span) BinWidth() time.Duration { return time.Duration(s.BinMicros) * time.Microsecond }

// binMicros returns the bin width for a window of length d split into
// maxPoints bins: as upstream, the window's whole minutes divided by
// maxPoints (fractional minutes allowed), rounded to Postgres' microsecond
// resolution. A window shorter than one minute (upstream divides zero and
// fails) uses its exact length instead. The result is at least 1µs.
func binMicros(d time.Duration, maxPoints int32) int64 {
	if maxPoints <= 0 {
		maxPoints = 1
	}
	us := int64(d / time.Minute * 60_000_000) // whole minutes, in µs
	if us <= 0 {
		us = int64(d / time.Microsecond)
	}
	n := int64(maxPoints)
	w := (us + n/2) / n
	if w < 1 {
		w = 1
	}
	return w
}

// planWindow turns a validated DriftRequest into the spans to read: a custom
// range [start, end) when both bounds are set, otherwise [now - interval, ∞).
//
// Every span is read from Postgres today. When the archive reader lands,
// planWindow is where a custom range is split at now - DATA_RETENTION_PERIOD
// (storage.md §2.4): the part before the cut-off becomes an archive span and
// the rest stays in Postgres, and the readers below already merge the rows of
// several spans.
func planWindow(req profile.DriftRequest, now time.Time) ([]Span, error) {
	if err := req.Validate(); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	start, end, err := req.Window(now)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrInvalid, err)
	}
	bin := binMicros(end.Sub(start), req.MaxDataPoints)
	if req.StartCustomDatetime != nil && req.EndCustomDatetime != nil {
		return []Span{{Start: start, End: &end, BinMicros: bin}}, nil
	}
	return []Span{{Start: start, BinMicros: bin}}, nil
}
