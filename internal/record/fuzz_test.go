package record

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"
)

// FuzzDecode checks that no input panics Decode, that the error contract
// holds, and that valid records re-encode to something Decode accepts.
func FuzzDecode(f *testing.F) {
	for _, name := range []string{"all_types.json", "trace.json", "tag.json"} {
		f.Add(fixture(f, name))
	}
	for _, s := range []string{
		``, `null`, `{}`, `[]`, `"records"`, `{"records":null}`, `{"records":[]}`, `{"records":{}}`,
		`{"records":[null,1,"x",[],{}]}`,
		`{"records":[{"Spc":{"created_at":"2026-03-26T12:00:00Z","uid":"u","feature":"f","value":"NaN"}}]}`,
		`{"records":[{"Spc":{"created_at":"2026-13-26T12:00:00Z","uid":"u","feature":"f","value":1}}]}`,
		`{"records":[{"Psi":{"created_at":"2026-03-26T12:00:00Z","uid":"u","feature":"f","bin_id":2147483648,"bin_count":1}}]}`,
		`{"records":[{"GenAIEval":{"record":{"created_at":"2026-03-26T12:00:00Z","uid":"r","entity_uid":"u","trace_id":"ZZ"}}}]}`,
		`{"records":[{"GenAIWorkflowRecord":{"execution_plan":{"nodes":{"a":null}}}}]}`,
		`{"records":[{"Observability":{"route_metrics":[{"status_codes":{"-1":1}}]}}]}`,
		`{"request":null}`, `{"request":{"resourceSpans":[]}}`,
		`{"entity_type":"t","entity_id":"i","key":"k","value":null}`,
		"{\"records\":[{\"Spc\":{\"uid\":\"\xff\"}}]}",
		`{"records":[{"Spc":{"created_at":"2026-03-26T12:00:00Z","uid":"u","feature":"f","value":1}}` + strings.Repeat(" ", 10) + `]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		msg, err := Decode(data)
		switch {
		case err == nil:
			if msg == nil {
				t.Fatal("nil message without error")
			}
		case errors.Is(err, ErrInvalidRecords):
			var re *RecordsError
			if !errors.As(err, &re) || msg == nil {
				t.Fatalf("ErrInvalidRecords without *RecordsError and message: %v", err)
			}
			if len(re.Invalid)+len(msg.Records) != msg.Total {
				t.Fatalf("valid %d + invalid %d != total %d", len(msg.Records), len(re.Invalid), msg.Total)
			}
		case errors.Is(err, ErrMalformed), errors.Is(err, ErrTooLarge):
			if msg != nil {
				t.Fatalf("message returned with %v", err)
			}
			return
		default:
			t.Fatalf("error outside the contract: %v", err)
		}
		if msg.Kind != KindRecords || len(msg.Records) == 0 {
			return
		}
		n := 0
		for _, g := range msg.GroupByType() {
			n += len(g.Records)
		}
		if n != len(msg.Records) {
			t.Fatalf("groups hold %d records, want %d", n, len(msg.Records))
		}
		out, err := json.Marshal(map[string]any{"records": msg.Records})
		if err != nil {
			t.Fatalf("re-encode: %v", err)
		}
		again, err := Decode(out)
		if err != nil {
			t.Fatalf("re-decode of own output failed: %v\n%s", err, out)
		}
		if len(again.Records) != len(msg.Records) {
			t.Fatalf("re-decode kept %d records, want %d", len(again.Records), len(msg.Records))
		}
	})
}

func spcMessage(n int) []byte {
	var b strings.Builder
	b.WriteString(`{"records":[`)
	base := time.Date(2026, 3, 26, 12, 0, 0, 0, time.UTC)
	for i := range n {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `{"Spc":{"created_at":"%s","uid":"019ae1b4-3003-77c1-8eed-2ec005e85963","feature":"feature_%d","value":%g,"entity_id":0}}`,
			FormatTime(base.Add(time.Duration(i)*time.Microsecond)), i%10, float64(i)*0.731)
	}
	b.WriteString(`]}`)
	return []byte(b.String())
}

func TestSpcMessageHelper(t *testing.T) {
	msg, err := Decode(spcMessage(1000))
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if len(msg.Records) != 1000 || msg.Records[999].Spc.Feature != "feature_9" {
		t.Fatalf("got %d records, want 1000", len(msg.Records))
	}
}

// BenchmarkDecode decodes a 1000-record SPC message (about 150 KB).
func BenchmarkDecode(b *testing.B) {
	data := spcMessage(1000)
	b.SetBytes(int64(len(data)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(data); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1000, "ns/record")
}

// FuzzScan runs the raw navigators on arbitrary (also invalid) JSON: they
// must stay in bounds whatever they are given.
func FuzzScan(f *testing.F) {
	for _, s := range []string{`{"a":[1,{"b":"c\""}],"d":null}`, `[1,"x",{}]`, `{"a"`, `[`, `"\`, `{"a":}`, `{,}`, `[,,]`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		eachMember(data, func(key, val []byte) { _ = skipValue(val, 0) })
		eachElement(data, func(val []byte) { _, _ = unquote(val) })
		for i := range data {
			if j := skipValue(data, i); j < i || j > len(data) {
				t.Fatalf("skipValue(%d) = %d out of range", i, j)
			}
		}
	})
}
