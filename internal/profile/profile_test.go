package profile

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

// edit decodes a fixture, applies fn to it and re-encodes it.
func edit(t testing.TB, name string, fn func(m map[string]any)) []byte {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(readFixture(t, name), &m))
	fn(m)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	require.NoError(t, enc.Encode(m))
	return buf.Bytes()
}

// at walks a dotted path of object keys and returns the parent object and last key.
func at(m map[string]any, path string) (map[string]any, string) {
	keys := strings.Split(path, ".")
	for _, k := range keys[:len(keys)-1] {
		m = m[k].(map[string]any)
	}
	return m, keys[len(keys)-1]
}

func set(path string, v any) func(map[string]any) {
	return func(m map[string]any) {
		parent, k := at(m, path)
		parent[k] = v
	}
}

func del(path string) func(map[string]any) {
	return func(m map[string]any) {
		parent, k := at(m, path)
		delete(parent, k)
	}
}

func TestParseFixtures(t *testing.T) {
	tests := []struct {
		file  string
		dt    DriftType
		check func(t *testing.T, p *Profile)
	}{
		{"spc.json", Spc, func(t *testing.T, p *Profile) {
			require.NotNil(t, p.Spc)
			assert.Equal(t, 25, p.Spc.SampleSize)
			f := p.Spc.Features["col_1"]
			assert.Equal(t, SpcFeature{ID: "col_1", Center: -3.997, OneUCL: -1.974, OneLCL: -6.020,
				TwoUCL: 0.049, TwoLCL: -8.043, ThreeUCL: 2.072, ThreeLCL: -10.066}, f)
			assert.Equal(t, [8]int{8, 16, 4, 8, 2, 4, 1, 1}, p.Spc.Rule.Counts)
			assert.Equal(t, []AlertZone{Zone1, Zone2, Zone3, Zone4}, p.Spc.ZonesToMonitor)
			assert.Equal(t, []string{"col_1"}, p.Spc.FeaturesToMonitor)
			assert.Equal(t, Dispatch{Kind: DispatchSlack, Channel: "#ml-alerts"}, p.Config.Dispatch)
			assert.Equal(t, "0 0 * * * *", p.Config.Schedule)
		}},
		{"psi.json", Psi, func(t *testing.T, p *Profile) {
			require.NotNil(t, p.Psi)
			f := p.Psi.Features["feature_1"]
			require.Len(t, f.Bins, 2)
			assert.Equal(t, BinNumeric, f.BinType)
			assert.True(t, math.IsInf(*f.Bins[0].Lower, -1), "got %v, want -Inf", *f.Bins[0].Lower)
			assert.Equal(t, -1.14, *f.Bins[0].Upper)
			assert.True(t, math.IsInf(*f.Bins[1].Upper, 1), "got %v, want +Inf", *f.Bins[1].Upper)
			assert.Equal(t, int32(2), f.Bins[1].ID)
			assert.Equal(t, PsiThreshold{Kind: ThresholdChiSquare, Alpha: 0.05}, p.Psi.Threshold)
			assert.Nil(t, p.Psi.CategoricalFeatures)
			assert.Equal(t, Dispatch{Kind: DispatchConsole, Enabled: true}, p.Config.Dispatch)
		}},
		{"custom.json", Custom, func(t *testing.T, p *Profile) {
			require.NotNil(t, p.Custom)
			assert.Equal(t, map[string]float64{"mse": 12.02, "accuracy": 0.75}, p.Custom.Metrics)
			one := 1.0
			assert.Equal(t, AlertCondition{BaselineValue: 12.02, AlertThreshold: Above, Delta: &one}, p.Custom.AlertConditions["mse"])
			assert.Equal(t, AlertCondition{BaselineValue: 0.75, AlertThreshold: Below}, p.Custom.AlertConditions["accuracy"])
			assert.Equal(t, Dispatch{Kind: DispatchOpsGenie, Team: "ml-team", Priority: "P3"}, p.Config.Dispatch)
		}},
		{"genai.json", GenAI, func(t *testing.T, p *Profile) {
			require.NotNil(t, p.GenAI)
			assert.Equal(t, []string{"input_check"}, p.GenAI.TaskIDs)
			require.NotNil(t, p.GenAI.AlertCondition)
			assert.Equal(t, 0.8, p.GenAI.AlertCondition.BaselineValue)
			assert.JSONEq(t, "null", string(p.GenAI.Workflow))
			assert.Nil(t, p.GenAI.Alias)
			assert.Contains(t, string(p.GenAI.Tasks), `"input_check"`)
		}},
	}
	for _, tc := range tests {
		t.Run(tc.file, func(t *testing.T) {
			raw := readFixture(t, tc.file)
			p, err := Parser{}.Parse(tc.dt, raw)
			require.NoError(t, err)
			assert.Equal(t, tc.dt, p.Type)
			assert.NotEmpty(t, p.Config.Space)
			assert.Equal(t, "0.1.0", p.Config.Version)
			assert.Equal(t, "019ae1b4-3003-77c1-8eed-2ec005e85963", p.Config.UID)
			assert.Equal(t, "0.25.0", p.Config.ScouterVersion)
			assert.JSONEq(t, string(raw), string(p.JSON()), "the profile must round-trip unchanged")
			tc.check(t, p)
		})
	}
}

