package profile

import (
	"encoding/json"
	"net/url"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestDriftTypeParsing(t *testing.T) {
	for _, in := range []string{"spc", "SPC", "Spc", "sPc"} {
		got, err := ParseDriftType(in)
		require.NoError(t, err, in)
		assert.Equal(t, Spc, got)
	}
	got, err := ParseDriftType("genai")
	require.NoError(t, err)
	assert.Equal(t, GenAI, got)
	assert.Equal(t, "genai", got.Lower())
	_, err = ParseDriftType("llm")
	assert.ErrorIs(t, err, ErrInvalid)

	// JSON is exact, text (query) is lenient.
	var d DriftType
	require.NoError(t, json.Unmarshal([]byte(`"GenAI"`), &d))
	assert.Equal(t, GenAI, d)
	assert.Error(t, json.Unmarshal([]byte(`"genai"`), &d))
	assert.Error(t, json.Unmarshal([]byte(`1`), &d))
	require.NoError(t, d.UnmarshalText([]byte("custom")))
	assert.Equal(t, Custom, d)

	b, err := json.Marshal(Psi)
	require.NoError(t, err)
	assert.Equal(t, `"Psi"`, string(b))
	_, err = json.Marshal(DriftType("psi"))
	assert.Error(t, err)
}

func TestTimeIntervalMinutes(t *testing.T) {
	want := map[TimeInterval]int{
		FifteenMinutes: 15, ThirtyMinutes: 30, OneHour: 60, FourHours: 240, SixHours: 360,
		TwelveHours: 720, TwentyFourHours: 1440, SevenDays: 10080, CustomInterval: 0,
	}
	for ti, m := range want {
		assert.Equal(t, m, ti.Minutes(), "%s", ti)
		var got TimeInterval
		require.NoError(t, json.Unmarshal([]byte(`"`+string(ti)+`"`), &got))
		assert.Equal(t, ti, got)
	}
	assert.Equal(t, -1, TimeInterval("Fortnight").Minutes())
	var got TimeInterval
	assert.Error(t, json.Unmarshal([]byte(`"fifteenminutes"`), &got))
	assert.Error(t, json.Unmarshal([]byte(`""`), &got))
}

func TestProfileRequestJSON(t *testing.T) {
	var r ProfileRequest
	body := `{"space":"space","drift_type":"Spc","profile":"{\"a\":1}","version_request":{"version":"1.0.0","version_type":"Minor","pre_tag":null,"build_tag":null},"active":false,"deactivate_others":false}`
	require.NoError(t, json.Unmarshal([]byte(body), &r))
	assert.Equal(t, "space", r.Space)
	assert.Equal(t, Spc, r.DriftType)
	assert.Equal(t, `{"a":1}`, r.Profile)
	require.NotNil(t, r.VersionRequest)
	assert.Equal(t, Minor, r.VersionRequest.VersionType)

	// Flags default to false; version_request may be absent.
	require.NoError(t, json.Unmarshal([]byte(`{"space":"s","drift_type":"Psi","profile":"{}"}`), &r))
	assert.False(t, r.Active)
	assert.Nil(t, r.VersionRequest)

	for _, bad := range []string{
		`{"drift_type":"Spc","profile":"{}"}`,
		`{"space":"s","profile":"{}"}`,
		`{"space":"s","drift_type":"Spc"}`,
		`{"space":"s","drift_type":"spc","profile":"{}"}`,
		`{"space":"s","drift_type":"Spc","profile":{}}`,
		`{"space":"s","drift_type":"Spc","profile":"{}","version_request":{"version":"1"}}`,
	} {
		assert.Error(t, json.Unmarshal([]byte(bad), &r), bad)
	}
}

func TestProfileStatusRequestJSON(t *testing.T) {
	var r ProfileStatusRequest
	require.NoError(t, json.Unmarshal([]byte(`{"name":"n","space":"s","version":"1.0.0","active":true,"drift_type":null,"deactivate_others":true}`), &r))
	assert.Equal(t, ProfileStatusRequest{Name: "n", Space: "s", Version: "1.0.0", Active: true, DeactivateOthers: true}, r)
	require.NoError(t, json.Unmarshal([]byte(`{"name":"n","space":"s","version":"1.0.0","active":false,"drift_type":"Custom","deactivate_others":false}`), &r))
	require.NotNil(t, r.DriftType)
	assert.Equal(t, Custom, *r.DriftType)
	assert.Error(t, json.Unmarshal([]byte(`{"name":"n","space":"s","version":"1.0.0","drift_type":null,"deactivate_others":true}`), &r))

	var l ListProfilesRequest
	require.NoError(t, json.Unmarshal([]byte(`{"space":"s","name":"n","version":"1.1.0"}`), &l))
	assert.Equal(t, ListProfilesRequest{Space: "s", Name: "n", Version: "1.1.0"}, l)
	assert.Error(t, json.Unmarshal([]byte(`{"space":"s","name":"n"}`), &l))
}

func TestRegisteredProfileResponseJSON(t *testing.T) {
	b, err := json.Marshal(RegisteredProfileResponse{Space: "s", Name: "n", Version: "1.0.0", UID: "u", Status: "success", Active: true})
	require.NoError(t, err)
	assert.JSONEq(t, `{"space":"s","name":"n","version":"1.0.0","uid":"u","status":"success","active":true}`, string(b))
}

func TestGetProfileRequestFromQuery(t *testing.T) {
	q, err := url.ParseQuery("name=name&space=space&version=1.0.0&drift_type=spc")
	require.NoError(t, err)
	r, err := GetProfileRequestFromQuery(q)
	require.NoError(t, err)
	assert.Equal(t, GetProfileRequest{Name: "name", Space: "space", Version: "1.0.0", DriftType: Spc}, r)

	for _, bad := range []string{"space=s&version=1&drift_type=Spc", "name=n&space=s&version=1&drift_type=Nope", "name=n&space=s&version=1"} {
		q, err := url.ParseQuery(bad)
		require.NoError(t, err)
		_, err = GetProfileRequestFromQuery(q)
		assert.ErrorIs(t, err, ErrInvalid, bad)
	}
}

func TestDriftRequestFromQuery(t *testing.T) {
	now := time.Date(2026, 3, 26, 12, 0, 0, 0, time.UTC)
	t.Run("interval", func(t *testing.T) {
		q, err := url.ParseQuery("uid=u&space=space&time_interval=FifteenMinutes&max_data_points=100")
		require.NoError(t, err)
		r, err := DriftRequestFromQuery(q)
		require.NoError(t, err)
		assert.Equal(t, FifteenMinutes, r.TimeInterval)
		assert.Equal(t, int32(100), r.MaxDataPoints)
		start, end, err := r.Window(now)
		require.NoError(t, err)
		assert.Equal(t, now.Add(-15*time.Minute), start)
		assert.Equal(t, now, end)
	})
	t.Run("custom range wins", func(t *testing.T) {
		q := url.Values{}
		q.Set("uid", "u")
		q.Set("space", "s")
		q.Set("time_interval", "FourHours")
		q.Set("max_data_points", "10")
		q.Set("start_custom_datetime", "2026-03-01T00:00:00+02:00")
		q.Set("end_custom_datetime", "2026-03-02T00:00:00.5Z")
		r, err := DriftRequestFromQuery(q)
		require.NoError(t, err)
		start, end, err := r.Window(now)
		require.NoError(t, err)
		assert.Equal(t, time.Date(2026, 2, 28, 22, 0, 0, 0, time.UTC), start)
		assert.Equal(t, time.Date(2026, 3, 2, 0, 0, 0, 5e8, time.UTC), end)
	})
	t.Run("default interval", func(t *testing.T) {
		q, err := url.ParseQuery("uid=u&space=s&max_data_points=5")
		require.NoError(t, err)
		r, err := DriftRequestFromQuery(q)
		require.NoError(t, err)
		assert.Equal(t, FourHours, r.TimeInterval)
	})
	for _, bad := range []string{
		"space=s&time_interval=OneHour&max_data_points=1",
		"uid=u&time_interval=OneHour&max_data_points=1",
		"uid=u&space=s&time_interval=OneHour",
		"uid=u&space=s&time_interval=OneHour&max_data_points=0",
		"uid=u&space=s&time_interval=OneHour&max_data_points=x",
		"uid=u&space=s&time_interval=OneHour&max_data_points=99999999999",
		"uid=u&space=s&time_interval=onehour&max_data_points=1",
		"uid=u&space=s&time_interval=Custom&max_data_points=1",
		"uid=u&space=s&time_interval=OneHour&max_data_points=1&start_custom_datetime=yesterday",
		"uid=u&space=s&time_interval=OneHour&max_data_points=1&start_custom_datetime=2026-03-02T00:00:00Z&end_custom_datetime=2026-03-01T00:00:00Z",
	} {
		t.Run(bad, func(t *testing.T) {
			q, err := url.ParseQuery(bad)
			require.NoError(t, err)
			_, err = DriftRequestFromQuery(q)
			assert.ErrorIs(t, err, ErrInvalid)
		})
	}
	_, _, err := DriftRequest{TimeInterval: CustomInterval}.Window(now)
	assert.Error(t, err)
}
