package profileapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scoutergo/server/internal/cron"
	"github.com/scoutergo/server/internal/db/dbsqlc"
	"github.com/scoutergo/server/internal/logging"
	"github.com/scoutergo/server/internal/pgtest"
	"github.com/scoutergo/server/internal/profile"
	"github.com/scoutergo/server/internal/testenv"
)

func newService(t *testing.T, opts Options) (*Service, *pgxpool.Pool) {
	t.Helper()
	pool := pgtest.New(t)
	opts.DB = pool
	s, err := New(opts)
	require.NoError(t, err)
	return s, pool
}

func storedRow(t *testing.T, pool *pgxpool.Pool, uid string) dbsqlc.DriftProfile {
	t.Helper()
	row, err := dbsqlc.New(pool).GetDriftProfileByUID(t.Context(), uid)
	require.NoError(t, err, "profile row %s", uid)
	return row
}

func storedConfig(t *testing.T, row dbsqlc.DriftProfile) map[string]any {
	t.Helper()
	var m map[string]any
	require.NoError(t, json.Unmarshal(row.Profile, &m))
	cfg, ok := m["config"].(map[string]any)
	require.True(t, ok, "stored profile has a config object: %s", row.Profile)
	return cfg
}

func TestNewRequiresDB(t *testing.T) {
	_, err := New(Options{})
	require.Error(t, err)
}

func TestRegisterVersions(t *testing.T) {
	s, pool := newService(t, Options{})
	ctx := t.Context()

	steps := []struct {
		name    string
		dt      profile.DriftType
		modelNm string
		req     *profile.VersionRequest
		want    string
		pre     *string
		build   *string
	}{
		{"requested version not registered yet is used as is", profile.Custom, "mae", versionReq(ptr("1.0.0"), profile.Minor, nil, nil), "1.0.0", nil, nil},
		{"requested version registered: minor bump", profile.Custom, "mae", versionReq(ptr("1.0.0"), profile.Minor, nil, nil), "1.1.0", nil, nil},
		{"no version: minor bump of the newest", profile.Custom, "mae", versionReq(nil, profile.Minor, nil, nil), "1.2.0", nil, nil},
		{"no version: major bump", profile.Custom, "mae", versionReq(nil, profile.Major, nil, nil), "2.0.0", nil, nil},
		{"partial version selects 2.x.x: patch bump", profile.Custom, "mae", versionReq(ptr("2"), profile.Patch, nil, nil), "2.0.1", nil, nil},
		{"pre tag", profile.Custom, "mae", versionReq(ptr("2.0.1"), profile.Pre, ptr("alpha"), nil), "2.0.1-alpha", ptr("alpha"), nil},
		{"build tag on the highest (release beats pre-release)", profile.Custom, "mae", versionReq(ptr("2.0.1"), profile.Build, nil, ptr("build.1")), "2.0.1+build.1", nil, ptr("build.1")},
		{"pre and build tags", profile.Custom, "mae", versionReq(ptr("1.2"), profile.PreBuild, ptr("rc.1"), ptr("b7")), "1.2.0-rc.1+b7", ptr("rc.1"), ptr("b7")},
		{"short requested version is expanded", profile.Custom, "mae", versionReq(ptr("3"), profile.Minor, nil, nil), "3.0.0", nil, nil},
		{"another drift type is another family", profile.Spc, "mae", versionReq(nil, profile.Minor, nil, nil), "0.1.0", nil, nil},
		{"another name is another family", profile.Custom, "mse", versionReq(nil, profile.Minor, nil, nil), "0.1.0", nil, nil},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			res, err := s.Register(ctx, admin, profile.ProfileRequest{
				Space: "space", DriftType: st.dt, Profile: profileJSON(t, st.dt, "space", st.modelNm, nil),
				VersionRequest: st.req,
			})
			require.NoError(t, err)
			assert.Equal(t, st.want, res.Version, "version")
			assert.Equal(t, "space", res.Space)
			assert.Equal(t, st.modelNm, res.Name)
			assert.Equal(t, "success", res.Status)
			assert.False(t, res.Active)
			id, err := uuid.Parse(res.UID)
			require.NoError(t, err, "uid %q", res.UID)
			assert.Equal(t, uuid.Version(7), id.Version())

			row := storedRow(t, pool, res.UID)
			assert.Equal(t, st.want, row.Version)
			assert.Equal(t, string(st.dt), row.DriftType)
			assert.Equal(t, st.pre, row.PreTag, "pre_tag")
			assert.Equal(t, st.build, row.BuildTag, "build_tag")
			cfg := storedConfig(t, row)
			assert.Equal(t, res.UID, cfg["uid"], "config.uid")
			assert.Equal(t, st.want, cfg["version"], "config.version")

			ent, err := dbsqlc.New(pool).GetEntityByUID(ctx, res.UID)
			require.NoError(t, err)
			assert.Equal(t, row.EntityID, ent.ID)
			assert.Equal(t, st.want, ent.Version)
		})
	}

	t.Run("bad requested version stores nothing", func(t *testing.T) {
		e0, p0 := counts(t, pool)
		for _, v := range []string{"1.0.0-alpha", "x.y", "^1.2", ""} {
			_, err := s.Register(ctx, admin, profile.ProfileRequest{
				Space: "space", DriftType: profile.Custom, Profile: profileJSON(t, profile.Custom, "space", "mae", nil),
				VersionRequest: versionReq(ptr(v), profile.Minor, nil, nil),
			})
			require.ErrorIs(t, err, ErrInvalidVersion, "version %q", v)
		}
		_, err := s.Register(ctx, admin, profile.ProfileRequest{
			Space: "space", DriftType: profile.Custom, Profile: profileJSON(t, profile.Custom, "space", "mae", nil),
			VersionRequest: versionReq(ptr("2147483648.0.0"), profile.Minor, nil, nil),
		})
		require.ErrorIs(t, err, ErrInvalidVersion, "a major beyond int32")
		e1, p1 := counts(t, pool)
		assert.Equal(t, [2]int{e0, p0}, [2]int{e1, p1}, "rows (entities, profiles)")
	})
}

