// Package record decodes the ingest envelope MessageRecord (HTTP /message
// and /drift bodies, gRPC InsertMessage bytes, broker payloads) into typed
// records, and provides the wire time/float encodings.
package record

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// MaxMessageSize is the largest message Decode accepts (10 MiB).
const MaxMessageSize = 10 << 20

// Decode decodes one MessageRecord. The variant is chosen like upstream's
// untagged enum: an object with "records" is ServerRecords, else one with
// "request" is a TraceServerRecord, else a TagRecord.
//
// For ServerRecords, each element is decoded on its own: when some are
// invalid Decode returns the Message with the valid records AND a
// *RecordsError (errors.Is(err, ErrInvalidRecords)) listing the invalid ones
// with their index, field and reason. Any other error (ErrTooLarge,
// ErrMalformed) comes with a nil Message.
func Decode(data []byte) (*Message, error) {
	if len(data) > MaxMessageSize {
		return nil, fmt.Errorf("decode message of %d bytes (limit %d): %w", len(data), MaxMessageSize, ErrTooLarge)
	}
	if msg, err, ok := decodeOnePass(data); ok {
		return msg, err
	}
	return decodeGeneral(data)
}

// decodeGeneral is the reference decoder: a json.Valid pass, then the
// navigator in scan.go and per-type decoders. decodeOnePass defers to it for
// everything it does not handle itself (invalid JSON, trace and tag
// messages, escaped keys, invalid or unusual records), and the differential
// tests check that both agree.
func decodeGeneral(data []byte) (*Message, error) {
	if !json.Valid(data) {
		var v json.RawMessage
		err := json.Unmarshal(data, &v) // for the syntax error's position
		return nil, fmt.Errorf("decode message: invalid JSON: %v: %w", err, ErrMalformed)
	}
	// Member values alias data; whatever is kept beyond Decode is copied.
	var records, request, entityType []byte
	isObject := eachMember(data, func(key, val []byte) {
		switch string(key) {
		case "records":
			records = val
		case "request":
			request = val
		case "entity_type":
			entityType = val
		}
	})
	switch {
	case !isObject:
		return nil, fmt.Errorf("decode message: expected a JSON object, got %s: %w", jsonKind(data), ErrMalformed)
	case records != nil:
		return decodeRecords(records)
	case request != nil:
		if k := jsonKind(request); k != "object" {
			return nil, fmt.Errorf("decode message: request: expected object, got %s: %w", k, ErrMalformed)
		}
		return &Message{Kind: KindTrace, Trace: &TraceServerRecord{Request: bytes.Clone(request)}}, nil
	case entityType != nil:
		tag, err := decodeTag(data)
		if err != nil {
			return nil, err
		}
		return &Message{Kind: KindTag, Tag: tag}, nil
	}
	return nil, fmt.Errorf("decode message: object has none of \"records\", \"request\" or \"entity_type\": %w", ErrMalformed)
}

func decodeTag(data []byte) (*TagRecord, error) {
	var t TagRecord
	fields := []struct {
		key string
		dst *string
		set bool
	}{{"entity_type", &t.EntityType, false}, {"entity_id", &t.EntityID, false}, {"key", &t.Key, false}, {"value", &t.Value, false}}
	var bad error
	eachMember(data, func(key, val []byte) {
		for i := range fields {
			f := &fields[i]
			if f.key != string(key) {
				continue
			}
			k := jsonKind(val)
			switch {
			case k == "null":
				f.set = false
			case k != "string":
				bad = fmt.Errorf("decode tag record: %s: expected string, got %s: %w", key, k, ErrMalformed)
			default:
				s, ok := unquote(val)
				if !ok {
					bad = fmt.Errorf("decode tag record: %s: invalid string: %w", key, ErrMalformed)
				}
				*f.dst, f.set = s, true
			}
		}
	})
	if bad != nil {
		return nil, bad
	}
	for _, f := range fields {
		if !f.set {
			return nil, fmt.Errorf("decode tag record: %s: required string is missing or null: %w", f.key, ErrMalformed)
		}
	}
	return &t, nil
}

