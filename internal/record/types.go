package record

import (
	"encoding/json"
	"fmt"
)

// Kind is the MessageRecord variant.
type Kind int

// The MessageRecord variants, in upstream's (untagged) trial order.
const (
	KindRecords Kind = iota + 1 // {"records": [ServerRecord, ...]}
	KindTrace                   // {"request": <OTLP ExportTraceServiceRequest JSON>}
	KindTag                     // {"entity_type", "entity_id", "key", "value"}
)

func (k Kind) String() string {
	switch k {
	case KindRecords:
		return "records"
	case KindTrace:
		return "trace"
	case KindTag:
		return "tag"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// RecordType is a ServerRecord variant; the value is the wire tag.
type RecordType string

// The ServerRecord variants.
const (
	TypeSpc           RecordType = "Spc"
	TypePsi           RecordType = "Psi"
	TypeCustom        RecordType = "Custom"
	TypeObservability RecordType = "Observability"
	TypeGenAIEval     RecordType = "GenAIEval"
	TypeGenAITask     RecordType = "GenAITaskRecord"
	TypeGenAIWorkflow RecordType = "GenAIWorkflowRecord"
)

// Message is a decoded MessageRecord.
type Message struct {
	Kind Kind
	// Records holds the valid ServerRecords in message order (KindRecords).
	// Each keeps its index in the original "records" array.
	Records []ServerRecord
	// Total is the length of the original "records" array (valid + invalid).
	Total int
	Trace *TraceServerRecord // KindTrace
	Tag   *TagRecord         // KindTag
}

// ServerRecord is one element of ServerRecords. Exactly one payload pointer
// is set, matching Type.
type ServerRecord struct {
	Index int // position in the original "records" array
	Type  RecordType

	Spc           *SpcRecord
	Psi           *PsiRecord
	Custom        *CustomMetricRecord
	Observability *ObservabilityMetrics
	GenAIEval     *EvalRecord
	GenAITask     *EvalTaskResult
	GenAIWorkflow *GenAIEvalWorkflowResult
}

// UID is the uid the server resolves the entity from: the profile uid of a
// drift record, or entity_uid for GenAI records.
func (r ServerRecord) UID() string {
	switch {
	case r.Spc != nil:
		return r.Spc.UID
	case r.Psi != nil:
		return r.Psi.UID
	case r.Custom != nil:
		return r.Custom.UID
	case r.Observability != nil:
		return r.Observability.UID
	case r.GenAIEval != nil:
		return r.GenAIEval.EntityUID
	case r.GenAITask != nil:
		return r.GenAITask.EntityUID
	case r.GenAIWorkflow != nil:
		return r.GenAIWorkflow.EntityUID
	}
	return ""
}

// MarshalJSON writes the externally tagged wire form, e.g. {"Spc": {...}} or
// {"GenAIEval": {"record": {...}}}.
func (r ServerRecord) MarshalJSON() ([]byte, error) {
	var payload any
	switch r.Type {
	case TypeSpc:
		payload = r.Spc
	case TypePsi:
		payload = r.Psi
	case TypeCustom:
		payload = r.Custom
	case TypeObservability:
		payload = r.Observability
	case TypeGenAIEval:
		payload = struct {
			Record *EvalRecord `json:"record"`
		}{r.GenAIEval}
	case TypeGenAITask:
		payload = r.GenAITask
	case TypeGenAIWorkflow:
		payload = r.GenAIWorkflow
	default:
		return nil, fmt.Errorf("marshal server record: unknown type %q", string(r.Type))
	}
	return json.Marshal(map[string]any{string(r.Type): payload})
}

// SpcRecord is one SPC sample mean.
type SpcRecord struct {
	CreatedAt Time    `json:"created_at"`
	UID       string  `json:"uid"`
	Feature   string  `json:"feature"`
	Value     float64 `json:"value"`
	EntityID  int32   `json:"entity_id"`
}

// PsiRecord is one PSI bin count.
type PsiRecord struct {
	CreatedAt Time   `json:"created_at"`
	UID       string `json:"uid"`
	Feature   string `json:"feature"`
	BinID     int32  `json:"bin_id"`
	BinCount  int32  `json:"bin_count"`
	EntityID  int32  `json:"entity_id"`
}

// CustomMetricRecord is one custom metric value.
type CustomMetricRecord struct {
	CreatedAt Time    `json:"created_at"`
	UID       string  `json:"uid"`
	Metric    string  `json:"metric"`
	Value     float64 `json:"value"`
	EntityID  int32   `json:"entity_id"`
}

// ObservabilityMetrics is one observability snapshot.
type ObservabilityMetrics struct {
	UID          string         `json:"uid"`
	RequestCount int64          `json:"request_count"`
	ErrorCount   int64          `json:"error_count"`
	RouteMetrics []RouteMetrics `json:"route_metrics"`
	EntityID     int32          `json:"entity_id"`
}

// RouteMetrics are one route's observability numbers.
type RouteMetrics struct {
	RouteName    string           `json:"route_name"`
	Metrics      LatencyMetrics   `json:"metrics"`
	RequestCount int64            `json:"request_count"`
	ErrorCount   int64            `json:"error_count"`
	ErrorLatency float64          `json:"error_latency"`
	StatusCodes  map[uint64]int64 `json:"status_codes"` // JSON keys are stringified integers
}

// LatencyMetrics are latency percentiles.
type LatencyMetrics struct {
	P5  float64 `json:"p5"`
	P25 float64 `json:"p25"`
	P50 float64 `json:"p50"`
	P95 float64 `json:"p95"`
	P99 float64 `json:"p99"`
}

// EvalRecord is one GenAI evaluation input (GenAIEval payload .record).
type EvalRecord struct {
	RecordID            string          `json:"record_id"`
	SessionID           string          `json:"session_id"`
	CreatedAt           Time            `json:"created_at"`
	UID                 string          `json:"uid"`
	Context             json.RawMessage `json:"context"` // any JSON; "null" when absent
	ID                  int64           `json:"id"`
	UpdatedAt           *Time           `json:"updated_at"`
	ProcessingStartedAt *Time           `json:"processing_started_at"`
	ProcessingEndedAt   *Time           `json:"processing_ended_at"`
	ProcessingDuration  *int32          `json:"processing_duration"`
	EntityID            int32           `json:"entity_id"`
	EntityUID           string          `json:"entity_uid"`
	Status              string          `json:"status"`      // All|Pending|Processing|Processed|Failed
	EntityType          string          `json:"entity_type"` // Feature|Metric|GenAI
	RetryCount          int32           `json:"retry_count"`
	TraceID             *string         `json:"trace_id"` // 32 lower-case hex characters
	Tags                []string        `json:"tags"`     // never nil after Decode
}

// EvalTaskResult is one evaluated task (GenAITaskRecord payload).
type EvalTaskResult struct {
	CreatedAt Time            `json:"created_at"`
	StartTime Time            `json:"start_time"`
	EndTime   Time            `json:"end_time"`
	RecordUID string          `json:"record_uid"`
	EntityID  int32           `json:"entity_id"`
	TaskID    string          `json:"task_id"`
	TaskType  string          `json:"task_type"` // EvaluationTaskType variant
	Passed    bool            `json:"passed"`
	Value     float64         `json:"value"`
	Assertion json.RawMessage `json:"assertion"` // {"FieldPath": str|null} | {"TraceAssertion": {...}} | {"AgentAssertion": {...}}
	Operator  string          `json:"operator"`  // ComparisonOperator variant
	Expected  json.RawMessage `json:"expected"`  // any JSON
	Actual    json.RawMessage `json:"actual"`    // any JSON
	Message   string          `json:"message"`
	EntityUID string          `json:"entity_uid"`
	Condition bool            `json:"condition"`
	Stage     int32           `json:"stage"`
}

// GenAIEvalWorkflowResult is one evaluated record's summary
// (GenAIWorkflowRecord payload).
type GenAIEvalWorkflowResult struct {
	CreatedAt     Time          `json:"created_at"`
	RecordUID     string        `json:"record_uid"`
	EntityID      int32         `json:"entity_id"`
	TotalTasks    int32         `json:"total_tasks"`
	PassedTasks   int32         `json:"passed_tasks"`
	FailedTasks   int32         `json:"failed_tasks"`
	PassRate      float64       `json:"pass_rate"`
	DurationMs    int64         `json:"duration_ms"`
	EntityUID     string        `json:"entity_uid"`
	ExecutionPlan ExecutionPlan `json:"execution_plan"`
	ID            int64         `json:"id"`
}

// ExecutionPlan is the GenAI task DAG in stages.
type ExecutionPlan struct {
	Stages [][]string                `json:"stages"`
	Nodes  map[string]*ExecutionNode `json:"nodes"`
}

// ExecutionNode is one task of an ExecutionPlan.
type ExecutionNode struct {
	ID       string   `json:"id"`
	Stage    uint32   `json:"stage"`
	Parents  []string `json:"parents"`
	Children []string `json:"children"`
}

// TraceServerRecord carries one OTLP ExportTraceServiceRequest as raw JSON
// (decoded elsewhere).
type TraceServerRecord struct {
	Request json.RawMessage `json:"request"`
}

// TagRecord is one entity tag.
type TagRecord struct {
	EntityType string `json:"entity_type"`
	EntityID   string `json:"entity_id"`
	Key        string `json:"key"`
	Value      string `json:"value"`
}
