package record

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

func TestDecodeAllTypes(t *testing.T) {
	raw := fixture(t, "all_types.json")
	msg, err := Decode(raw)
	require.NoError(t, err)
	require.Equal(t, KindRecords, msg.Kind)
	require.Equal(t, 7, msg.Total)
	require.Len(t, msg.Records, 7)

	wantTypes := []RecordType{TypeSpc, TypePsi, TypeCustom, TypeObservability, TypeGenAIEval, TypeGenAITask, TypeGenAIWorkflow}
	for i, r := range msg.Records {
		assert.Equal(t, i, r.Index)
		assert.Equal(t, wantTypes[i], r.Type)
		assert.Equal(t, "019ae1b4-0000", r.UID(), "record %d", i)
	}

	spc := msg.Records[0].Spc
	require.NotNil(t, spc)
	assert.Equal(t, time.Date(2026, 3, 26, 12, 0, 0, 1000, time.UTC), spc.CreatedAt.Time)
	assert.Equal(t, SpcRecord{CreatedAt: spc.CreatedAt, UID: "019ae1b4-0000", Feature: "col_1", Value: 10.5}, *spc)

	psi := msg.Records[1].Psi
	require.NotNil(t, psi)
	assert.Equal(t, int32(1), psi.BinID)
	assert.Equal(t, int32(37), psi.BinCount)

	assert.Equal(t, "mse", msg.Records[2].Custom.Metric)

	obs := msg.Records[3].Observability
	require.NotNil(t, obs)
	require.Len(t, obs.RouteMetrics, 1)
	assert.Equal(t, map[uint64]int64{200: 9, 500: 1}, obs.RouteMetrics[0].StatusCodes)
	assert.Equal(t, 5.0, obs.RouteMetrics[0].Metrics.P99)

	ev := msg.Records[4].GenAIEval
	require.NotNil(t, ev)
	assert.Equal(t, "0123456789abcdef0123456789abcdef", *ev.TraceID, "trace ids are lower-cased")
	assert.Equal(t, []string{"env=prod"}, ev.Tags)
	assert.JSONEq(t, `{"input":"input0","response":"output0"}`, string(ev.Context))
	assert.Equal(t, 123456789, ev.CreatedAt.Nanosecond())

	task := msg.Records[5].GenAITask
	require.NotNil(t, task)
	assert.Equal(t, "Contains", task.Operator)
	assert.JSONEq(t, `{"FieldPath":"field.path.0"}`, string(task.Assertion))
	assert.JSONEq(t, "null", string(task.Expected))

	wf := msg.Records[6].GenAIWorkflow
	require.NotNil(t, wf)
	assert.Equal(t, [][]string{{"a"}, {"b"}}, wf.ExecutionPlan.Stages)
	assert.Equal(t, uint32(1), wf.ExecutionPlan.Nodes["b"].Stage)

	// Re-encoding gives the wire form back (trace id case aside).
	out, err := json.Marshal(map[string]any{"records": msg.Records})
	require.NoError(t, err)
	want := strings.Replace(string(raw), "0123456789ABCDEF", "0123456789abcdef", 1)
	assert.JSONEq(t, want, string(out))
}