func decodeRecords(raw []byte) (*Message, error) {
	if k := jsonKind(raw); k != "array" {
		return nil, fmt.Errorf("decode message: records: expected array, got %s: %w", k, ErrMalformed)
	}
	msg := &Message{Kind: KindRecords}
	var bad []RecordError
	i := 0
	eachElement(raw, func(elem []byte) {
		rec, rerr := decodeElement(i, elem)
		if rerr != nil {
			rerr.Index, rerr.Raw = i, bytes.Clone(elem)
			bad = append(bad, *rerr)
		} else {
			msg.Records = append(msg.Records, rec)
		}
		i++
	})
	msg.Total = i
	if len(bad) > 0 {
		return msg, &RecordsError{Total: i, Invalid: bad}
	}
	return msg, nil
}

func decodeElement(i int, elem json.RawMessage) (ServerRecord, *RecordError) {
	if k := jsonKind(elem); k != "object" {
		return ServerRecord{}, &RecordError{Msg: "expected an object with one record type key, got " + k}
	}
	var (
		typ     RecordType
		payload []byte
		keys    int
	)
	eachMember(elem, func(key, val []byte) {
		keys++
		typ, payload = recordType(key), val
	})
	if keys != 1 {
		return ServerRecord{}, &RecordError{Msg: fmt.Sprintf("expected exactly one record type key, got %d", keys)}
	}
	rec := ServerRecord{Index: i, Type: typ}
	var err error
	switch typ {
	case TypeSpc:
		rec.Spc, err = decodeSpc(payload)
	case TypePsi:
		rec.Psi, err = decodePsi(payload)
	case TypeCustom:
		rec.Custom, err = decodeCustom(payload)
	case TypeObservability:
		rec.Observability, err = decodeObservability(payload)
	case TypeGenAIEval:
		rec.GenAIEval, err = decodeGenAIEval(payload)
	case TypeGenAITask:
		rec.GenAITask, err = decodeTask(payload)
	case TypeGenAIWorkflow:
		rec.GenAIWorkflow, err = decodeWorkflow(payload)
	default:
		return ServerRecord{}, &RecordError{Msg: fmt.Sprintf("unknown record type %q", string(typ))}
	}
	if err != nil {
		re := &RecordError{Type: typ}
		if fe, ok := err.(*fieldError); ok {
			re.Field, re.Msg = fe.field, fe.msg
		} else {
			re.Field, re.Msg = describe(err)
		}
		return ServerRecord{}, re
	}
	return rec, nil
}

// fieldError is a validation failure found after json.Unmarshal.
type fieldError struct{ field, msg string }

func (e *fieldError) Error() string { return e.field + ": " + e.msg }

func missing(field, what string) error {
	return &fieldError{field: field, msg: "required " + what + " is missing or null"}
}

// unmarshalPayload decodes a payload that must be a JSON object.
func unmarshalPayload(payload json.RawMessage, v any) error {
	if k := jsonKind(payload); k != "object" {
		return &fieldError{msg: "expected object, got " + k}
	}
	return json.Unmarshal(payload, v)
}

// The wire structs below use pointers so absent/null required fields can be
// told apart from zero values. entity_id is optional everywhere (clients send
// 0 and the server resolves it from the uid).

type wireObservability struct {
	UID          *string      `json:"uid"`
	RequestCount *int64       `json:"request_count"`
	ErrorCount   *int64       `json:"error_count"`
	RouteMetrics *[]wireRoute `json:"route_metrics"`
	EntityID     *int32       `json:"entity_id"`
}

type wireRoute struct {
	RouteName    *string           `json:"route_name"`
	Metrics      *wireLatency      `json:"metrics"`
	RequestCount *int64            `json:"request_count"`
	ErrorCount   *int64            `json:"error_count"`
	ErrorLatency *float64          `json:"error_latency"`
	StatusCodes  *map[uint64]int64 `json:"status_codes"`
}

