package app

import (
	"context"
	"fmt"
	"log/slog"
	"os"

	"go.temporal.io/sdk/client"

	"github.com/scoutergo/server/activities"
	"github.com/scoutergo/server/internal/alerting"
	"github.com/scoutergo/server/internal/config"
	"github.com/scoutergo/server/internal/db"
	"github.com/scoutergo/server/internal/db/dbsqlc"
	"github.com/scoutergo/server/internal/schedule"
	"github.com/scoutergo/server/internal/temporalclient"
	"github.com/scoutergo/server/internal/worker"
	"github.com/scoutergo/server/workflows"
)

// RunWorker runs the Temporal worker with every activity: drift checks,
// alert fan-out and the schedule reconcile. It opens its own database pool
// (and applies the migrations, idempotent under the advisory lock, so the
// worker may start before the server), dials Temporal (retrying until it
// answers), and on start ensures the reconcile schedule and runs the
// start-up reconcile.
func RunWorker(ctx context.Context, cfg *config.Config, logger *slog.Logger) error {
	opts := PoolOptions(cfg.Database)
	// Activities hold at most POLLING_WORKER_COUNT connections each at once
	// (SPC reads use a few); keep the idle floor small.
	opts.MinConns = min(opts.MinConns, 2)
	pool, err := db.Open(ctx, opts)
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	defer pool.Close()
	if err := db.Migrate(ctx, pool, logger); err != nil {
		return fmt.Errorf("migrate database: %w", err)
	}

	identity := worker.Identity()
	c, err := temporalclient.Dial(ctx, cfg.Temporal, logger, temporalclient.Options{Identity: identity})
	if err != nil {
		return fmt.Errorf("connect to temporal: %w", err)
	}
	defer c.Close()

	dispatcher, err := alerting.New(cfg.Alerting, alerting.Options{Stdout: os.Stdout})
	if err != nil {
		return fmt.Errorf("alert channels: %w", err)
	}
	for _, msg := range alerting.Check(cfg.Alerting) {
		logger.Warn("alert channel unavailable; its alerts go to the console", slog.String("detail", msg))
	}
	alertActs, err := activities.NewAlertActivities(pool, dispatcher, cfg.Polling.MaxRetries)
	if err != nil {
		return err
	}
	driftActs, err := activities.NewDriftActivities(activities.DriftDeps{
		DB:         pool,
		Logger:     logger.With(slog.String("component", "drift")),
		MaxRetries: cfg.Polling.MaxRetries,
		Lateness:   activities.DefaultLateness,
	})
	if err != nil {
		return err
	}
	schedules, err := schedule.NewManager(schedule.Options{
		Client:     c,
		TaskQueue:  cfg.Temporal.TaskQueue,
		Logger:     logger.With(slog.String("component", "schedules")),
		RunTimeout: schedule.RunTimeoutFor(cfg.Polling.MaxRetries),
	})
	if err != nil {
		return fmt.Errorf("drift schedules: %w", err)
	}
	scheduleActs := &activities.ScheduleActivities{Profiles: dbsqlc.New(pool), Schedules: schedules}

	return worker.Run(ctx, cfg, logger, worker.Deps{
		Client:     c,
		Identity:   identity,
		Probes:     []workflows.Probe{{Name: "postgres", Check: pool.Ping}},
		Activities: []any{driftActs, alertActs, scheduleActs},
		AfterStart: func(ctx context.Context, _ client.Client) error {
			return schedules.StartWorkerReconcile(ctx)
		},
	})
}