func TestDecodeLenient(t *testing.T) {
	raw := `{"records":[
		{"Spc":{"created_at":"2026-03-26T14:00:00+02:00","uid":"u","feature":"f","value":1}},
		{"Psi":{"created_at":"2026-03-26t12:00:00z","uid":"u","feature":"f","bin_id":-3,"bin_count":0,"future":"x"}},
		{"GenAIEval":{"record":{"created_at":"2026-03-26T12:00:00Z","uid":"r","entity_uid":"u"}}},
		{"GenAIWorkflowRecord":{"created_at":"2026-03-26T12:00:00Z","record_uid":"r","total_tasks":0,"passed_tasks":0,"failed_tasks":0,"pass_rate":0,"duration_ms":0,"entity_uid":"u","execution_plan":{}}}
	]}`
	msg, err := Decode([]byte(raw))
	require.NoError(t, err)
	require.Len(t, msg.Records, 4)
	assert.Equal(t, time.Date(2026, 3, 26, 12, 0, 0, 0, time.UTC), msg.Records[0].Spc.CreatedAt.Time, "offsets convert to UTC")
	assert.Equal(t, time.Date(2026, 3, 26, 12, 0, 0, 0, time.UTC), msg.Records[1].Psi.CreatedAt.Time)
	assert.Equal(t, int32(0), msg.Records[0].Spc.EntityID)
	ev := msg.Records[2].GenAIEval
	assert.Equal(t, "Pending", ev.Status)
	assert.Equal(t, []string{}, ev.Tags)
	assert.JSONEq(t, "null", string(ev.Context))
	assert.Nil(t, ev.TraceID)
	plan := msg.Records[3].GenAIWorkflow.ExecutionPlan
	b, err := json.Marshal(plan)
	require.NoError(t, err)
	assert.JSONEq(t, `{"stages":[],"nodes":{}}`, string(b))
}

