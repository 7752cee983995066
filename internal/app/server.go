// Package app is the composition root: it builds the server's and the
// worker's dependencies from the configuration, runs them, and tears them
// down in reverse order.
package app

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"golang.org/x/sync/errgroup"

	"github.com/scoutergo/server/internal/config"
	"github.com/scoutergo/server/internal/db"
	"github.com/scoutergo/server/internal/grpcapi"
	"github.com/scoutergo/server/internal/httpapi"
	"github.com/scoutergo/server/internal/metrics"
)

// Mode selects which API listeners the server runs; the metrics listener
// always runs.
type Mode string

// Modes accepted by --mode, as upstream.
const (
	ModeBoth Mode = "both"
	ModeHTTP Mode = "http"
	ModeGRPC Mode = "grpc"
)

// ParseMode validates a --mode value.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case ModeBoth, ModeHTTP, ModeGRPC:
		return m, nil
	}
	return "", fmt.Errorf("mode %q: want both, http or grpc", s)
}

func (m Mode) http() bool { return m == ModeBoth || m == ModeHTTP }
func (m Mode) grpc() bool { return m == ModeBoth || m == ModeGRPC }

// PoolOptions maps the configuration onto the database pool options.
func PoolOptions(c config.Database) db.PoolOptions {
	return db.PoolOptions{
		URI:               c.URI.Reveal(),
		MaxConns:          c.MaxPoolSize,
		MinConns:          c.MinPoolSize,
		AcquireTimeout:    c.AcquireTimeout,
		IdleTimeout:       c.IdleTimeout,
		MaxLifetime:       c.MaxLifetime,
		TestBeforeAcquire: c.TestBeforeAcquire,
	}
}

// Migrate opens the database, applies the migrations and closes it again:
// what `scouter-server migrate` and `make migrate` do.
func Migrate(ctx context.Context, cfg *config.Config, logger *slog.Logger) error {
	opts := PoolOptions(cfg.Database)
	opts.MinConns = 0
	pool, err := db.Open(ctx, opts)
	if err != nil {
		return err
	}
	defer pool.Close()
	return db.Migrate(ctx, pool, logger)
}

// ServerDeps are the shared dependencies handed to the API modules.
type ServerDeps struct {
	Config  *config.Config
	Logger  *slog.Logger
	Pool    *pgxpool.Pool
	Metrics *metrics.Registry
}

