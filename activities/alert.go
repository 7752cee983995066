package activities

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"go.temporal.io/sdk/activity"
	"go.temporal.io/sdk/temporal"

	"github.com/scoutergo/server/internal/alerting"
	"github.com/scoutergo/server/internal/db"
	"github.com/scoutergo/server/internal/db/dbsqlc"
	"github.com/scoutergo/server/internal/drift"
	"github.com/scoutergo/server/internal/profile"
)

// ErrTypeAlertDeliveryRejected is the application error type of a delivery
// the channel refused for good (see alerting.RejectedError). It is
// non-retryable: workflows.NonRetryableErrorTypes lists it.
const ErrTypeAlertDeliveryRejected = "AlertDeliveryRejected"

// ErrTypeInvalidAlertInput marks an alert activity input that cannot be
// processed (non-retryable).
const ErrTypeInvalidAlertInput = "InvalidAlertInput"

// Delivery statuses of scouter.alert_delivery.
const (
	DeliveryPending   = "pending"
	DeliveryDelivered = "delivered"
	DeliveryFailed    = "failed"
)

// recordTimeout bounds writing a delivery's outcome. The write runs on a
// context detached from the activity's, so a send that just succeeded is
// still recorded when the activity deadline hits right after it.
const recordTimeout = 10 * time.Second

// AlertDispatcher picks and returns the sender of a channel;
// *alerting.Dispatcher implements it.
type AlertDispatcher interface {
	Select(want alerting.Channel) (ch alerting.Channel, fellBack bool)
	Sender(ch alerting.Channel) (alerting.Sender, bool)
}

var _ AlertDispatcher = (*alerting.Dispatcher)(nil)

// AlertActivities are the activities of the AlertFanOut workflow.
type AlertActivities struct {
	// DB is the Postgres pool.
	DB dbsqlc.DBTX
	// Dispatcher holds the configured channels.
	Dispatcher AlertDispatcher
	// MaxRetries is MAX_RETRIES; LoadAlertRun hands it to the workflow,
	// which retries each delivery up to 1 + MaxRetries times.
	MaxRetries int
}

// NewAlertActivities checks the dependencies.
func NewAlertActivities(pool dbsqlc.DBTX, d AlertDispatcher, maxRetries int) (*AlertActivities, error) {
	if pool == nil || d == nil {
		return nil, errors.New("alert activities: nil database or dispatcher")
	}
	return &AlertActivities{DB: pool, Dispatcher: d, MaxRetries: maxRetries}, nil
}

// LoadAlertRunInput names one drift-check run's alerts.
type LoadAlertRunInput struct {
	EntityID int32     `json:"entity_id"`
	RunAt    time.Time `json:"run_at"` // the run's tick: drift_alert.created_at
	// Space, Name and Version are the profile key of the run; they stand in
	// when the profile row is gone or unreadable.
	Space   string `json:"space"`
	Name    string `json:"name"`
	Version string `json:"version"`
}

// AlertTarget is one channel a run's alerts go to.
type AlertTarget struct {
	// Channel is where the alerts are sent: the requested channel, or
	// Console when that channel is not configured on the worker.
	Channel alerting.Channel `json:"channel"`
	// Requested is the profile's dispatch config kind.
	Requested    alerting.Channel `json:"requested"`
	SlackChannel string           `json:"slack_channel,omitempty"`
	Team         string           `json:"team,omitempty"`
	Priority     string           `json:"priority,omitempty"`
}

// LoadAlertRunResult is everything the workflow needs to build the
// messages of a run.
type LoadAlertRunResult struct {
	// Space, Name and Version come from the profile JSON (drift.md §5.1).
	Space   string           `json:"space"`
	Name    string           `json:"name"`
	Version string           `json:"version"`
	Targets []AlertTarget    `json:"targets"`
	Alerts  []drift.AlertMap `json:"alerts"`
	// Unreadable counts stored alerts whose JSON could not be read; they
	// are not sent.
	Unreadable int `json:"unreadable,omitempty"`
	// MaxRetries is the worker's MAX_RETRIES, for the deliveries.
	MaxRetries int `json:"max_retries"`
}