func TestRegisterStoresScheduleAndRunDates(t *testing.T) {
	now := time.Date(2026, 3, 20, 10, 17, 42, 123456000, time.UTC)
	s, pool := newService(t, Options{Now: func() time.Time { return now }})

	for _, tc := range []struct {
		dt       profile.DriftType
		schedule string
		want     time.Time
	}{
		{profile.Spc, "0 0 * * * *", time.Date(2026, 3, 20, 11, 0, 0, 0, time.UTC)},
		{profile.Psi, "0 0 0 * * *", time.Date(2026, 3, 21, 0, 0, 0, 0, time.UTC)},
		{profile.Custom, "0 */15 * * * *", time.Date(2026, 3, 20, 10, 30, 0, 0, time.UTC)},
		{profile.GenAI, "0 0 0 * * SUN", time.Date(2026, 3, 22, 0, 0, 0, 0, time.UTC)},
	} {
		t.Run(string(tc.dt), func(t *testing.T) {
			raw := profileJSON(t, tc.dt, "space", "model", func(m map[string]any) {
				m["config"].(map[string]any)["alert_config"].(map[string]any)["schedule"] = tc.schedule
			})
			res, err := s.Register(t.Context(), admin, profile.ProfileRequest{
				Space: "space", DriftType: tc.dt, Profile: raw,
				VersionRequest: versionReq(nil, profile.Minor, nil, nil), Active: true,
			})
			require.NoError(t, err)
			assert.True(t, res.Active)
			row := storedRow(t, pool, res.UID)
			assert.Equal(t, tc.schedule, row.Schedule)
			require.NotNil(t, row.NextRun)
			assert.True(t, tc.want.Equal(*row.NextRun), "next_run got %v, want %v", *row.NextRun, tc.want)
			sched, err := cron.Parse(tc.schedule)
			require.NoError(t, err)
			assert.True(t, sched.Next(now).Equal(*row.NextRun), "next_run is cron.Next(now)")
			want := now.Truncate(time.Microsecond)
			require.NotNil(t, row.PreviousRun)
			assert.True(t, want.Equal(*row.PreviousRun), "previous_run got %v, want %v", *row.PreviousRun, want)
			assert.True(t, want.Equal(row.CreatedAt), "created_at got %v, want %v", row.CreatedAt, want)
			assert.True(t, want.Equal(row.UpdatedAt), "updated_at got %v, want %v", row.UpdatedAt, want)
			assert.Equal(t, "pending", row.Status)
			assert.Equal(t, "0.25.0", row.ScouterVersion)
			assert.True(t, row.Active)
			assert.Equal(t, "0.1.0", row.Version)
		})
	}
}

