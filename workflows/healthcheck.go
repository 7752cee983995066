package workflows

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"
)

// HealthProbeTimeout bounds the probe activity. It runs once: a health
// check reports, it does not retry.
const HealthProbeTimeout = 10 * time.Second

// HealthCheckInput starts a HealthCheck workflow.
type HealthCheckInput struct {
	// Nonce is echoed back so the caller can match the answer to its run.
	Nonce string `json:"nonce"`
}

// HealthCheckResult is what the worker that ran the probe reports.
type HealthCheckResult struct {
	Nonce  string        `json:"nonce"`
	Worker string        `json:"worker"`
	Probes []ProbeResult `json:"probes"`
}

// ProbeResult is the outcome of one dependency probe.
type ProbeResult struct {
	Name       string `json:"name"`
	OK         bool   `json:"ok"`
	Error      string `json:"error,omitempty"`
	DurationMS int64  `json:"duration_ms"`
}

// Err is nil when every probe passed, otherwise it names the failures.
func (r *HealthCheckResult) Err() error {
	var failed []string
	for _, p := range r.Probes {
		if !p.OK {
			failed = append(failed, fmt.Sprintf("%s: %s", p.Name, p.Error))
		}
	}
	if len(failed) == 0 {
		return nil
	}
	return fmt.Errorf("probes failed: %s", strings.Join(failed, "; "))
}

// HealthCheck proves a worker end to end: it is picked up from the task
// queue, schedules one activity on the same queue and returns that
// activity's report of the worker's dependencies.
func HealthCheck(ctx workflow.Context, in *HealthCheckInput) (*HealthCheckResult, error) {
	if in == nil {
		return nil, temporal.NewNonRetryableApplicationError("health check input is missing", "InvalidInput", nil)
	}
	ctx = workflow.WithActivityOptions(ctx, ActivityOptions(HealthProbeTimeout, 0))
	var a *HealthActivities
	var res HealthCheckResult
	if err := workflow.ExecuteActivity(ctx, a.ProbeWorker, in).Get(ctx, &res); err != nil {
		return nil, fmt.Errorf("probe worker: %w", err)
	}
	return &res, nil
}

// Probe checks one dependency of the worker, such as the database.
type Probe struct {
	Name  string
	Check func(ctx context.Context) error
}

// HealthActivities hosts the health-check activity. It lives beside the
// workflow until the activities package exists; it does no I/O of its own
// beyond the injected probes.
type HealthActivities struct {
	// Identity names the worker in the result.
	Identity string
	// Probes run in order; the result lists them sorted by name.
	Probes []Probe
}

// ProbeWorker runs every probe and reports each outcome. A failing probe is
// reported in the result, not returned as an error, so the caller sees
// which dependency is down.
func (a *HealthActivities) ProbeWorker(ctx context.Context, in *HealthCheckInput) (*HealthCheckResult, error) {
	if in == nil {
		return nil, temporal.NewNonRetryableApplicationError("health check input is missing", "InvalidInput", nil)
	}
	res := &HealthCheckResult{Nonce: in.Nonce, Worker: a.Identity, Probes: []ProbeResult{}}
	for _, p := range a.Probes {
		start := time.Now()
		err := errors.New("probe has no check function")
		if p.Check != nil {
			err = p.Check(ctx)
		}
		pr := ProbeResult{Name: p.Name, OK: err == nil, DurationMS: time.Since(start).Milliseconds()}
		if err != nil {
			pr.Error = err.Error()
		}
		if ctxErr := ctx.Err(); ctxErr != nil {
			return nil, fmt.Errorf("probe %s: %w", p.Name, errors.Join(ctxErr, err))
		}
		res.Probes = append(res.Probes, pr)
	}
	sort.Slice(res.Probes, func(i, j int) bool { return res.Probes[i].Name < res.Probes[j].Name })
	return res, nil
}
