package record

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

// referenceDecode is Decode without the one-pass decoder: json.Valid, then
// the navigator and the encoding/json based decoders.
func referenceDecode(data []byte) (*Message, error) {
	if len(data) > MaxMessageSize {
		return nil, fmt.Errorf("decode message of %d bytes (limit %d): %w", len(data), MaxMessageSize, ErrTooLarge)
	}
	return decodeGeneral(data)
}

// sameAsReference reports how Decode and referenceDecode differ on data, or
// "" when they agree on the message, the error text and its details.
func sameAsReference(data []byte) string {
	got, gotErr := Decode(data)
	want, wantErr := referenceDecode(data)
	if (gotErr == nil) != (wantErr == nil) || gotErr != nil && gotErr.Error() != wantErr.Error() {
		return fmt.Sprintf("error: got %v, want %v", gotErr, wantErr)
	}
	for _, sentinel := range []error{ErrTooLarge, ErrMalformed, ErrInvalidRecords} {
		if errors.Is(gotErr, sentinel) != errors.Is(wantErr, sentinel) {
			return fmt.Sprintf("errors.Is(%v): got %v, want %v", sentinel, gotErr, wantErr)
		}
	}
	var gotRE, wantRE *RecordsError
	if errors.As(gotErr, &gotRE) != errors.As(wantErr, &wantRE) || !reflect.DeepEqual(gotRE, wantRE) {
		return fmt.Sprintf("records error: got %#v, want %#v", gotRE, wantRE)
	}
	if !reflect.DeepEqual(got, want) {
		g, _ := json.Marshal(got)
		w, _ := json.Marshal(want)
		return fmt.Sprintf("message: got %s, want %s", g, w)
	}
	return ""
}

// decodeSeeds are the inputs both differential tests start from.
func decodeSeeds(t testing.TB) [][]byte {
	seeds := [][]byte{fixture(t, "all_types.json"), fixture(t, "trace.json"), fixture(t, "tag.json"), spcMessage(3)}
	for _, s := range []string{
		``, ` `, `null`, `{}`, `[]`, `"records"`, `{"records":null}`, `{"records":[]}`, `{"records":{}}`, `{"records":[] }x`,
		`{"records":[null,1,"x",[],{}]}`, `{"records":[1,]}`, `{"records":[],"records":[{"Spc":{}}]}`,
		`{"records":[],"request":{}}`, `{"request":{},"records":[]}`, `{"rec\u006frds":[]}`, `{"records":[]`,
		`{"records":[{"Spc":{"created_at":"2026-03-26T12:00:00Z","uid":"u","feature":"f","value":"NaN"}}]}`,
		`{"records":[{"Spc":{"created_at":"2026-13-26T12:00:00Z","uid":"u","feature":"f","value":1}}]}`,
		`{"records":[{"Psi":{"created_at":"2026-03-26T12:00:00Z","uid":"u","feature":"f","bin_id":2147483648,"bin_count":1}}]}`,
		`{"records":[{"Psi":{"created_at":"2026-03-26T12:00:00Z","uid":"u","feature":"f","bin_id":-0,"bin_count":1e2}}]}`,
		`{"records":[{"Custom":{"created_at":"2026-03-26T12:00:00Z","uid":"u","metric":"m","value":-1.5E-3,"feature":[1,{"a":null}]}}]}`,
		`{"records":[{"Spc":{"created_at":"2026-03-26T12:00:00Z","uid":"u","uid":null,"feature":"f","value":1}}]}`,
		`{"records":[{"Spc":{"created_at":"2026-03-26T12:00:00Z","uid":"u","feature":"f","value":1,"entity_id":null}}]}`,
		`{"records":[{"Spc":{"created_at":"2026-03-26 12:00:00z","uid":"\u00e9\ud800","feature":"f\"","value":1}}]}`,
		`{"records":[{"Spc":{"created_at":"2026-03-26T12:00:00Z","uid":"u","feature":"f","value":01}}]}`,
		`{"records":[{"Spc":{"created_at":"2026-03-26T12:00:00Z","uid":"u","feature":"f","value":1.}}]}`,
		`{"records":[{"Spc":{"created_at":"2026-03-26T12:00:00Z","uid":"u","feature":"f","value":1,"x":tru}}]}`,
		`{"records":[{"Spc":{"created_at":"2026-03-26T12:00:00Z","uid":"u","feature":"f","value":1,"x":"\x"}}]}`,
		`{"records":[{"Spc":{"created_at":"2026-03-26T12:00:00Z","uid":"u","feature":"f","value":1,"x":"\u12G4"}}]}`,
		`{"records":[{"Spc":{"created_at":"2026-03-26T12:00:00Z","uid":"u","feature":"f","value":1}},{"Spc":1}]}`,
		`{"records":[{"GenAIEval":{"record":{"created_at":"2026-03-26T12:00:00Z","uid":"r","entity_uid":"u","trace_id":"ZZ"}}}]}`,
		`{"records":[{"GenAIWorkflowRecord":{"execution_plan":{"nodes":{"a":null}}}}]}`,
		`{"records":[{"Observability":{"route_metrics":[{"status_codes":{"-1":1}}]}}]}`,
		`{"request":null}`, `{"request":{"resourceSpans":[]}}`,
		`{"entity_type":"t","entity_id":"i","key":"k","value":null}`,
		"{\"records\":[{\"Spc\":{\"uid\":\"\xff\"}}]}", "{\"records\":[{\"Spc\":{\"uid\":\"\x01\"}}]}",
		"{\"records\":[{\"Spc\xff\":{}}]}", "{\"records\xff\":[]}",
		`{"records":[{"Spc":{"created_at":"2026-03-26T12:00:00Z","uid":"u","feature":"f","value":1}}` + strings.Repeat(" ", 10) + `]}`,
	} {
		seeds = append(seeds, []byte(s))
	}
	// Nesting around encoding/json's limit of 10000, in a payload and at the top.
	for _, n := range []int{maxDepth - depthPayload, maxDepth - depthPayload + 1, maxDepth - 1, maxDepth} {
		deep := strings.Repeat("[", n) + strings.Repeat("]", n)
		seeds = append(seeds,
			[]byte(`{"records":[{"Spc":{"created_at":"2026-03-26T12:00:00Z","uid":"u","feature":"f","value":1,"x":`+deep+`}}]}`),
			[]byte(`{"records":[],"x":`+deep+`}`))
	}
	return seeds
}