func TestRegisterReplacesEntityUID(t *testing.T) {
	sy := &recordingSyncer{}
	s, pool := newService(t, Options{Syncer: sy})
	ctx := t.Context()
	reg := func() string {
		t.Helper()
		res, err := s.Register(ctx, admin, profile.ProfileRequest{
			Space: "space", DriftType: profile.Spc, Profile: profileJSON(t, profile.Spc, "space", "model", nil),
			VersionRequest: versionReq(ptr("1.0.0"), profile.Minor, nil, nil),
		})
		require.NoError(t, err)
		return res.UID + " " + res.Version
	}
	first := reg()
	second := reg()
	assert.Contains(t, first, " 1.0.0")
	assert.Contains(t, second, " 1.1.0")
	// "1.0.0" still selects [1.0.0, 1.0.1), whose newest is 1.0.0, so the
	// third registration lands on 1.1.0 again: same entity, new uid.
	sy.take()
	third := reg()
	assert.Contains(t, third, " 1.1.0")
	oldUID, newUID := second[:36], third[:36]
	require.NotEqual(t, oldUID, newUID)

	q := dbsqlc.New(pool)
	ent, err := q.GetEntityByKey(ctx, dbsqlc.GetEntityByKeyParams{Space: "space", Name: "model", Version: "1.1.0", DriftType: "Spc"})
	require.NoError(t, err)
	assert.Equal(t, newUID, ent.UID, "the entity carries the new uid")
	_, err = q.GetEntityByUID(ctx, oldUID)
	assert.Error(t, err, "the old uid resolves no more")
	_, err = q.GetDriftProfileByUID(ctx, oldUID)
	assert.Error(t, err, "the profile row under the old uid is gone")
	row := storedRow(t, pool, newUID)
	assert.Equal(t, ent.ID, row.EntityID)
	assert.Equal(t, newUID, storedConfig(t, row)["uid"])
	entities, profiles := counts(t, pool)
	assert.Equal(t, [2]int{2, 2}, [2]int{entities, profiles}, "(entities, profiles)")
	assert.Equal(t, []string{newUID, oldUID}, sy.take(), "syncer hears of the new and the replaced uid")
}

func TestRegisterDeactivateOthers(t *testing.T) {
	sy := &recordingSyncer{}
	s, pool := newService(t, Options{Syncer: sy})
	ctx := t.Context()
	reg := func(dt profile.DriftType, active, deactivate bool) string {
		t.Helper()
		res, err := s.Register(ctx, admin, profile.ProfileRequest{
			Space: "space", DriftType: dt, Profile: profileJSON(t, dt, "space", "model", nil),
			VersionRequest: versionReq(nil, profile.Minor, nil, nil), Active: active, DeactivateOthers: deactivate,
		})
		require.NoError(t, err)
		return res.UID
	}
	active := func(uid string) bool { t.Helper(); return storedRow(t, pool, uid).Active }

	v1 := reg(profile.Spc, true, false)
	v2 := reg(profile.Spc, true, false)
	psi := reg(profile.Psi, true, false)
	assert.True(t, active(v1) && active(v2) && active(psi), "all active without deactivate_others")

	v3 := reg(profile.Spc, false, true)
	assert.True(t, active(v1) && active(v2), "an inactive registration deactivates nothing")
	assert.False(t, active(v3))

	sy.take()
	v4 := reg(profile.Spc, true, true)
	assert.False(t, active(v1), "v1 deactivated")
	assert.False(t, active(v2), "v2 deactivated")
	assert.True(t, active(v4), "v4 active")
	assert.True(t, active(psi), "another drift type is untouched")
	got := sy.take()
	require.NotEmpty(t, got)
	assert.Equal(t, v4, got[0])
	assert.ElementsMatch(t, []string{v4, v1, v2}, got)
}