type wireLatency struct {
	P5  *float64 `json:"p5"`
	P25 *float64 `json:"p25"`
	P50 *float64 `json:"p50"`
	P95 *float64 `json:"p95"`
	P99 *float64 `json:"p99"`
}

func decodeObservability(payload json.RawMessage) (*ObservabilityMetrics, error) {
	var w wireObservability
	if err := unmarshalPayload(payload, &w); err != nil {
		return nil, err
	}
	switch {
	case w.UID == nil:
		return nil, missing("uid", "string")
	case w.RequestCount == nil:
		return nil, missing("request_count", "integer")
	case w.ErrorCount == nil:
		return nil, missing("error_count", "integer")
	case w.RouteMetrics == nil:
		return nil, missing("route_metrics", "array")
	}
	out := &ObservabilityMetrics{UID: *w.UID, RequestCount: *w.RequestCount, ErrorCount: *w.ErrorCount,
		EntityID: deref(w.EntityID), RouteMetrics: make([]RouteMetrics, 0, len(*w.RouteMetrics))}
	for i, r := range *w.RouteMetrics {
		p := fmt.Sprintf("route_metrics[%d].", i)
		switch {
		case r.RouteName == nil:
			return nil, missing(p+"route_name", "string")
		case r.Metrics == nil:
			return nil, missing(p+"metrics", "object")
		case r.RequestCount == nil:
			return nil, missing(p+"request_count", "integer")
		case r.ErrorCount == nil:
			return nil, missing(p+"error_count", "integer")
		case r.ErrorLatency == nil:
			return nil, missing(p+"error_latency", "number")
		case r.StatusCodes == nil:
			return nil, missing(p+"status_codes", "object")
		}
		m := r.Metrics
		for _, q := range []struct {
			name string
			v    *float64
		}{{"p5", m.P5}, {"p25", m.P25}, {"p50", m.P50}, {"p95", m.P95}, {"p99", m.P99}} {
			if q.v == nil {
				return nil, missing(p+"metrics."+q.name, "number")
			}
		}
		out.RouteMetrics = append(out.RouteMetrics, RouteMetrics{
			RouteName:    *r.RouteName,
			Metrics:      LatencyMetrics{P5: *m.P5, P25: *m.P25, P50: *m.P50, P95: *m.P95, P99: *m.P99},
			RequestCount: *r.RequestCount, ErrorCount: *r.ErrorCount, ErrorLatency: *r.ErrorLatency,
			StatusCodes: *r.StatusCodes,
		})
	}
	return out, nil
}

type wireEvalRecord struct {
	RecordID            *string         `json:"record_id"`
	SessionID           *string         `json:"session_id"`
	CreatedAt           *Time           `json:"created_at"`
	UID                 *string         `json:"uid"`
	Context             json.RawMessage `json:"context"`
	ID                  *int64          `json:"id"`
	UpdatedAt           *Time           `json:"updated_at"`
	ProcessingStartedAt *Time           `json:"processing_started_at"`
	ProcessingEndedAt   *Time           `json:"processing_ended_at"`
	ProcessingDuration  *int32          `json:"processing_duration"`
	EntityID            *int32          `json:"entity_id"`
	EntityUID           *string         `json:"entity_uid"`
	Status              *string         `json:"status"`
	EntityType          *string         `json:"entity_type"`
	RetryCount          *int32          `json:"retry_count"`
	TraceID             *string         `json:"trace_id"`
	Tags                []string        `json:"tags"`
}