func TestParseKeepsUnknownFields(t *testing.T) {
	for _, tc := range []struct {
		file string
		dt   DriftType
	}{{"spc.json", Spc}, {"psi.json", Psi}, {"custom.json", Custom}, {"genai.json", GenAI}} {
		t.Run(tc.file, func(t *testing.T) {
			raw := edit(t, tc.file, func(m map[string]any) {
				m["future_top"] = map[string]any{"nested": []any{1.5, "x", nil, true}}
				m["config"].(map[string]any)["future_cfg"] = "<&>"
				m["config"].(map[string]any)["alert_config"].(map[string]any)["future_alert"] = json.Number("12345678901234567890")
			})
			p, err := Parser{}.Parse(tc.dt, raw)
			require.NoError(t, err)
			out := string(p.JSON())
			assert.JSONEq(t, string(raw), out)
			assert.Contains(t, out, `"<&>"`, "HTML characters must not be escaped")
			assert.Contains(t, out, `12345678901234567890`, "numbers keep their exact text")
		})
	}
}

func TestSetUIDAndTagged(t *testing.T) {
	raw := readFixture(t, "custom.json")
	p, err := Parser{}.Parse(Custom, raw)
	require.NoError(t, err)

	p.SetUID("0190-new-uid")
	assert.Equal(t, "0190-new-uid", p.Config.UID)

	var inner map[string]any
	require.NoError(t, json.Unmarshal(p.JSON(), &inner))
	assert.Equal(t, "0190-new-uid", inner["config"].(map[string]any)["uid"])

	var tagged map[string]json.RawMessage
	require.NoError(t, json.Unmarshal(p.Tagged(), &tagged))
	require.Len(t, tagged, 1)
	assert.JSONEq(t, string(p.JSON()), string(tagged["Custom"]))

	// Everything except the uid is unchanged.
	var want map[string]any
	require.NoError(t, json.Unmarshal(raw, &want))
	want["config"].(map[string]any)["uid"] = "0190-new-uid"
	assert.Equal(t, want, inner)

	// The tagged form parses back, and stored JSON parses by config.drift_type.
	q, err := ParseTagged(p.Tagged())
	require.NoError(t, err)
	assert.Equal(t, p.Config, q.Config)
	s, err := ParseStored(p.JSON())
	require.NoError(t, err)
	assert.Equal(t, Custom, s.Type)
	assert.Equal(t, p.Custom, s.Custom)

	// ListedProfile marshals the profile externally tagged.
	b, err := json.Marshal([]ListedProfile{{Profile: p, Active: true}})
	require.NoError(t, err)
	var listed []struct {
		Profile map[string]json.RawMessage `json:"profile"`
		Active  bool                       `json:"active"`
	}
	require.NoError(t, json.Unmarshal(b, &listed))
	require.Len(t, listed, 1)
	assert.True(t, listed[0].Active)
	assert.Contains(t, listed[0].Profile, "Custom")
}

func TestParseFillsDriftTypeWhenAbsent(t *testing.T) {
	raw := edit(t, "psi.json", del("config.drift_type"))
	p, err := Parser{}.Parse(Psi, raw)
	require.NoError(t, err)
	s, err := ParseStored(p.JSON())
	require.NoError(t, err, "stored JSON must name its drift type")
	assert.Equal(t, Psi, s.Type)
}