// RunServer runs the HTTP, gRPC and metrics listeners until ctx is
// cancelled, then shuts down gracefully: health turns NOT_SERVING, the
// listeners stop accepting and finish in-flight requests, and the pool
// closes last. It returns the first error that stopped the server.
func RunServer(ctx context.Context, cfg *config.Config, logger *slog.Logger, mode Mode) (err error) {
	var stack teardown
	defer func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cfg.Server.ShutdownTimeout)
		defer cancel()
		if terr := stack.run(sctx, logger); terr != nil && err == nil {
			err = terr
		}
	}()

	reg := metrics.New()

	pool, err := db.Open(ctx, PoolOptions(cfg.Database))
	if err != nil {
		return fmt.Errorf("open database: %w", err)
	}
	stack.push("database pool", func(context.Context) error { pool.Close(); return nil })
	logger.Info("database connected", slog.String("uri", db.RedactURI(cfg.Database.URI.Reveal())))

	if err := db.Migrate(ctx, pool, logger); err != nil {
		return fmt.Errorf("migrate database: %w", err)
	}

	deps := ServerDeps{Config: cfg, Logger: logger, Pool: pool, Metrics: reg}
	mods, err := buildModules(ctx, deps)
	if err != nil {
		return err
	}
	for _, c := range mods.closers {
		stack.push(c.name, c.fn)
	}

	// Listen on every port before serving anything, so a port conflict
	// fails start-up cleanly.
	metricsLn, err := listen(cfg.Server.MetricsPort())
	if err != nil {
		return err
	}
	var httpLn, grpcLn net.Listener
	if mode.http() {
		if httpLn, err = listen(cfg.Server.HTTPPort); err != nil {
			metricsLn.Close()
			return err
		}
	}
	if mode.grpc() {
		if grpcLn, err = listen(cfg.Server.GRPCPort); err != nil {
			metricsLn.Close()
			if httpLn != nil {
				httpLn.Close()
			}
			return err
		}
	}

	g, gctx := errgroup.WithContext(ctx)
	var servers teardown // stopped first, in reverse order, when gctx ends

	metricsSrv := httpapi.NewMetricsServer(metricsLn.Addr().String(), reg.Handler())
	metricsSrv.ErrorLog = slog.NewLogLogger(logger.Handler(), slog.LevelWarn)
	g.Go(func() error { return serveHTTP(metricsSrv, metricsLn) })
	servers.push("metrics server", metricsSrv.Shutdown)

	for _, r := range mods.runners {
		g.Go(func() error { return r.run(gctx) })
	}

	if mode.grpc() {
		gs, err := grpcapi.New(grpcapi.Deps{
			Logger:          logger.With(slog.String("component", "grpc")),
			Registerer:      reg.Registerer(),
			Auth:            mods.grpcAuth,
			Message:         mods.grpcMessage,
			Dataset:         mods.grpcDataset,
			AuthInterceptor: mods.grpcInterceptor,
		})
		if err != nil {
			return fmt.Errorf("build grpc server: %w", err)
		}
		g.Go(func() error { return gs.Serve(grpcLn) })
		servers.push("grpc server", gs.Shutdown)
		logger.Info("grpc listening", slog.String("addr", grpcLn.Addr().String()))
		defer gs.SetNotServing()
	}

	if mode.http() {
		router := httpapi.NewRouter(httpapi.Deps{
			Logger:       logger.With(slog.String("component", "http")),
			Metrics:      reg,
			Auth:         mods.httpAuth,
			MaxBodyBytes: cfg.Server.MaxBodyBytes,
			Routes:       mods.routes,
		})
		httpSrv := httpapi.NewHTTPServer(httpLn.Addr().String(), router)
		httpSrv.ErrorLog = slog.NewLogLogger(logger.Handler(), slog.LevelWarn)
		g.Go(func() error { return serveHTTP(httpSrv, httpLn) })
		servers.push("http server", httpSrv.Shutdown)
		logger.Info("http listening", slog.String("addr", httpLn.Addr().String()))
	}
	logger.Info("metrics listening", slog.String("addr", metricsLn.Addr().String()))

	g.Go(func() error {
		<-gctx.Done()
		logger.Info("shutting down")
		sctx, cancel := context.WithTimeout(context.WithoutCancel(gctx), cfg.Server.ShutdownTimeout)
		defer cancel()
		return servers.run(sctx, logger)
	})
	return g.Wait()
}

func listen(port int) (net.Listener, error) {
	ln, err := net.Listen("tcp", fmt.Sprintf(":%d", port))
	if err != nil {
		return nil, fmt.Errorf("listen on port %d: %w", port, err)
	}
	return ln, nil
}

func serveHTTP(srv *http.Server, ln net.Listener) error {
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve %s: %w", ln.Addr(), err)
	}
	return nil
}

// teardown is a LIFO stack of shutdown steps.
type teardown struct {
	steps []step
}

type step struct {
	name string
	fn   func(context.Context) error
}

func (t *teardown) push(name string, fn func(context.Context) error) {
	t.steps = append(t.steps, step{name, fn})
}

// run executes the steps in reverse order, each at most once, and joins
// their errors.
func (t *teardown) run(ctx context.Context, logger *slog.Logger) error {
	var errs []error
	for i := len(t.steps) - 1; i >= 0; i-- {
		s := t.steps[i]
		start := time.Now()
		if err := s.fn(ctx); err != nil {
			logger.Warn("shutdown step failed", slog.String("step", s.name), slog.Any("err", err))
			errs = append(errs, fmt.Errorf("stop %s: %w", s.name, err))
			continue
		}
		logger.Debug("stopped", slog.String("step", s.name), slog.Int64("duration_ms", time.Since(start).Milliseconds()))
	}
	t.steps = nil
	return errors.Join(errs...)
}
