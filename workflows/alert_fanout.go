package workflows

import (
	"fmt"
	"time"

	"go.temporal.io/sdk/temporal"
	"go.temporal.io/sdk/workflow"

	"github.com/scoutergo/server/activities"
	"github.com/scoutergo/server/internal/alerting"
	"github.com/scoutergo/server/internal/drift"
)

// Timeouts and retries of the AlertFanOut activities.
const (
	// AlertLoadTimeout bounds reading a run's alerts and its profile.
	AlertLoadTimeout = 30 * time.Second
	// AlertLoadMaxRetries: the load runs before the workflow knows the
	// worker's MAX_RETRIES (the load returns it), so it uses the default of
	// MAX_RETRIES (3).
	AlertLoadMaxRetries = 3
	// AlertDeliverTimeout bounds one delivery attempt: the HTTP request
	// (alerting.DefaultTimeout) plus two small database writes.
	AlertDeliverTimeout = 30 * time.Second
)

// AlertFanOut delivers the alerts one drift-check run stored to the
// profile's dispatch channels: it loads the alerts and the dispatch config,
// builds the messages (AlertMessages), and runs one DeliverAlert activity
// per channel and message, all at once. Each delivery is retried with the
// shared policy (1 + MAX_RETRIES attempts); a rejected message
// (AlertDeliveryRejected) is not retried. Failed deliveries are counted in
// the result and recorded in scouter.alert_delivery; they do not fail the
// workflow. Only a load that keeps failing does.
func AlertFanOut(ctx workflow.Context, in *AlertFanOutInput) (*AlertFanOutResult, error) {
	if in == nil || in.EntityID <= 0 || in.RunID == "" || in.RunAt.IsZero() {
		return nil, temporal.NewNonRetryableApplicationError(
			"alert fan-out input needs entity_id, run_id and run_at", "InvalidInput", nil)
	}
	logger := workflow.GetLogger(ctx)
	var a *activities.AlertActivities

	lctx := workflow.WithActivityOptions(ctx, ActivityOptions(AlertLoadTimeout, AlertLoadMaxRetries))
	var plan activities.LoadAlertRunResult
	if err := workflow.ExecuteActivity(lctx, a.LoadAlertRun, &activities.LoadAlertRunInput{
		EntityID: in.EntityID, RunAt: in.RunAt,
		Space: in.Profile.Space, Name: in.Profile.Name, Version: in.Profile.Version,
	}).Get(ctx, &plan); err != nil {
		return nil, fmt.Errorf("load alerts of run %s: %w", in.RunID, err)
	}

	msgs := AlertMessages(in.RunID, in.EntityID, &plan)
	res := &AlertFanOutResult{}
	if len(msgs) == 0 {
		return res, nil
	}
	dctx := workflow.WithActivityOptions(ctx, ActivityOptions(AlertDeliverTimeout, plan.MaxRetries))
	futures := make([]workflow.Future, len(msgs))
	for i := range msgs {
		futures[i] = workflow.ExecuteActivity(dctx, a.DeliverAlert, &msgs[i])
	}
	for i, f := range futures {
		var out activities.DeliverAlertResult
		if err := f.Get(ctx, &out); err != nil {
			res.Failed++
			logger.Warn("alert delivery failed", "run_id", in.RunID, "channel", string(msgs[i].Target.Channel),
				"message_key", msgs[i].MessageKey, "err", err)
			continue
		}
		if out.Status == activities.ResultSkipped {
			res.Skipped++
		} else {
			res.Delivered++
		}
	}
	return res, nil
}

// AlertMessages builds the messages of a run, per target in order (drift.md
// §5.5): all SPC alerts make one message ("spc"), all PSI alerts one
// ("psi"), each Custom or GenAI alert its own ("custom:<metric>",
// "genai:<metric>"). The SPC and PSI texts depend on the channel. It is
// pure and deterministic, so the workflow may call it.
func AlertMessages(runID string, entityID int32, plan *activities.LoadAlertRunResult) []activities.DeliverAlertInput {
	if plan == nil || len(plan.Alerts) == 0 {
		return nil
	}
	var (
		spc     []drift.SPCAlert
		psi     []drift.PSIAlert
		metrics []metricMessage
	)
	seen := map[string]int{}
	for _, m := range plan.Alerts {
		switch {
		case m.Spc != nil:
			spc = append(spc, *m.Spc)
		case m.Psi != nil:
			psi = append(psi, *m.Psi)
		case m.Custom != nil:
			metrics = append(metrics, metricMessage{key: uniqueKey(seen, "custom:"+m.Custom.MetricName), alert: *m.Custom})
		case m.GenAI != nil:
			metrics = append(metrics, metricMessage{key: uniqueKey(seen, "genai:"+m.GenAI.MetricName), alert: *m.GenAI})
		}
	}
	var out []activities.DeliverAlertInput
	for _, t := range plan.Targets {
		dt := dispatchType(t.Channel)
		add := func(key, text string) {
			if text == "" {
				return
			}
			out = append(out, activities.DeliverAlertInput{
				RunID: runID, EntityID: entityID, MessageKey: key, Target: t,
				Space: plan.Space, Name: plan.Name, Version: plan.Version, Description: text,
			})
		}
		if len(spc) > 0 {
			add("spc", drift.DescribeSPC(spc, dt))
		}
		if len(psi) > 0 {
			add("psi", drift.DescribePSI(psi, dt))
		}
		for _, m := range metrics {
			add(m.key, drift.DescribeMetric(m.alert))
		}
	}
	return out
}

type metricMessage struct {
	key   string
	alert drift.MetricAlert
}

// uniqueKey returns key, or key#n for its n-th repeat within a run.
func uniqueKey(seen map[string]int, key string) string {
	seen[key]++
	if n := seen[key]; n > 1 {
		return fmt.Sprintf("%s#%d", key, n)
	}
	return key
}

func dispatchType(ch alerting.Channel) drift.DispatchType {
	switch ch {
	case alerting.Slack:
		return drift.Slack
	case alerting.OpsGenie:
		return drift.OpsGenie
	}
	return drift.Console
}