// LoadAlertRun reads the alerts a run stored and the profile's dispatch
// config. A run without alerts returns no targets. A profile that is gone
// or unreadable sends to Console (upstream's default dispatch) under the
// run's profile key.
func (a *AlertActivities) LoadAlertRun(ctx context.Context, in *LoadAlertRunInput) (*LoadAlertRunResult, error) {
	if in == nil || in.EntityID <= 0 || in.RunAt.IsZero() {
		return nil, temporal.NewNonRetryableApplicationError("load alert run: entity id and run time are required",
			ErrTypeInvalidAlertInput, nil)
	}
	logger := activity.GetLogger(ctx)
	q := dbsqlc.New(a.DB)
	rows, err := q.ListRunAlerts(ctx, dbsqlc.ListRunAlertsParams{EntityID: in.EntityID, CreatedAt: in.RunAt})
	if err != nil {
		return nil, fmt.Errorf("list alerts of entity %d at %s: %w", in.EntityID, in.RunAt.UTC().Format(time.RFC3339Nano), db.MapError(err))
	}
	res := &LoadAlertRunResult{Space: in.Space, Name: in.Name, Version: in.Version,
		Targets: []AlertTarget{}, Alerts: []drift.AlertMap{}, MaxRetries: a.MaxRetries}
	for _, r := range rows {
		var m drift.AlertMap
		if err := json.Unmarshal(r.Alert, &m); err != nil || m.EntityName() == "" {
			res.Unreadable++
			logger.Warn("stored alert is unreadable, not sent", "alert_id", r.ID, "entity_id", in.EntityID, "err", err)
			continue
		}
		res.Alerts = append(res.Alerts, m)
	}
	if len(res.Alerts) == 0 {
		return res, nil
	}

	dispatch := profile.Dispatch{Kind: profile.DispatchConsole, Enabled: true}
	row, err := q.GetDriftProfileByEntityID(ctx, in.EntityID)
	switch err = db.MapError(err); {
	case errors.Is(err, db.ErrNotFound):
		logger.Warn("profile of the alerts is gone, sending to console", "entity_id", in.EntityID)
	case err != nil:
		return nil, fmt.Errorf("load profile of entity %d: %w", in.EntityID, err)
	default:
		p, perr := profile.ParseStored(row.Profile)
		if perr != nil {
			logger.Warn("stored profile is unreadable, sending to console", "entity_id", in.EntityID, "err", perr)
			break
		}
		res.Space, res.Name, res.Version = p.Config.Space, p.Config.Name, p.Config.Version
		dispatch = p.Config.Dispatch
	}

	want := alerting.Channel(dispatch.Kind)
	ch, fellBack := a.Dispatcher.Select(want)
	if fellBack {
		logger.Error("alert channel is not configured, falling back to console",
			"channel", string(want), "space", res.Space, "name", res.Name, "version", res.Version)
	}
	res.Targets = append(res.Targets, AlertTarget{Channel: ch, Requested: want,
		SlackChannel: dispatch.Channel, Team: dispatch.Team, Priority: dispatch.Priority})
	return res, nil
}

// DeliverAlertInput is one message of a run for one channel.
type DeliverAlertInput struct {
	RunID    string `json:"run_id"` // the drift-check run's workflow id
	EntityID int32  `json:"entity_id"`
	// MessageKey names the message within the run ("spc", "psi",
	// "custom:<metric>", "genai:<metric>").
	MessageKey  string      `json:"message_key"`
	Target      AlertTarget `json:"target"`
	Space       string      `json:"space"`
	Name        string      `json:"name"`
	Version     string      `json:"version"`
	Description string      `json:"description"`
}

// DedupKey is the message's identity across resends, OpsGenie's alias:
// "scouter:<run id>:<message key>".
func (in *DeliverAlertInput) DedupKey() string {
	return "scouter:" + in.RunID + ":" + in.MessageKey
}

// DeliverAlertResult reports one delivery.
type DeliverAlertResult struct {
	// Status is "delivered", or "skipped" when an earlier execution had
	// already delivered the message.
	Status   string `json:"status"`
	Attempts int32  `json:"attempts"`
}

// Delivery result statuses.
const (
	ResultDelivered = "delivered"
	ResultSkipped   = "skipped"
)

