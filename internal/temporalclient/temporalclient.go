// Package temporalclient builds the Temporal client shared by the server and
// the worker: one place for connection options, logging, metrics and the
// wait-until-reachable loop used at start-up.
package temporalclient

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"go.temporal.io/api/serviceerror"
	"go.temporal.io/api/workflowservice/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/log"

	"github.com/scoutergo/server/internal/config"
)

// Defaults for the zero Options.
const (
	DefaultInitialBackoff = 500 * time.Millisecond
	DefaultMaxBackoff     = 10 * time.Second
	DefaultAttemptTimeout = 10 * time.Second
)

// Options tunes Dial. The zero value is ready to use.
type Options struct {
	// MetricsHandler receives the SDK's metrics (for example a Prometheus
	// backed handler); nil disables them.
	MetricsHandler client.MetricsHandler
	// Identity names this process in the Temporal UI; empty lets the SDK
	// choose pid@host.
	Identity string
	// InitialBackoff is the wait after the first failed attempt; it doubles
	// after each further failure up to MaxBackoff.
	InitialBackoff time.Duration
	MaxBackoff     time.Duration
	// AttemptTimeout bounds one connection attempt, including the namespace
	// check.
	AttemptTimeout time.Duration
}

func (o Options) withDefaults() Options {
	if o.InitialBackoff <= 0 {
		o.InitialBackoff = DefaultInitialBackoff
	}
	if o.MaxBackoff <= 0 {
		o.MaxBackoff = DefaultMaxBackoff
	}
	if o.InitialBackoff > o.MaxBackoff {
		o.InitialBackoff = o.MaxBackoff
	}
	if o.AttemptTimeout <= 0 {
		o.AttemptTimeout = DefaultAttemptTimeout
	}
	return o
}

// ClientOptions returns the SDK options for cfg: address, namespace, the
// slog logger plugged in through log.NewStructuredLogger, and the optional
// metrics handler and identity.
func ClientOptions(cfg config.Temporal, logger *slog.Logger, opts Options) client.Options {
	return client.Options{
		HostPort:       cfg.Address,
		Namespace:      cfg.Namespace,
		Identity:       opts.Identity,
		Logger:         log.NewStructuredLogger(logger.With(slog.String("component", "temporal"))),
		MetricsHandler: opts.MetricsHandler,
	}
}

// Dial connects to Temporal and checks that the namespace exists. While the
// server is unreachable (or the namespace is not created yet) it logs one
// warning per failed attempt and tries again with exponential backoff,
// capped at Options.MaxBackoff, until ctx is done; it then returns an error
// that wraps ctx.Err(). The caller closes the returned client.
func Dial(ctx context.Context, cfg config.Temporal, logger *slog.Logger, opts Options) (client.Client, error) {
	opts = opts.withDefaults()
	co := ClientOptions(cfg, logger, opts)
	wait := opts.InitialBackoff
	for attempt := 1; ; attempt++ {
		c, err := dialOnce(ctx, co, opts.AttemptTimeout)
		if err == nil {
			if attempt > 1 {
				logger.Info("temporal reachable", "address", cfg.Address, "namespace", cfg.Namespace, "attempt", attempt)
			}
			return c, nil
		}
		if ctx.Err() != nil {
			return nil, fmt.Errorf("dial temporal %s namespace %s: gave up after %d attempts (last: %v): %w",
				cfg.Address, cfg.Namespace, attempt, err, ctx.Err())
		}
		msg := "temporal not reachable, retrying"
		if errors.Is(err, errNamespaceNotFound) {
			msg = "temporal namespace not found, retrying"
		}
		logger.Warn(msg, "address", cfg.Address, "namespace", cfg.Namespace,
			"attempt", attempt, "retry_in", wait, "err", err)

		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("dial temporal %s namespace %s: gave up after %d attempts (last: %v): %w",
				cfg.Address, cfg.Namespace, attempt, err, ctx.Err())
		case <-t.C:
		}
		wait = min(2*wait, opts.MaxBackoff)
	}
}

var errNamespaceNotFound = errors.New("namespace not found")

// dialOnce makes one bounded attempt: connect (the SDK calls GetSystemInfo),
// then DescribeNamespace.
func dialOnce(ctx context.Context, co client.Options, timeout time.Duration) (client.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := client.DialContext(ctx, co)
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	_, err = c.WorkflowService().DescribeNamespace(ctx, &workflowservice.DescribeNamespaceRequest{Namespace: co.Namespace})
	if err != nil {
		c.Close()
		var nf *serviceerror.NamespaceNotFound
		var nf2 *serviceerror.NotFound
		if errors.As(err, &nf) || errors.As(err, &nf2) {
			return nil, fmt.Errorf("describe namespace %s: %w: %v", co.Namespace, errNamespaceNotFound, err)
		}
		return nil, fmt.Errorf("describe namespace %s: %w", co.Namespace, err)
	}
	return c, nil
}