// randomMessage builds a ServerRecords message from valid and invalid
// Spc/Psi/Custom pieces, so both decoders take every branch.
func randomMessage(r *rand.Rand) []byte {
	pick := func(opts ...string) string { return opts[r.IntN(len(opts))] }
	times := []string{`"2026-03-26T12:00:00Z"`, `"2026-03-26T12:00:00.123456789+02:00"`, `"2026-03-26t12:00:00z"`,
		`"2026-02-30T12:00:00Z"`, `"yesterday"`, `null`, `1711454400`, `"2026-03-26T12:00:00\u005a"`}
	strs := []string{`"u"`, `"019ae1b4-3003"`, `""`, `"a\"b"`, `"caf\u00e9"`, "\"caf\xc3\xa9\"", "\"\xff\"", `null`, `7`, `true`, `["u"]`}
	nums := []string{`0`, `-0`, `1.5`, `-2e3`, `1e999`, `2147483647`, `2147483648`, `-2147483649`, `1E+2`, `null`, `"1"`, `false`, `{}`}
	keys := map[string][]string{
		"created_at": times, "uid": strs, "feature": strs, "metric": strs, "value": nums,
		"bin_id": nums, "bin_count": nums, "entity_id": nums, "extra": append(append([]string{`[1,{"a":[null]}]`}, strs...), nums...),
	}
	names := []string{"created_at", "uid", "feature", "metric", "value", "bin_id", "bin_count", "entity_id", "extra", "u\\u0069d"}
	var b strings.Builder
	b.WriteString(pick(`{"records":[`, ` { "records" : [ `, `{"other":1,"records":[`))
	for i := range r.IntN(6) {
		if i > 0 {
			b.WriteString(pick(",", " , "))
		}
		if r.IntN(10) == 0 {
			b.WriteString(pick(`null`, `{}`, `{"Spc":{},"Psi":{}}`, `{"Unknown":{}}`, `{"Spc":null}`, `[]`))
			continue
		}
		typ := pick("Spc", "Psi", "Custom", "Sp\\u0063")
		fields := map[string][]string{"Psi": {"created_at", "uid", "feature", "bin_id", "bin_count"},
			"Custom": {"created_at", "uid", "metric", "value"}}[typ]
		if fields == nil {
			fields = []string{"created_at", "uid", "feature", "value"}
		}
		if r.IntN(2) == 0 {
			fields = append(fields, "entity_id")
		}
		for range r.IntN(3) {
			fields = append(fields, names[r.IntN(len(names))])
		}
		r.Shuffle(len(fields), func(i, j int) { fields[i], fields[j] = fields[j], fields[i] })
		if r.IntN(10) == 0 {
			fields = fields[:r.IntN(len(fields))]
		}
		b.WriteString(`{"` + typ + `":{`)
		for j, name := range fields {
			if j > 0 {
				b.WriteString(pick(",", " ,\n"))
			}
			vals := keys[name]
			if vals == nil {
				vals = strs
			}
			if r.IntN(10) != 0 {
				vals = vals[:3] // the valid ones come first
			}
			b.WriteString(`"` + name + `":` + pick(vals...))
		}
		b.WriteString("}}")
	}
	b.WriteString(pick(`]}`, `] }`, `],"request":{}}`, `]`, `]}}`))
	out := []byte(b.String())
	if r.IntN(8) == 0 && len(out) > 0 { // an occasional broken byte
		out[r.IntN(len(out))] = pick("\"", "{", "]", ",", "\x00", "x")[0]
	}
	return out
}