func TestDecodeInvalidRecords(t *testing.T) {
	good := `{"Spc":{"created_at":"2026-03-26T12:00:00Z","uid":"u","feature":"f","value":1.5,"entity_id":0}}`
	tests := []struct {
		elem string
		want string // the RecordError text for index 1
	}{
		{`{"Spc":{"created_at":"2026-03-26T12:00:00Z","uid":"u","feature":"f","value":"1.5"}}`, "records[1].Spc.value: expected number, got string"},
		{`{"Spc":{"created_at":"2026-03-26T12:00:00Z","uid":"u","feature":"f","value":null}}`, "records[1].Spc.value: required number is missing or null"},
		{`{"Spc":{"created_at":"2026-03-26T12:00:00Z","uid":"u","feature":"f"}}`, "records[1].Spc.value: required number is missing or null"},
		{`{"Spc":{"created_at":"2026-03-26T12:00:00Z","uid":"u","feature":"f","value":1e999}}`, "records[1].Spc.value: number 1e999 is out of range"},
		{`{"Spc":{"uid":"u","feature":"f","value":1}}`, "records[1].Spc.created_at: required datetime is missing or null"},
		{`{"Spc":{"created_at":"yesterday","uid":"u","feature":"f","value":1}}`, `records[1].Spc.created_at: expected RFC3339 datetime, got string "yesterday"`},
		{`{"Spc":{"created_at":1711454400,"uid":"u","feature":"f","value":1}}`, "records[1].Spc.created_at: expected RFC3339 datetime, got number"},
		{`{"Spc":{"created_at":"2026-03-26T12:00:00Z","uid":7,"feature":"f","value":1}}`, "records[1].Spc.uid: expected string, got number"},
		{`{"Spc":{"created_at":"2026-03-26T12:00:00Z","uid":"u","feature":"f","value":1,"entity_id":"0"}}`, "records[1].Spc.entity_id: expected 32-bit integer, got string"},
		{`{"Spc":null}`, "records[1].Spc: expected object, got null"},
		{`{"Spc":[1]}`, "records[1].Spc: expected object, got array"},
		{`{"Psi":{"created_at":"2026-03-26T12:00:00Z","uid":"u","feature":"f","bin_id":1.5,"bin_count":1}}`, "records[1].Psi.bin_id: expected 32-bit integer, got number 1.5"},
		{`{"Psi":{"created_at":"2026-03-26T12:00:00Z","uid":"u","feature":"f","bin_id":1,"bin_count":3000000000}}`, "records[1].Psi.bin_count: expected 32-bit integer, got number 3000000000"},
		{`{"Custom":{"created_at":"2026-03-26T12:00:00Z","uid":"u","value":1}}`, "records[1].Custom.metric: required string is missing or null"},
		{`{"Observability":{"uid":"u","request_count":1,"error_count":0,"route_metrics":[{"route_name":"r","metrics":{"p5":1,"p25":1,"p50":1,"p95":1},"request_count":1,"error_count":0,"error_latency":0,"status_codes":{}}]}}`, "records[1].Observability.route_metrics[0].metrics.p99: required number is missing or null"},
		{`{"Observability":{"uid":"u","request_count":1,"error_count":0,"route_metrics":[{"route_name":"r","metrics":{"p5":1,"p25":1,"p50":1,"p95":1,"p99":"x"},"request_count":1,"error_count":0,"error_latency":0,"status_codes":{}}]}}`, "records[1].Observability.route_metrics.metrics.p99: expected number, got string"},
		{`{"Observability":{"uid":"u","request_count":1,"error_count":0,"route_metrics":[{"route_name":"r","metrics":{"p5":1,"p25":1,"p50":1,"p95":1,"p99":1},"request_count":1,"error_count":0,"error_latency":0,"status_codes":{"ok":1}}]}}`, "records[1].Observability.route_metrics.status_codes: expected non-negative 64-bit integer, got number ok"},
		{`{"GenAIEval":{"rec":{}}}`, "records[1].GenAIEval.record: required object is missing or null"},
		{`{"GenAIEval":{"record":{"created_at":"2026-03-26T12:00:00Z","uid":"r","entity_uid":"u","trace_id":"abc"}}}`, `records[1].GenAIEval.record.trace_id: expected 32 hex characters, got "abc"`},
		{`{"GenAIEval":{"record":{"created_at":"2026-03-26T12:00:00Z","uid":"r","entity_uid":"u","status":"Done"}}}`, `records[1].GenAIEval.record.status: unknown status "Done"`},
		{`{"GenAIEval":{"record":{"created_at":"2026-03-26T12:00:00Z","uid":"r","entity_uid":"u","tags":"a=b"}}}`, "records[1].GenAIEval.record.tags: expected array, got string"},
		{`{"GenAIEval":{"record":{"created_at":"2026-03-26T12:00:00Z","uid":"r"}}}`, "records[1].GenAIEval.record.entity_uid: required string is missing or null"},
		{`{"GenAIEval":{"record":"x"}}`, "records[1].GenAIEval.record: expected object, got string"},
		{`{"GenAITaskRecord":{"created_at":"2026-03-26T12:00:00Z","start_time":"2026-03-26T12:00:00Z","end_time":"2026-03-26T12:00:00Z","record_uid":"r","task_id":"t","task_type":"Assertion","passed":true,"value":1,"assertion":{"FieldPath":null},"operator":"Approximately","entity_uid":"u","stage":0}}`, `records[1].GenAITaskRecord.operator: unknown comparison operator "Approximately"`},
		{`{"GenAITaskRecord":{"created_at":"2026-03-26T12:00:00Z","start_time":"2026-03-26T12:00:00Z","end_time":"2026-03-26T12:00:00Z","record_uid":"r","task_id":"t","task_type":"Assertion","passed":true,"value":1,"assertion":{"Path":"x"},"operator":"Equals","entity_uid":"u","stage":0}}`, `records[1].GenAITaskRecord.assertion: unknown assertion variant "Path"`},
		{`{"GenAITaskRecord":{"created_at":"2026-03-26T12:00:00Z","start_time":"2026-03-26T12:00:00Z","end_time":"2026-03-26T12:00:00Z","record_uid":"r","task_id":"t","task_type":"Assertion","passed":"yes","value":1,"assertion":{"FieldPath":null},"operator":"Equals","entity_uid":"u","stage":0}}`, "records[1].GenAITaskRecord.passed: expected boolean, got string"},
		{`{"GenAIWorkflowRecord":{"created_at":"2026-03-26T12:00:00Z","record_uid":"r","total_tasks":1,"passed_tasks":1,"failed_tasks":0,"pass_rate":1,"duration_ms":1,"entity_uid":"u","execution_plan":{"stages":[],"nodes":{"a":{"id":"a","stage":-1,"parents":[],"children":[]}}}}}`, "records[1].GenAIWorkflowRecord.execution_plan.nodes.stage: expected non-negative 32-bit integer, got number -1"},
		{`{"Unknown":{}}`, `records[1]: unknown record type "Unknown"`},
		{`{"spc":{}}`, `records[1]: unknown record type "spc"`},
		{`{"Spc":{},"Psi":{}}`, "records[1]: expected exactly one record type key, got 2"},
		{`{}`, "records[1]: expected exactly one record type key, got 0"},
		{`42`, "records[1]: expected an object with one record type key, got number"},
		{`null`, "records[1]: expected an object with one record type key, got null"},
	}
	for _, tc := range tests {
		t.Run(tc.want, func(t *testing.T) {
			raw := fmt.Sprintf(`{"records":[%s,%s,%s]}`, good, tc.elem, good)
			msg, err := Decode([]byte(raw))
			require.Error(t, err)
			require.NotNil(t, msg, "valid records must still be returned")
			assert.ErrorIs(t, err, ErrInvalidRecords)
			var re *RecordsError
			require.True(t, errors.As(err, &re))
			assert.Equal(t, 3, re.Total)
			assert.Equal(t, []int{1}, re.Indices())
			require.Len(t, re.Invalid, 1)
			assert.Equal(t, tc.want, re.Invalid[0].Error()[:min(len(tc.want), len(re.Invalid[0].Error()))], "got %q", re.Invalid[0].Error())
			assert.Equal(t, tc.elem, string(re.Invalid[0].Raw), "the raw element is kept verbatim")
			require.Len(t, msg.Records, 2)
			assert.Equal(t, 0, msg.Records[0].Index)
			assert.Equal(t, 2, msg.Records[1].Index)
			assert.Equal(t, 3, msg.Total)
		})
	}
}