// DeliverAlert sends one message once. The alert_delivery row of (run,
// channel, message) is created first; when it already says delivered,
// nothing is sent. After the send, the outcome and the attempt number are
// recorded: delivered; pending with the error while retries remain; failed
// for a rejection (returned as a non-retryable AlertDeliveryRejected error)
// or after the last attempt. A message recorded as failed is sent again
// only by a new fan-out of the same run (an operator's reset or re-run).
//
// The one window for a duplicate: the worker dies (or the database write
// fails) after the channel accepted the message and before "delivered" is
// recorded. The retry then sends again. OpsGenie folds that resend into
// the open alert (same alias); Slack and Console show it twice.
func (a *AlertActivities) DeliverAlert(ctx context.Context, in *DeliverAlertInput) (*DeliverAlertResult, error) {
	if in == nil || in.RunID == "" || in.MessageKey == "" || !in.Target.Channel.Valid() {
		return nil, temporal.NewNonRetryableApplicationError(
			"deliver alert: run id, message key and a known channel are required", ErrTypeInvalidAlertInput, nil)
	}
	info := activity.GetInfo(ctx)
	attempt := max(info.Attempt, 1)
	logger := activity.GetLogger(ctx)
	ch := in.Target.Channel
	q := dbsqlc.New(a.DB)

	rec, err := q.UpsertAlertDelivery(ctx, dbsqlc.UpsertAlertDeliveryParams{
		RunID: in.RunID, EntityID: in.EntityID, Channel: string(ch), MessageKey: in.MessageKey})
	if err != nil {
		return nil, fmt.Errorf("record delivery %s of run %s to %s: %w", in.MessageKey, in.RunID, ch, db.MapError(err))
	}
	if rec.Status == DeliveryDelivered {
		logger.Info("alert already delivered, not sent again", "run_id", in.RunID, "channel", string(ch),
			"message_key", in.MessageKey)
		return &DeliverAlertResult{Status: ResultSkipped, Attempts: rec.Attempts}, nil
	}

	var sendErr error
	if sender, ok := a.Dispatcher.Sender(ch); ok {
		sendErr = sender.Send(ctx, alerting.Message{
			Space: in.Space, Name: in.Name, Version: in.Version, Description: in.Description,
			DedupKey: in.DedupKey(), SlackChannel: in.Target.SlackChannel,
			Team: in.Target.Team, Priority: in.Target.Priority,
		})
	} else {
		sendErr = &alerting.RejectedError{Channel: ch, Detail: "the channel is not configured on this worker"}
	}

	recCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if sendErr == nil {
		if err := q.MarkAlertDelivered(recCtx, dbsqlc.MarkAlertDeliveredParams{ID: rec.ID, Attempts: attempt}); err != nil {
			return nil, fmt.Errorf("record delivered %s of run %s to %s: %w", in.MessageKey, in.RunID, ch, db.MapError(err))
		}
		return &DeliverAlertResult{Status: ResultDelivered, Attempts: attempt}, nil
	}

	rejected := alerting.IsRejected(sendErr)
	status := DeliveryPending
	if rejected || a.lastAttempt(info) {
		status = DeliveryFailed
	}
	msg := sendErr.Error()
	recErr := q.RecordAlertDeliveryFailure(recCtx, dbsqlc.RecordAlertDeliveryFailureParams{
		ID: rec.ID, Status: status, Attempts: attempt, LastError: &msg})
	if recErr != nil {
		recErr = fmt.Errorf("record failed delivery: %w", db.MapError(recErr))
	}
	err = fmt.Errorf("deliver %s of run %s to %s: %w", in.MessageKey, in.RunID, ch, errors.Join(sendErr, recErr))
	if rejected {
		return nil, temporal.NewNonRetryableApplicationError(err.Error(), ErrTypeAlertDeliveryRejected, err)
	}
	return nil, err
}

// lastAttempt reports whether the retry policy allows no further attempt.
// The server sends the policy with the task; without one (the SDK's test
// environment) it is the policy the workflow derives from MaxRetries.
func (a *AlertActivities) lastAttempt(info activity.Info) bool {
	maxAttempts := int32(1 + max(a.MaxRetries, 0))
	if p := info.RetryPolicy; p != nil {
		maxAttempts = p.MaximumAttempts
	}
	return maxAttempts > 0 && info.Attempt >= maxAttempts
}
