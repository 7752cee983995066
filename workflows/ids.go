package workflows

import (
	"fmt"
	"strings"
	"time"
)

// Workflow type names. They are recorded in every history, so renaming one
// breaks running executions and the replay corpus: never change them.
const (
	HealthCheckWorkflow        = "HealthCheck"
	DriftCheckWorkflow         = "DriftCheck"
	AlertFanOutWorkflow        = "AlertFanOut"
	ReconcileSchedulesWorkflow = "ReconcileSchedules"
)

// Custom search attributes (Keyword) set on drift runs and schedules; `make
// run` and `make test` register them with the Temporal dev server.
const (
	SearchAttrSpace     = "ScouterSpace"
	SearchAttrName      = "ScouterName"
	SearchAttrVersion   = "ScouterVersion"
	SearchAttrDriftType = "ScouterDriftType"
)

// The task queue is not a constant here: it comes from TEMPORAL_TASK_QUEUE
// (config.Temporal.TaskQueue, default "scouter"). Several deployments must
// not share one namespace: the schedule reconcile owns every "drift:"
// schedule in its namespace.

// HealthCheckID is the workflow ID of one health-check run,
// "healthcheck:<key>". A health check is not a business process, so the
// caller picks a key unique to the run (host, pid and start time).
func HealthCheckID(key string) string { return "healthcheck:" + key }

// ProfileKey names a drift profile the way operators do. It is stable
// across re-registrations (which change the profile uid), so schedules and
// runs are keyed by it.
type ProfileKey struct {
	Space     string `json:"space"`
	Name      string `json:"name"`
	Version   string `json:"version"`
	DriftType string `json:"drift_type"` // Spc, Psi, Custom, GenAI
}

// String is "<space>/<name>/<version>/<drift_type>".
func (k ProfileKey) String() string {
	return strings.Join([]string{k.Space, k.Name, k.Version, k.DriftType}, "/")
}

// DriftScheduleID is the Temporal Schedule id of a profile's drift checks:
// "drift:<space>/<name>/<version>/<drift_type>". Temporal appends the action
// time to the id of each run it starts.
func DriftScheduleID(k ProfileKey) string { return "drift:" + k.String() }

// DriftCheckInput is the input of one DriftCheck run (one schedule tick).
type DriftCheckInput struct {
	Profile ProfileKey `json:"profile"`
}

// DriftCheckResult is what one DriftCheck run did.
type DriftCheckResult struct {
	Status    string `json:"status"` // ok, failed (profile cannot be evaluated), skipped (inactive or gone)
	Reason    string `json:"reason,omitempty"`
	Alerts    int    `json:"alerts"`
	FanOutRun string `json:"fan_out_run,omitempty"`
}

// AlertFanOutInput is the input of the AlertFanOut workflow: deliver the
// alerts one drift-check run stored (drift_alert rows of EntityID with
// created_at = RunAt) to the profile's dispatch channels.
type AlertFanOutInput struct {
	Profile  ProfileKey `json:"profile"`
	EntityID int32      `json:"entity_id"`
	RunID    string     `json:"run_id"` // workflow id of the drift-check run
	RunAt    time.Time  `json:"run_at"`
}

// AlertFanOutResult counts the deliveries of one fan-out.
type AlertFanOutResult struct {
	Delivered int `json:"delivered"`
	Failed    int `json:"failed"`
	Skipped   int `json:"skipped"` // already delivered by an earlier attempt
}

// AlertFanOutID is the child workflow id of a run's fan-out.
func AlertFanOutID(runID string) string { return fmt.Sprintf("alerts:%s", runID) }
