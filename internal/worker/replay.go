package worker

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sort"

	"go.temporal.io/sdk/log"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/scoutergo/server/workflows"
)

// HistoryFiles expands the arguments of `scouter-worker replay`: files are
// kept as given, directories contribute their *.json files in name order.
func HistoryFiles(paths ...string) ([]string, error) {
	var out []string
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("history %s: %w", p, err)
		}
		if !st.IsDir() {
			out = append(out, p)
			continue
		}
		matches, err := filepath.Glob(filepath.Join(p, "*.json"))
		if err != nil {
			return nil, fmt.Errorf("list histories in %s: %w", p, err)
		}
		if len(matches) == 0 {
			return nil, fmt.Errorf("history directory %s has no *.json files", p)
		}
		sort.Strings(matches)
		out = append(out, matches...)
	}
	if len(out) == 0 {
		return nil, errors.New("no history files given")
	}
	return out, nil
}

// Replay replays each history (JSON as written by `temporal workflow show
// --output json`) against the workflows this build registers. The error
// names every file that failed, for example on non-determinism.
func Replay(logger *slog.Logger, files ...string) error {
	if len(files) == 0 {
		return errors.New("no history files given")
	}
	r := sdkworker.NewWorkflowReplayer()
	workflows.RegisterWorkflows(r)
	sdkLogger := log.NewStructuredLogger(logger.With(slog.String("component", "replay")))
	var errs []error
	for _, f := range files {
		if err := r.ReplayWorkflowHistoryFromJSONFile(sdkLogger, f); err != nil {
			errs = append(errs, fmt.Errorf("replay %s: %w", f, err))
			continue
		}
		logger.Info("history replayed", "file", f)
	}
	return errors.Join(errs...)
}