func TestParseDefaults(t *testing.T) {
	t.Run("empty schedule means the default and skips cron validation", func(t *testing.T) {
		called := 0
		ps := Parser{ValidateCron: func(string) error { called++; return errors.New("boom") }}
		p, err := ps.Parse(Spc, edit(t, "spc.json", set("config.alert_config.schedule", "")))
		require.NoError(t, err)
		assert.Equal(t, DefaultSchedule, p.Config.Schedule)
		assert.Zero(t, called)
	})
	t.Run("absent schedule means the default", func(t *testing.T) {
		p, err := Parser{}.Parse(Custom, edit(t, "custom.json", del("config.alert_config.schedule")))
		require.NoError(t, err)
		assert.Equal(t, DefaultSchedule, p.Config.Schedule)
	})
	t.Run("cron validator sees the schedule", func(t *testing.T) {
		var seen string
		ps := Parser{ValidateCron: func(s string) error { seen = s; return nil }}
		_, err := ps.Parse(Spc, readFixture(t, "spc.json"))
		require.NoError(t, err)
		assert.Equal(t, "0 0 * * * *", seen)
	})
	t.Run("genai without alert_config", func(t *testing.T) {
		p, err := Parser{}.Parse(GenAI, edit(t, "genai.json", del("config.alert_config")))
		require.NoError(t, err)
		assert.Equal(t, DefaultSchedule, p.Config.Schedule)
		assert.Equal(t, DispatchConsole, p.Config.Dispatch.Kind)
		assert.Nil(t, p.GenAI.AlertCondition)
	})
	t.Run("spc zones default to all four", func(t *testing.T) {
		p, err := Parser{}.Parse(Spc, edit(t, "spc.json", del("config.alert_config.rule.zones_to_monitor")))
		require.NoError(t, err)
		assert.Equal(t, []AlertZone{Zone1, Zone2, Zone3, Zone4}, p.Spc.ZonesToMonitor)
	})
	t.Run("version defaults to 0.0.0", func(t *testing.T) {
		p, err := Parser{}.Parse(Psi, edit(t, "psi.json", del("config.version")))
		require.NoError(t, err)
		assert.Equal(t, DefaultVersion, p.Config.Version)
	})
	t.Run("psi limits as numeric strings and null", func(t *testing.T) {
		p, err := Parser{}.Parse(Psi, edit(t, "psi.json", set("features.feature_1.bins", []any{
			map[string]any{"id": 1, "lower_limit": nil, "upper_limit": "2.5", "proportion": 0.5},
			map[string]any{"id": 2, "lower_limit": "2.5", "upper_limit": nil, "proportion": 0.5},
		})))
		require.NoError(t, err)
		b := p.Psi.Features["feature_1"].Bins
		assert.Nil(t, b[0].Lower)
		assert.Equal(t, 2.5, *b[0].Upper)
	})
}