func TestRecordsErrorListsAll(t *testing.T) {
	var elems []string
	for i := range 8 {
		if i%2 == 0 {
			elems = append(elems, `{"Spc":{"created_at":"2026-03-26T12:00:00Z","uid":"u","feature":"f","value":1}}`)
		} else {
			elems = append(elems, `{"Nope":{}}`)
		}
	}
	msg, err := Decode([]byte(`{"records":[` + strings.Join(elems, ",") + `]}`))
	var re *RecordsError
	require.True(t, errors.As(err, &re))
	assert.Equal(t, []int{1, 3, 5, 7}, re.Indices())
	assert.Len(t, msg.Records, 4)
	assert.Contains(t, err.Error(), "4 of 8 records invalid")
	assert.Contains(t, err.Error(), "records[7]")
}

func TestDecodeEnvelope(t *testing.T) {
	t.Run("trace", func(t *testing.T) {
		raw := fixture(t, "trace.json")
		msg, err := Decode(raw)
		require.NoError(t, err)
		assert.Equal(t, KindTrace, msg.Kind)
		require.NotNil(t, msg.Trace)
		var want struct {
			Request json.RawMessage `json:"request"`
		}
		require.NoError(t, json.Unmarshal(raw, &want))
		assert.Equal(t, string(want.Request), string(msg.Trace.Request), "the OTLP JSON is kept verbatim")
	})
	t.Run("tag", func(t *testing.T) {
		msg, err := Decode(fixture(t, "tag.json"))
		require.NoError(t, err)
		assert.Equal(t, KindTag, msg.Kind)
		assert.Equal(t, TagRecord{EntityType: "trace", EntityID: "0123456789abcdef0123456789abcdef",
			Key: "scouter.queue.record", Value: "0123456789abcdef0123456789abcdef"}, *msg.Tag)
	})
	t.Run("records wins over request", func(t *testing.T) {
		msg, err := Decode([]byte(`{"records":[],"request":{}}`))
		require.NoError(t, err)
		assert.Equal(t, KindRecords, msg.Kind)
		assert.Empty(t, msg.Records)
		assert.Nil(t, msg.GroupByType())
	})
	tests := []struct {
		name string
		raw  string
		want error
		text string
	}{
		{"not json", `{"records":[`, ErrMalformed, "invalid JSON"},
		{"empty", ``, ErrMalformed, "invalid JSON"},
		{"array", `[1,2]`, ErrMalformed, "expected a JSON object, got array"},
		{"string", `"x"`, ErrMalformed, "expected a JSON object, got string"},
		{"null", `null`, ErrMalformed, "got null"},
		{"no variant", `{"foo":1}`, ErrMalformed, "none of"},
		{"records not array", `{"records":{"Spc":{}}}`, ErrMalformed, "records: expected array, got object"},
		{"records null", `{"records":null}`, ErrMalformed, "records: expected array, got null"},
		{"request not object", `{"request":[]}`, ErrMalformed, "request: expected object, got array"},
		{"tag missing key", `{"entity_type":"trace","entity_id":"x","value":"v"}`, ErrMalformed, "key: required string"},
		{"tag wrong type", `{"entity_type":"trace","entity_id":5,"key":"k","value":"v"}`, ErrMalformed, "entity_id: expected string, got number"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			msg, err := Decode([]byte(tc.raw))
			assert.Nil(t, msg)
			assert.ErrorIs(t, err, tc.want)
			assert.Contains(t, err.Error(), tc.text)
		})
	}
}