func decodeGenAIEval(payload json.RawMessage) (*EvalRecord, error) {
	var box struct {
		Record json.RawMessage `json:"record"`
	}
	if err := unmarshalPayload(payload, &box); err != nil {
		return nil, err
	}
	if len(box.Record) == 0 || jsonKind(box.Record) == "null" {
		return nil, missing("record", "object")
	}
	var w wireEvalRecord
	if err := unmarshalPayload(box.Record, &w); err != nil {
		if fe, ok := err.(*fieldError); ok {
			fe.field = "record"
			return nil, fe
		}
		if te, ok := err.(*json.UnmarshalTypeError); ok {
			te.Field = "record." + te.Field
		}
		return nil, err
	}
	switch {
	case w.CreatedAt == nil:
		return nil, missing("record.created_at", "datetime")
	case w.UID == nil:
		return nil, missing("record.uid", "string")
	case w.EntityUID == nil:
		return nil, missing("record.entity_uid", "string")
	}
	r := &EvalRecord{
		RecordID: deref(w.RecordID), SessionID: deref(w.SessionID), CreatedAt: *w.CreatedAt, UID: *w.UID,
		Context: w.Context, ID: deref(w.ID), UpdatedAt: w.UpdatedAt, ProcessingStartedAt: w.ProcessingStartedAt,
		ProcessingEndedAt: w.ProcessingEndedAt, ProcessingDuration: w.ProcessingDuration,
		EntityID: deref(w.EntityID), EntityUID: *w.EntityUID, Status: "Pending", EntityType: "GenAI",
		RetryCount: deref(w.RetryCount), Tags: w.Tags,
	}
	if len(r.Context) == 0 {
		r.Context = json.RawMessage("null")
	}
	if r.Tags == nil {
		r.Tags = []string{}
	}
	if w.Status != nil {
		if !validStatus(*w.Status) {
			return nil, &fieldError{field: "record.status", msg: fmt.Sprintf("unknown status %q (want All, Pending, Processing, Processed or Failed)", *w.Status)}
		}
		r.Status = *w.Status
	}
	if w.EntityType != nil {
		if !validEntityType(*w.EntityType) {
			return nil, &fieldError{field: "record.entity_type", msg: fmt.Sprintf("unknown entity type %q (want Feature, Metric or GenAI)", *w.EntityType)}
		}
		r.EntityType = *w.EntityType
	}
	if w.TraceID != nil {
		id, ok := normalizeTraceID(*w.TraceID)
		if !ok {
			return nil, &fieldError{field: "record.trace_id", msg: fmt.Sprintf("expected 32 hex characters, got %q", *w.TraceID)}
		}
		r.TraceID = &id
	}
	return r, nil
}

type wireTask struct {
	CreatedAt *Time           `json:"created_at"`
	StartTime *Time           `json:"start_time"`
	EndTime   *Time           `json:"end_time"`
	RecordUID *string         `json:"record_uid"`
	EntityID  *int32          `json:"entity_id"`
	TaskID    *string         `json:"task_id"`
	TaskType  *string         `json:"task_type"`
	Passed    *bool           `json:"passed"`
	Value     *float64        `json:"value"`
	Assertion json.RawMessage `json:"assertion"`
	Operator  *string         `json:"operator"`
	Expected  json.RawMessage `json:"expected"`
	Actual    json.RawMessage `json:"actual"`
	Message   *string         `json:"message"`
	EntityUID *string         `json:"entity_uid"`
	Condition *bool           `json:"condition"`
	Stage     *int32          `json:"stage"`
}