func TestRegisterConcurrentGetsDistinctVersions(t *testing.T) {
	s, _ := newService(t, Options{})
	const n = 8
	var wg sync.WaitGroup
	versions := make([]string, n)
	errs := make([]error, n)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			res, err := s.Register(t.Context(), admin, profile.ProfileRequest{
				Space: "space", DriftType: profile.Custom, Profile: profileJSON(t, profile.Custom, "space", "model", nil),
				VersionRequest: versionReq(nil, profile.Minor, nil, nil),
			})
			errs[i] = err
			if err == nil {
				versions[i] = res.Version
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		require.NoError(t, err)
	}
	sort.Slice(versions, func(i, j int) bool { return len(versions[i]) < len(versions[j]) || versions[i] < versions[j] })
	want := make([]string, n)
	for i := range n {
		want[i] = fmt.Sprintf("0.%d.0", i+1)
	}
	assert.Equal(t, want, versions)
}

func TestSyncFailureIsLoggedNotReturned(t *testing.T) {
	var logs testenv.Buffer
	sy := &recordingSyncer{err: errors.New("temporal unavailable")}
	s, pool := newService(t, Options{Syncer: sy, Logger: logging.New(&logs, logging.Options{Level: slog.LevelDebug, JSON: true})})
	res, err := s.Register(t.Context(), admin, profile.ProfileRequest{
		Space: "space", DriftType: profile.Psi, Profile: profileJSON(t, profile.Psi, "space", "model", nil),
		VersionRequest: versionReq(nil, profile.Minor, nil, nil), Active: true,
	})
	require.NoError(t, err)
	assert.True(t, storedRow(t, pool, res.UID).Active, "the registration is committed")
	assert.Equal(t, []string{res.UID}, sy.take())
	assert.Contains(t, logs.String(), "profile schedule sync failed")
	assert.Contains(t, logs.String(), "temporal unavailable")
	assert.Contains(t, logs.String(), res.UID)
}

