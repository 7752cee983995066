package workflows

// Workflow type names. They are recorded in every history, so renaming one
// breaks running executions and the replay corpus: never change them.
const (
	HealthCheckWorkflow = "HealthCheck"
)

// The task queue is not a constant here: it comes from TEMPORAL_TASK_QUEUE
// (config.Temporal.TaskQueue, default "scouter") so that several
// deployments can share one namespace.

// HealthCheckID is the workflow ID of one health-check run,
// "healthcheck:<key>". A health check is not a business process, so the
// caller picks a key unique to the run (host, pid and start time).
func HealthCheckID(key string) string { return "healthcheck:" + key }