func decodeTask(payload json.RawMessage) (*EvalTaskResult, error) {
	var w wireTask
	if err := unmarshalPayload(payload, &w); err != nil {
		return nil, err
	}
	switch {
	case w.CreatedAt == nil:
		return nil, missing("created_at", "datetime")
	case w.StartTime == nil:
		return nil, missing("start_time", "datetime")
	case w.EndTime == nil:
		return nil, missing("end_time", "datetime")
	case w.RecordUID == nil:
		return nil, missing("record_uid", "string")
	case w.TaskID == nil:
		return nil, missing("task_id", "string")
	case w.TaskType == nil:
		return nil, missing("task_type", "string")
	case w.Passed == nil:
		return nil, missing("passed", "boolean")
	case w.Value == nil:
		return nil, missing("value", "number")
	case len(w.Assertion) == 0 || jsonKind(w.Assertion) == "null":
		return nil, missing("assertion", "object")
	case w.Operator == nil:
		return nil, missing("operator", "string")
	case w.EntityUID == nil:
		return nil, missing("entity_uid", "string")
	case w.Stage == nil:
		return nil, missing("stage", "integer")
	}
	if !validTaskType(*w.TaskType) {
		return nil, &fieldError{field: "task_type", msg: fmt.Sprintf("unknown task type %q", *w.TaskType)}
	}
	if !validOperator(*w.Operator) {
		return nil, &fieldError{field: "operator", msg: fmt.Sprintf("unknown comparison operator %q", *w.Operator)}
	}
	if err := validateAssertion(w.Assertion); err != nil {
		return nil, err
	}
	r := &EvalTaskResult{
		CreatedAt: *w.CreatedAt, StartTime: *w.StartTime, EndTime: *w.EndTime, RecordUID: *w.RecordUID,
		EntityID: deref(w.EntityID), TaskID: *w.TaskID, TaskType: *w.TaskType, Passed: *w.Passed,
		Value: *w.Value, Assertion: w.Assertion, Operator: *w.Operator, Expected: orNull(w.Expected),
		Actual: orNull(w.Actual), Message: deref(w.Message), EntityUID: *w.EntityUID,
		Condition: deref(w.Condition), Stage: *w.Stage,
	}
	return r, nil
}

// validateAssertion checks the externally tagged Assertion enum.
func validateAssertion(raw json.RawMessage) error {
	if k := jsonKind(raw); k != "object" {
		return &fieldError{field: "assertion", msg: "expected object, got " + k}
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return &fieldError{field: "assertion", msg: err.Error()}
	}
	if len(m) != 1 {
		return &fieldError{field: "assertion", msg: fmt.Sprintf("expected exactly one variant key, got %d", len(m))}
	}
	for k, v := range m {
		switch k {
		case "FieldPath":
			if kk := jsonKind(v); kk != "string" && kk != "null" {
				return &fieldError{field: "assertion.FieldPath", msg: "expected string or null, got " + kk}
			}
		case "TraceAssertion", "AgentAssertion":
			if kk := jsonKind(v); kk != "object" {
				return &fieldError{field: "assertion." + k, msg: "expected object, got " + kk}
			}
		default:
			return &fieldError{field: "assertion", msg: fmt.Sprintf("unknown assertion variant %q (want FieldPath, TraceAssertion or AgentAssertion)", k)}
		}
	}
	return nil
}

type wireWorkflow struct {
	CreatedAt     *Time          `json:"created_at"`
	RecordUID     *string        `json:"record_uid"`
	EntityID      *int32         `json:"entity_id"`
	TotalTasks    *int32         `json:"total_tasks"`
	PassedTasks   *int32         `json:"passed_tasks"`
	FailedTasks   *int32         `json:"failed_tasks"`
	PassRate      *float64       `json:"pass_rate"`
	DurationMs    *int64         `json:"duration_ms"`
	EntityUID     *string        `json:"entity_uid"`
	ExecutionPlan *ExecutionPlan `json:"execution_plan"`
	ID            *int64         `json:"id"`
}