func TestParseErrors(t *testing.T) {
	badCron := Parser{ValidateCron: func(s string) error {
		if len(strings.Fields(s)) < 6 {
			return errors.New("want 6 or 7 fields")
		}
		return nil
	}}
	tests := []struct {
		name      string
		dt        DriftType
		raw       []byte
		wantField string // substring of the error
	}{
		{"unknown drift type", "Foo", readFixture(t, "spc.json"), "drift_type"},
		{"lower-case drift type is not a variant", "spc", readFixture(t, "spc.json"), "drift_type"},
		{"not json", Spc, []byte(`{"config":`), "profile: invalid JSON"},
		{"not an object", Spc, []byte(`[1,2]`), "profile: expected object"},
		{"no config", Spc, edit(t, "spc.json", del("config")), "config: required"},
		{"config null", Psi, edit(t, "psi.json", set("config", nil)), "config: required"},
		{"missing space", Spc, edit(t, "spc.json", del("config.space")), "config.space: required"},
		{"empty space", Psi, edit(t, "psi.json", set("config.space", "")), "config.space: must not be empty"},
		{"missing name", Custom, edit(t, "custom.json", del("config.name")), "config.name: required"},
		{"genai missing name", GenAI, edit(t, "genai.json", del("config.name")), "config.name: required"},
		{"space not a string", GenAI, edit(t, "genai.json", set("config.space", 3)), "config.space: expected string, got number"},
		{"drift type mismatch", Spc, edit(t, "spc.json", set("config.drift_type", "Psi")), "config.drift_type"},
		{"bad spc rule", Spc, edit(t, "spc.json", set("config.alert_config.rule.rule", "8 16 4 8 2 4 1")), "config.alert_config.rule.rule"},
		{"spc rule double space", Spc, edit(t, "spc.json", set("config.alert_config.rule.rule", "8  16 4 8 2 4 1 1")), "config.alert_config.rule.rule"},
		{"spc rule missing", Spc, edit(t, "spc.json", del("config.alert_config.rule")), "config.alert_config.rule: required"},
		{"spc bad zone", Spc, edit(t, "spc.json", set("config.alert_config.rule.zones_to_monitor", []any{"Zone9"})), "zones_to_monitor[0]"},
		{"spc limit missing", Spc, edit(t, "spc.json", del("features.col_1.two_ucl")), "features.col_1.two_ucl: required"},
		{"spc limit string", Spc, edit(t, "spc.json", set("features.col_1.center", "1.0")), "features.col_1.center: expected number, got string"},
		{"spc features missing", Spc, edit(t, "spc.json", del("features")), "features: required"},
		{"psi one bin", Psi, edit(t, "psi.json", set("features.feature_1.bins", []any{
			map[string]any{"id": 1, "lower_limit": nil, "upper_limit": nil, "proportion": 1.0}})), "features.feature_1.bins: need at least 2 bins, got 1"},
		{"psi no bins", Psi, edit(t, "psi.json", set("features.feature_1.bins", []any{})), "need at least 2 bins, got 0"},
		{"psi bin missing limit key", Psi, edit(t, "psi.json", del("features.feature_1.bins")), "features.feature_1.bins: required"},
		{"psi bad limit string", Psi, edit(t, "psi.json", set("features.feature_1.bins", []any{
			map[string]any{"id": 1, "lower_limit": "abc", "upper_limit": nil, "proportion": 0.5},
			map[string]any{"id": 2, "lower_limit": nil, "upper_limit": nil, "proportion": 0.5}})), "features.feature_1.bins[0].lower_limit"},
		{"psi absent limit key", Psi, edit(t, "psi.json", set("features.feature_1.bins", []any{
			map[string]any{"id": 1, "upper_limit": nil, "proportion": 0.5},
			map[string]any{"id": 2, "lower_limit": nil, "upper_limit": nil, "proportion": 0.5}})), "bins[0].lower_limit: required key is missing"},
		{"psi bin id float", Psi, edit(t, "psi.json", set("features.feature_1.bins", []any{
			map[string]any{"id": 1.5, "lower_limit": nil, "upper_limit": nil, "proportion": 0.5},
			map[string]any{"id": 2, "lower_limit": nil, "upper_limit": nil, "proportion": 0.5}})), "bins[0].id: expected integer"},
		{"psi unknown threshold", Psi, edit(t, "psi.json", set("config.alert_config.threshold", map[string]any{"Magic": map[string]any{}})), "unknown threshold kind"},
		{"psi alpha out of range", Psi, edit(t, "psi.json", set("config.alert_config.threshold", map[string]any{"Normal": map[string]any{"alpha": 1.5}})), "threshold.Normal.alpha"},
		{"psi threshold missing", Psi, edit(t, "psi.json", del("config.alert_config.threshold")), "config.alert_config.threshold: required"},
		{"psi bad bin type", Psi, edit(t, "psi.json", set("features.feature_1.bin_type", "Binary")), "bin_type"},
		{"custom metrics not numbers", Custom, edit(t, "custom.json", set("metrics.mse", "high")), "metrics.mse: expected number, got string"},
		{"custom bad threshold", Custom, edit(t, "custom.json", set("config.alert_config.alert_conditions.mse.alert_threshold", "Sideways")), "alert_conditions.mse.alert_threshold"},
		{"custom no alert_config", Custom, edit(t, "custom.json", del("config.alert_config")), "config.alert_config: required"},
		{"unknown dispatch", Custom, edit(t, "custom.json", set("config.alert_config.dispatch_config", map[string]any{"Pager": map[string]any{}})), "unknown dispatch kind"},
		{"two dispatch keys", Custom, edit(t, "custom.json", set("config.alert_config.dispatch_config", map[string]any{"Slack": map[string]any{"channel": "x"}, "Console": map[string]any{}})), "exactly one variant key"},
		{"slack without channel", Spc, edit(t, "spc.json", set("config.alert_config.dispatch_config", map[string]any{"Slack": map[string]any{}})), "dispatch_config.Slack.channel: required"},
		{"missing dispatch", Spc, edit(t, "spc.json", del("config.alert_config.dispatch_config")), "dispatch_config: required"},
		{"genai tasks missing key", GenAI, edit(t, "genai.json", del("tasks.judge")), "tasks.judge: required"},
		{"genai task not object", GenAI, edit(t, "genai.json", set("tasks.agent", []any{1})), "tasks.agent[0]: expected object"},
		{"genai task_ids missing", GenAI, edit(t, "genai.json", del("task_ids")), "task_ids: required"},
		{"genai workflow not object", GenAI, edit(t, "genai.json", set("workflow", "x")), "workflow: expected object or null"},
		{"bad cron", Custom, edit(t, "custom.json", set("config.alert_config.schedule", "0 0 * * *")), "config.alert_config.schedule: invalid cron expression"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := badCron.Parse(tc.dt, tc.raw)
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalid)
			assert.Contains(t, err.Error(), tc.wantField)
		})
	}
}