func TestDecodeSizeLimit(t *testing.T) {
	big := bytes.Repeat([]byte(" "), MaxMessageSize+1)
	msg, err := Decode(big)
	assert.Nil(t, msg)
	assert.ErrorIs(t, err, ErrTooLarge)

	// Exactly at the limit is accepted (whitespace padding around a valid message).
	valid := []byte(`{"records":[]}`)
	atLimit := append(bytes.Repeat([]byte(" "), MaxMessageSize-len(valid)), valid...)
	_, err = Decode(atLimit)
	assert.NoError(t, err)
}

func TestGroupByType(t *testing.T) {
	spc := `{"Spc":{"created_at":"2026-03-26T12:00:00Z","uid":"u","feature":"f","value":1}}`
	cus := `{"Custom":{"created_at":"2026-03-26T12:00:00Z","uid":"u","metric":"m","value":1}}`
	raw := `{"records":[` + strings.Join([]string{cus, spc, `{"Bad":1}`, cus, spc, spc}, ",") + `]}`
	msg, err := Decode([]byte(raw))
	require.ErrorIs(t, err, ErrInvalidRecords)
	groups := msg.GroupByType()
	require.Len(t, groups, 2)
	assert.Equal(t, TypeCustom, groups[0].Type)
	assert.Equal(t, TypeSpc, groups[1].Type)
	idx := func(g Group) []int {
		var out []int
		for _, r := range g.Records {
			out = append(out, r.Index)
		}
		return out
	}
	assert.Equal(t, []int{0, 3}, idx(groups[0]))
	assert.Equal(t, []int{1, 4, 5}, idx(groups[1]))
}

func TestServerRecordMarshalUnknownType(t *testing.T) {
	_, err := json.Marshal(ServerRecord{Type: "Nope"})
	assert.Error(t, err)
}

func TestDecodeEscapesAndUTF8(t *testing.T) {
	raw := "{\"rec\\u006frds\":[{\"Sp\\u0063\":{\"created_at\":\"2026-03-26T12:00:00Z\",\"u\\u0069d\":\"a\\\"b\",\"feature\":\"caf\xc3\xa9 \xff\",\"value\":-0.0}}]}"
	msg, err := Decode([]byte(raw))
	require.NoError(t, err)
	require.Len(t, msg.Records, 1)
	r := msg.Records[0].Spc
	assert.Equal(t, `a"b`, r.UID)
	assert.Equal(t, "café \uFFFD", r.Feature, "invalid UTF-8 becomes U+FFFD, as with encoding/json")
}
