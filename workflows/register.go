package workflows

import (
	"go.temporal.io/sdk/worker"
	"go.temporal.io/sdk/workflow"
)

// RegisterWorkflows registers every workflow type under its fixed name. A
// worker and the history replayer both use it, so they cannot disagree.
func RegisterWorkflows(r worker.WorkflowRegistry) {
	r.RegisterWorkflowWithOptions(HealthCheck, workflow.RegisterOptions{Name: HealthCheckWorkflow})
	r.RegisterWorkflowWithOptions(DriftCheck, workflow.RegisterOptions{Name: DriftCheckWorkflow})
	r.RegisterWorkflowWithOptions(ReconcileSchedules, workflow.RegisterOptions{Name: ReconcileSchedulesWorkflow})
	r.RegisterWorkflowWithOptions(AlertFanOut, workflow.RegisterOptions{Name: AlertFanOutWorkflow})
}

// Register registers every workflow and the given activity structs (each
// exported method becomes an activity named after the method) on w.
func Register(w worker.Registry, acts ...any) {
	RegisterWorkflows(w)
	for _, a := range acts {
		w.RegisterActivity(a)
	}
}