func TestParseRule(t *testing.T) {
	tests := []struct {
		in      string
		want    [8]int
		wantErr bool
	}{
		{in: DefaultSpcRule, want: [8]int{8, 16, 4, 8, 2, 4, 1, 1}},
		{in: "0 0 0 0 0 0 1 1", want: [8]int{0, 0, 0, 0, 0, 0, 1, 1}},
		{in: "+8 16 4 8 2 4 1 1", want: [8]int{8, 16, 4, 8, 2, 4, 1, 1}}, // Rust's i32 parser takes a '+'
		{in: "", wantErr: true},
		{in: "8 16 4 8 2 4 1", wantErr: true},
		{in: "8 16 4 8 2 4 1 1 1", wantErr: true},
		{in: " 8 16 4 8 2 4 1 1", wantErr: true},
		{in: "8 16 4 8 2 4 1 1 ", wantErr: true},
		{in: "8\t16 4 8 2 4 1 1", wantErr: true},
		{in: "8 16 4 8 2 4 1 x", wantErr: true},
		{in: "8 16 4 8 2 4 1 -1", wantErr: true},
		{in: "8 16 4 8 2 4 1 1.5", wantErr: true},
		{in: "8 16 4 8 2 4 1 99999999999", wantErr: true},
	}
	for _, tc := range tests {
		t.Run(tc.in, func(t *testing.T) {
			r, err := ParseRule(tc.in)
			if tc.wantErr {
				require.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, r.Counts)
			c, a := r.Zone(4)
			assert.Equal(t, tc.want[6], c)
			assert.Equal(t, tc.want[7], a)
		})
	}
}

func TestParseStoredErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		raw  string
		want string
	}{
		{"no drift type", `{"config":{"space":"s","name":"n"}}`, "config.drift_type: required"},
		{"unknown drift type", `{"config":{"space":"s","name":"n","drift_type":"X"}}`, "config.drift_type"},
		{"garbage", `nope`, "profile: invalid JSON"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseStored([]byte(tc.raw))
			require.Error(t, err)
			assert.Contains(t, err.Error(), tc.want)
		})
	}
	// Stored rows are read leniently: an upper-case type still selects the kind.
	p, err := ParseStored(edit(t, "psi.json", set("config.drift_type", "PSI")))
	require.NoError(t, err)
	assert.Equal(t, Psi, p.Type)
	// Clients must send the exact variant name.
	_, err = Parser{}.Parse(Psi, edit(t, "psi.json", set("config.drift_type", "PSI")))
	assert.ErrorIs(t, err, ErrInvalid)
}

func TestParseTaggedErrors(t *testing.T) {
	for _, raw := range []string{`{"Nope":{}}`, `{}`, `{"Spc":{},"Psi":{}}`, `"Spc"`, `null`} {
		_, err := ParseTagged([]byte(raw))
		assert.ErrorIs(t, err, ErrInvalid, "input %s", raw)
	}
}