func decodeWorkflow(payload json.RawMessage) (*GenAIEvalWorkflowResult, error) {
	var w wireWorkflow
	if err := unmarshalPayload(payload, &w); err != nil {
		return nil, err
	}
	switch {
	case w.CreatedAt == nil:
		return nil, missing("created_at", "datetime")
	case w.RecordUID == nil:
		return nil, missing("record_uid", "string")
	case w.TotalTasks == nil:
		return nil, missing("total_tasks", "integer")
	case w.PassedTasks == nil:
		return nil, missing("passed_tasks", "integer")
	case w.FailedTasks == nil:
		return nil, missing("failed_tasks", "integer")
	case w.PassRate == nil:
		return nil, missing("pass_rate", "number")
	case w.DurationMs == nil:
		return nil, missing("duration_ms", "integer")
	case w.EntityUID == nil:
		return nil, missing("entity_uid", "string")
	case w.ExecutionPlan == nil:
		return nil, missing("execution_plan", "object")
	}
	plan := *w.ExecutionPlan
	if plan.Stages == nil {
		plan.Stages = [][]string{}
	}
	for i := range plan.Stages {
		if plan.Stages[i] == nil {
			plan.Stages[i] = []string{}
		}
	}
	if plan.Nodes == nil {
		plan.Nodes = map[string]*ExecutionNode{}
	}
	for k, n := range plan.Nodes {
		if n == nil {
			return nil, &fieldError{field: "execution_plan.nodes." + k, msg: "expected object, got null"}
		}
		if n.Parents == nil {
			n.Parents = []string{}
		}
		if n.Children == nil {
			n.Children = []string{}
		}
	}
	return &GenAIEvalWorkflowResult{
		CreatedAt: *w.CreatedAt, RecordUID: *w.RecordUID, EntityID: deref(w.EntityID),
		TotalTasks: *w.TotalTasks, PassedTasks: *w.PassedTasks, FailedTasks: *w.FailedTasks,
		PassRate: *w.PassRate, DurationMs: *w.DurationMs, EntityUID: *w.EntityUID,
		ExecutionPlan: plan, ID: deref(w.ID),
	}, nil
}

// recordType maps a variant key to its constant without allocating for the
// known ones.
func recordType(key []byte) RecordType {
	switch string(key) {
	case string(TypeSpc):
		return TypeSpc
	case string(TypePsi):
		return TypePsi
	case string(TypeCustom):
		return TypeCustom
	case string(TypeObservability):
		return TypeObservability
	case string(TypeGenAIEval):
		return TypeGenAIEval
	case string(TypeGenAITask):
		return TypeGenAITask
	case string(TypeGenAIWorkflow):
		return TypeGenAIWorkflow
	}
	return RecordType(key)
}

func deref[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}

func orNull(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 {
		return json.RawMessage("null")
	}
	return raw
}

// normalizeTraceID accepts 32 hex characters (either case) and returns them
// lower-cased.
func normalizeTraceID(s string) (string, bool) {
	if len(s) != 32 {
		return "", false
	}
	b := []byte(s)
	for i, c := range b {
		switch {
		case c >= '0' && c <= '9', c >= 'a' && c <= 'f':
		case c >= 'A' && c <= 'F':
			b[i] = c + ('a' - 'A')
		default:
			return "", false
		}
	}
	return string(b), true
}

func validStatus(s string) bool {
	switch s {
	case "All", "Pending", "Processing", "Processed", "Failed":
		return true
	}
	return false
}

func validEntityType(s string) bool {
	switch s {
	case "Feature", "Metric", "GenAI":
		return true
	}
	return false
}

func validTaskType(s string) bool {
	switch s {
	case "Assertion", "LLMJudge", "Conditional", "HumanValidation", "TraceAssertion", "AgentAssertion":
		return true
	}
	return false
}

// validOperator reports whether s is one of the 46 ComparisonOperator names.
func validOperator(s string) bool {
	switch s {
	case "Equals", "NotEqual", "GreaterThan", "GreaterThanOrEqual", "LessThan", "LessThanOrEqual",
		"Contains", "NotContains", "StartsWith", "EndsWith", "Matches",
		"HasLengthGreaterThan", "HasLengthLessThan", "HasLengthEqual", "HasLengthGreaterThanOrEqual",
		"HasLengthLessThanOrEqual", "IsNumeric", "IsString", "IsBoolean", "IsNull", "IsArray", "IsObject",
		"IsEmail", "IsUrl", "IsUuid", "IsIso8601", "IsJson", "MatchesRegex", "InRange", "NotInRange",
		"IsPositive", "IsNegative", "IsZero", "SequenceMatches", "ContainsAll", "ContainsAny",
		"ContainsNone", "IsEmpty", "IsNotEmpty", "HasUniqueItems", "IsAlphabetic", "IsAlphanumeric",
		"IsLowerCase", "IsUpperCase", "ContainsWord", "ApproximatelyEquals":
		return true
	}
	return false
}