func TestOnePassMatchesReference(t *testing.T) {
	for _, seed := range decodeSeeds(t) {
		require.Empty(t, sameAsReference(seed), "input %.200q", seed)
	}
	// Complete records of each fast type, so the comparison also covers the success path.
	for _, elem := range []string{
		`{"Spc":{"created_at":"2026-03-26T12:00:00.5+01:00","uid":"u","feature":"f","value":1.25,"entity_id":3}}`,
		`{"Psi":{"created_at":"2026-03-26T12:00:00Z","uid":"u","feature":"f","bin_id":2,"bin_count":0,"value":"ignored"}}`,
		`{"Custom":{"created_at":"2026-03-26T12:00:00Z","uid":"u","metric":"m","value":-0.5,"bin_id":"ignored"}}`,
	} {
		data := []byte(`{"records":[` + elem + `,` + elem + `]}`)
		msg, err := Decode(data)
		require.NoError(t, err)
		require.Len(t, msg.Records, 2)
		require.Empty(t, sameAsReference(data))
	}
	r := rand.New(rand.NewPCG(1, 2))
	for range 20000 {
		data := randomMessage(r)
		require.Empty(t, sameAsReference(data), "input %q", data)
	}
}

// FuzzDecodeDifferential checks that the one-pass decoder and the general
// decoder agree on every input.
func FuzzDecodeDifferential(f *testing.F) {
	for _, seed := range decodeSeeds(f) {
		f.Add(seed)
	}
	r := rand.New(rand.NewPCG(3, 4))
	for range 50 {
		f.Add(randomMessage(r))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if diff := sameAsReference(data); diff != "" {
			t.Fatalf("input %q: %s", data, diff)
		}
	})
}

func TestPlainByteTable(t *testing.T) {
	require.Len(t, plainByte, 256)
	for c := range 256 {
		want := c >= 0x20 && c < 0x80 && c != '"' && c != '\\'
		require.Equal(t, want, plainByte[c] == 1, "byte %#x", c)
	}
}

func TestParseUTCTimeMatchesParseTime(t *testing.T) {
	for _, s := range []string{
		"2026-03-26T12:00:00Z", "2026-03-26T12:00:00.1Z", "2026-03-26T12:00:00.123456789Z", "0000-01-01T00:00:00Z",
		"9999-12-31T23:59:59.999999999Z", "2024-02-29T00:00:00Z", "2026-02-29T00:00:00Z", "2026-04-31T00:00:00Z",
		"2026-03-26T12:00:00.Z", "2026-03-26T12:00:00.1234567890Z", "2026-03-26T24:00:00Z", "2026-03-26T12:60:00Z",
		"2026-03-26T12:00:60Z", "2026-00-26T12:00:00Z", "2026-13-26T12:00:00Z", "2026-03-00T12:00:00Z",
		"2026-03-26t12:00:00Z", "2026-03-26T12:00:00z", "2026-03-26T12:00:00+00:00", "+026-03-26T12:00:00Z",
		"2026-03-26T12:00:00,5Z", "2026-03-26T12:00:00.-5Z", "2026-3-26T12:00:00Z", "2026-03-26T12:00:00.5x5Z",
	} {
		got, ok := parseUTCTime([]byte(s))
		want, err := ParseTime(s)
		if ok {
			require.NoError(t, err, s)
			require.True(t, reflect.DeepEqual(want, got), "%s: got %v, want %v", s, got, want)
		}
	}
	_, ok := parseUTCTime([]byte("2026-03-26T12:00:00.123Z"))
	require.True(t, ok, "the common form takes the fast path")
}
