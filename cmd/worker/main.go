// Command scouter-worker runs the Temporal worker that executes Scouter's
// workflows and activities, plus operator subcommands:
//
//	scouter-worker                    run the worker until SIGINT/SIGTERM
//	scouter-worker config             print the effective configuration
//	scouter-worker check [-timeout d] run the HealthCheck workflow through a worker
//	scouter-worker replay PATH...     replay exported workflow histories
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/scoutergo/server/internal/app"
	"github.com/scoutergo/server/internal/config"
	"github.com/scoutergo/server/internal/logging"
	"github.com/scoutergo/server/internal/temporalclient"
	"github.com/scoutergo/server/internal/worker"
)

const usage = `usage: scouter-worker [command]

commands:
  (none), run          run the worker until SIGINT or SIGTERM
  config               print the effective configuration (secrets masked)
  check [-timeout 30s] start the HealthCheck workflow on TEMPORAL_TASK_QUEUE and
                       wait for a worker to finish it; exit 1 on failure
  replay PATH...       replay workflow histories exported with
                       'temporal workflow show -w <id> -o json' (a directory
                       means its *.json files); exit 1 on non-determinism
`

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.LookupEnv, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

// run executes one command and returns the process exit code: 0 success,
// 1 failure, 2 usage or configuration error.
func run(ctx context.Context, args []string, lookup config.Lookup, stdout, stderr io.Writer) int {
	cmd := "run"
	if len(args) > 0 {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "-h", "-help", "--help", "help":
		fmt.Fprint(stdout, usage)
		return 0
	case "replay":
		// Replay needs no configuration: it must work in CI and on a
		// laptop without the deployment's environment.
		logger := logging.New(stderr, logging.Options{Level: slog.LevelInfo})
		return replay(logger, args, stdout, stderr)
	case "run", "config", "check":
	default:
		fmt.Fprintf(stderr, "scouter-worker: unknown command %q\n\n%s", cmd, usage)
		return 2
	}

	cfg, err := config.Load(lookup)
	if err != nil {
		fmt.Fprintf(stderr, "scouter-worker: invalid configuration:\n%v\n", err)
		return 2
	}
	logger := logging.New(stderr, logging.Options{Level: cfg.Log.Level, JSON: cfg.Log.JSON})

	switch cmd {
	case "config":
		if len(args) > 0 {
			fmt.Fprintf(stderr, "scouter-worker: config takes no arguments\n")
			return 2
		}
		fmt.Fprint(stdout, cfg.Format())
		return 0
	case "check":
		return check(ctx, cfg, logger, args, stdout, stderr)
	}

	if len(args) > 0 {
		fmt.Fprintf(stderr, "scouter-worker: unexpected arguments %q\n\n%s", args, usage)
		return 2
	}
	logger.Debug("effective configuration", "config", cfg)
	if err := app.RunWorker(ctx, cfg, logger); err != nil {
		if errors.Is(err, context.Canceled) && ctx.Err() != nil {
			logger.Info("interrupted before the worker started")
			return 0
		}
		logger.Error("worker failed", "err", err)
		return 1
	}
	return 0
}

func check(ctx context.Context, cfg *config.Config, logger *slog.Logger, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("check", flag.ContinueOnError)
	fs.SetOutput(stderr)
	timeout := fs.Duration("timeout", worker.DefaultCheckTimeout, "give up after this long")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if fs.NArg() > 0 || *timeout <= 0 {
		fmt.Fprintf(stderr, "scouter-worker: usage: check [-timeout 30s]\n")
		return 2
	}
	ctx, cancel := context.WithTimeout(ctx, *timeout)
	defer cancel()
	start := time.Now()
	c, err := temporalclient.Dial(ctx, cfg.Temporal, logger, temporalclient.Options{})
	if err != nil {
		fmt.Fprintf(stderr, "check failed: %v\n", err)
		return 1
	}
	defer c.Close()
	id := worker.NewCheckID(start)
	res, err := worker.Check(ctx, c, cfg.Temporal.TaskQueue, id, time.Until(start.Add(*timeout)))
	if res != nil {
		for _, p := range res.Probes {
			status := "ok"
			if !p.OK {
				status = "FAIL " + p.Error
			}
			fmt.Fprintf(stdout, "probe %s: %s (%d ms)\n", p.Name, status, p.DurationMS)
		}
	}
	if err != nil {
		fmt.Fprintf(stderr, "check failed: %v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "ok: worker %s ran %s on task queue %s in %d ms\n",
		res.Worker, id, cfg.Temporal.TaskQueue, time.Since(start).Milliseconds())
	return 0
}

func replay(logger *slog.Logger, args []string, stdout, stderr io.Writer) int {
	files, err := worker.HistoryFiles(args...)
	if err != nil {
		fmt.Fprintf(stderr, "scouter-worker: replay: %v\n\nusage: scouter-worker replay PATH...\n", err)
		return 2
	}
	if err := worker.Replay(logger, files...); err != nil {
		fmt.Fprintf(stderr, "replay failed:\n%v\n", err)
		return 1
	}
	fmt.Fprintf(stdout, "ok: %d histories replayed\n", len(files))
	return 0
}