func TestUpdate(t *testing.T) {
	now := time.Date(2026, 3, 20, 10, 17, 42, 0, time.UTC)
	sy := &recordingSyncer{}
	s, pool := newService(t, Options{Syncer: sy, Now: func() time.Time { return now }})
	ctx := t.Context()
	res, err := s.Register(ctx, admin, profile.ProfileRequest{
		Space: "space", DriftType: profile.Spc, Profile: profileJSON(t, profile.Spc, "space", "model", nil),
		VersionRequest: versionReq(ptr("1.0.0"), profile.Minor, nil, nil), Active: true,
	})
	require.NoError(t, err)
	sy.take()

	// A sentinel next_run shows whether an update keeps or recomputes it.
	sentinel := time.Date(2026, 3, 20, 10, 0, 0, 0, time.UTC)
	_, err = pool.Exec(ctx, `UPDATE scouter.drift_profile SET next_run = $1 WHERE uid = $2`, sentinel, res.UID)
	require.NoError(t, err)

	edit := func(schedule string, version string) func(m map[string]any) {
		return func(m map[string]any) {
			cfg := m["config"].(map[string]any)
			cfg["uid"] = res.UID
			cfg["version"] = version
			ac := cfg["alert_config"].(map[string]any)
			ac["schedule"] = schedule
			ac["features_to_monitor"] = []string{}
		}
	}
	t.Run("same schedule keeps next_run", func(t *testing.T) {
		err := s.Update(ctx, admin, profile.ProfileRequest{Space: "space", DriftType: profile.Spc,
			Profile: profileJSON(t, profile.Spc, "space", "model", edit("0 0 * * * *", "9.9.9"))})
		require.NoError(t, err)
		row := storedRow(t, pool, res.UID)
		require.NotNil(t, row.NextRun)
		assert.True(t, sentinel.Equal(*row.NextRun), "next_run got %v, want %v", *row.NextRun, sentinel)
		cfg := storedConfig(t, row)
		assert.Equal(t, "1.0.0", cfg["version"], "config.version stays the registered version")
		assert.Equal(t, []any{}, cfg["alert_config"].(map[string]any)["features_to_monitor"], "profile JSON replaced")
		assert.Equal(t, []string{res.UID}, sy.take())
	})
	t.Run("new schedule recomputes next_run", func(t *testing.T) {
		err := s.Update(ctx, admin, profile.ProfileRequest{Space: "space", DriftType: profile.Spc,
			Profile: profileJSON(t, profile.Spc, "space", "model", edit("0 */5 * * * *", "1.0.0"))})
		require.NoError(t, err)
		row := storedRow(t, pool, res.UID)
		assert.Equal(t, "0 */5 * * * *", row.Schedule)
		want := time.Date(2026, 3, 20, 10, 20, 0, 0, time.UTC)
		require.NotNil(t, row.NextRun)
		assert.True(t, want.Equal(*row.NextRun), "next_run got %v, want %v", *row.NextRun, want)
		assert.True(t, row.Active, "update keeps active")
	})

	for _, tc := range []struct {
		name string
		edit func(m map[string]any)
		dt   profile.DriftType
		want error
	}{
		{"unknown uid", func(m map[string]any) { m["config"].(map[string]any)["uid"] = uuid.NewString() }, profile.Spc, ErrUnknownUID},
		{"no uid", func(m map[string]any) { delete(m["config"].(map[string]any), "uid") }, profile.Spc, ErrInvalidProfile},
		{"other name", func(m map[string]any) {
			edit("0 0 * * * *", "1.0.0")(m)
			m["config"].(map[string]any)["name"] = "other"
		}, profile.Spc, ErrInvalidProfile},
		{"bad cron", edit("0 0 * * *", "1.0.0"), profile.Spc, ErrInvalidProfile},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := storedRow(t, pool, res.UID)
			err := s.Update(ctx, admin, profile.ProfileRequest{Space: "space", DriftType: tc.dt,
				Profile: profileJSON(t, profile.Spc, "space", "model", tc.edit)})
			require.ErrorIs(t, err, tc.want)
			after := storedRow(t, pool, res.UID)
			assert.JSONEq(t, string(before.Profile), string(after.Profile), "nothing changed")
		})
	}

	t.Run("permission is checked on the stored space too", func(t *testing.T) {
		other := admin
		other.GroupPermissions = nil
		other.Permissions = []string{"write:elsewhere"}
		err := s.Update(ctx, other, profile.ProfileRequest{Space: "elsewhere", DriftType: profile.Spc,
			Profile: profileJSON(t, profile.Spc, "space", "model", edit("0 0 * * * *", "1.0.0"))})
		require.ErrorIs(t, err, ErrPermissionDenied)
		err = s.Update(ctx, reader, profile.ProfileRequest{Space: "space", DriftType: profile.Spc,
			Profile: profileJSON(t, profile.Spc, "space", "model", edit("0 0 * * * *", "1.0.0"))})
		require.ErrorIs(t, err, ErrPermissionDenied)
	})
}

func TestRegisterChecksStoredSpacePermission(t *testing.T) {
	s, pool := newService(t, Options{})
	caller := admin
	caller.GroupPermissions = nil
	caller.Permissions = []string{"write:mine"}
	_, err := s.Register(t.Context(), caller, profile.ProfileRequest{
		Space: "mine", DriftType: profile.Spc, Profile: profileJSON(t, profile.Spc, "theirs", "model", nil),
		VersionRequest: versionReq(nil, profile.Minor, nil, nil),
	})
	require.ErrorIs(t, err, ErrPermissionDenied)
	e, p := counts(t, pool)
	assert.Zero(t, e+p)
}
