// Package worker runs the Temporal worker: it connects to Temporal, hosts
// the workflows and activities of package workflows on the configured task
// queue, and stops gracefully when its context ends. It also holds the
// operator commands built on the same registration: Check and Replay.
package worker

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"go.temporal.io/sdk/client"
	sdkworker "go.temporal.io/sdk/worker"

	"github.com/scoutergo/server/internal/config"
	"github.com/scoutergo/server/internal/temporalclient"
	"github.com/scoutergo/server/workflows"
)

// Deps are the worker's dependencies. The zero value runs the worker with
// only the health-check probe; the composition root fills in more as the
// activities that need them arrive (the database pool goes here).
type Deps struct {
	// Client, when set, is used instead of dialling Temporal; Run does not
	// close it.
	Client client.Client
	// MetricsHandler receives the SDK's metrics when Run dials the client.
	MetricsHandler client.MetricsHandler
	// Probes are the dependency checks reported by the HealthCheck
	// workflow, for example {Name: "postgres", Check: pool.Ping}.
	Probes []workflows.Probe
	// Identity names the worker to Temporal and in health reports; empty
	// means pid@host.
	Identity string
	// Activities are the activity structs registered beside the health
	// check (each exported method becomes an activity).
	Activities []any
	// AfterStart runs once the worker polls (e.g. the start-up schedule
	// reconcile). Its error is logged, not fatal: the work it starts has its
	// own schedule to retry.
	AfterStart func(ctx context.Context, c client.Client) error
}

// Run connects to Temporal (retrying until ctx ends), starts a worker on
// cfg.Temporal.TaskQueue and blocks until ctx ends or the worker hits a
// fatal error. Shutdown stops polling, lets running activities finish for
// up to SHUTDOWN_TIMEOUT_SECONDS, then closes the client it dialled. A
// cancelled ctx after start-up is a clean stop and returns nil.
func Run(ctx context.Context, cfg *config.Config, logger *slog.Logger, deps Deps) error {
	identity := deps.Identity
	if identity == "" {
		identity = Identity()
	}
	c := deps.Client
	if c == nil {
		var err error
		c, err = temporalclient.Dial(ctx, cfg.Temporal, logger, temporalclient.Options{
			MetricsHandler: deps.MetricsHandler,
			Identity:       identity,
		})
		if err != nil {
			return fmt.Errorf("connect to temporal: %w", err)
		}
		defer c.Close()
	}

	fatal := make(chan error, 1)
	opts := Options(cfg)
	opts.OnFatalError = func(err error) {
		select {
		case fatal <- err:
		default:
		}
	}
	w := sdkworker.New(c, cfg.Temporal.TaskQueue, opts)
	acts := append([]any{&workflows.HealthActivities{Identity: identity, Probes: deps.Probes}}, deps.Activities...)
	workflows.Register(w, acts...)
	if err := w.Start(); err != nil {
		return fmt.Errorf("start worker on task queue %s: %w", cfg.Temporal.TaskQueue, err)
	}
	logger.Info("worker started", "address", cfg.Temporal.Address, "namespace", cfg.Temporal.Namespace,
		"task_queue", cfg.Temporal.TaskQueue, "max_concurrent_activities", opts.MaxConcurrentActivityExecutionSize)
	if deps.AfterStart != nil {
		if err := deps.AfterStart(ctx, c); err != nil {
			logger.Warn("after-start step failed; its schedule retries it", "err", err)
		}
	}

	var err error
	select {
	case <-ctx.Done():
	case err = <-fatal:
	}
	logger.Info("worker stopping", "task_queue", cfg.Temporal.TaskQueue)
	w.Stop()
	logger.Info("worker stopped", "task_queue", cfg.Temporal.TaskQueue)
	if err != nil {
		return fmt.Errorf("worker on task queue %s: %w", cfg.Temporal.TaskQueue, err)
	}
	return nil
}

// Options derives the SDK worker options from the configuration.
//
// MaxConcurrentActivityExecutionSize is POLLING_WORKER_COUNT. Upstream
// runs that many background drift pollers, each checking one profile at a
// time against the database; here every drift check is an activity, so
// capping concurrent activities at the same number keeps the database and
// CPU load operators already sized for. Workflow tasks are cheap and keep
// the SDK default.
//
// WorkerStopTimeout is SHUTDOWN_TIMEOUT_SECONDS: on stop, running
// activities get that long to finish before their contexts are cancelled.
func Options(cfg *config.Config) sdkworker.Options {
	return sdkworker.Options{
		MaxConcurrentActivityExecutionSize: cfg.Polling.WorkerCount,
		WorkerStopTimeout:                  cfg.Server.ShutdownTimeout,
	}
}

// Identity names this process to Temporal: pid@host, as the SDK default,
// computed once here so the client, worker and health report agree.
func Identity() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "unknown-host"
	}
	return fmt.Sprintf("%d@%s", os.Getpid(), host)
}
