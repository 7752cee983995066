package profileapi

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"hash/fnv"
	"time"

	"github.com/Masterminds/semver/v3"

	"github.com/scoutergo/server/internal/db"
	"github.com/scoutergo/server/internal/db/dbsqlc"
)

// DB is what the store needs from Postgres: plain queries and transactions.
// *pgxpool.Pool implements it.
type DB interface {
	dbsqlc.DBTX
	db.TxStarter
}

// Store reads and writes drift_entities and drift_profile.
type Store struct {
	db DB
}

// NewStore returns a store over pool.
func NewStore(pool DB) *Store { return &Store{db: pool} }

// entity is a drift_entities row.
type entity = dbsqlc.DriftEntity

// registration is one profile registration, everything but the version,
// which is decided inside the transaction.
type registration struct {
	UID              string // the new entity and profile uid
	Space, Name      string
	DriftType        string
	Profile          json.RawMessage // config.uid already set to UID
	Schedule         string
	NextRun          time.Time
	ScouterVersion   string
	Active           bool
	DeactivateOthers bool
	Now              time.Time
	// NextVersion decides the version from the versions already registered
	// for (space, name, drift_type).
	NextVersion func(existing []*semver.Version) (*semver.Version, error)
}

// registered is the outcome of a registration.
type registered struct {
	Row dbsqlc.DriftProfile
	// Deactivated are the uids of other profiles switched off by
	// deactivate_others; Replaced are the uids of profile rows removed
	// because the entity got a new uid.
	Deactivated, Replaced []string
}

// register runs a registration in one transaction: lock the profile family,
// decide the version, upsert the entity, drop the rows under a replaced uid,
// deactivate the others when asked, and insert the profile.
func (s *Store) register(ctx context.Context, r registration) (*registered, error) {
	var out registered
	err := db.InTx(ctx, s.db, func(q *dbsqlc.Queries) error {
		if err := q.LockProfileFamily(ctx, familyLockKey(r.Space, r.Name, r.DriftType)); err != nil {
			return stepErr(StepInsertProfile, fmt.Errorf("lock profile family: %w", err))
		}
		rows, err := q.ListProfileVersions(ctx, dbsqlc.ListProfileVersionsParams{
			Space: r.Space, Name: r.Name, DriftType: r.DriftType,
		})
		if err != nil {
			return stepErr(StepInsertProfile, fmt.Errorf("list versions: %w", err))
		}
		existing := make([]*semver.Version, 0, len(rows))
		for _, v := range rows {
			if v.Major < 0 || v.Minor < 0 || v.Patch < 0 {
				continue
			}
			existing = append(existing, semver.New(uint64(v.Major), uint64(v.Minor), uint64(v.Patch), deref(v.PreTag), deref(v.BuildTag)))
		}
		version, err := r.NextVersion(existing)
		if err != nil {
			return err
		}
		parts, err := versionParts(version)
		if err != nil {
			return invalidVersion(err)
		}

		ent, err := q.UpsertEntity(ctx, dbsqlc.UpsertEntityParams{
			UID: r.UID, Space: r.Space, Name: r.Name, Version: version.String(), DriftType: r.DriftType,
		})
		if err != nil {
			return stepErr(StepInsertProfile, fmt.Errorf("upsert entity: %w", err))
		}
		if out.Replaced, err = q.DeleteReplacedDriftProfiles(ctx, dbsqlc.DeleteReplacedDriftProfilesParams{
			EntityID: ent.ID, UID: ent.UID,
		}); err != nil {
			return stepErr(StepInsertProfile, fmt.Errorf("delete replaced profiles: %w", err))
		}
		if r.Active && r.DeactivateOthers {
			if out.Deactivated, err = q.DeactivateOtherDriftProfiles(ctx, dbsqlc.DeactivateOtherDriftProfilesParams{
				Space: r.Space, Name: r.Name, DriftType: r.DriftType, EntityID: ent.ID,
			}); err != nil {
				return stepErr(StepInsertProfile, fmt.Errorf("deactivate others: %w", err))
			}
		}
		next := r.NextRun
		out.Row, err = q.RegisterDriftProfile(ctx, dbsqlc.RegisterDriftProfileParams{
			UID:            ent.UID,
			EntityID:       ent.ID,
			Name:           r.Name,
			Space:          r.Space,
			Version:        version.String(),
			DriftType:      r.DriftType,
			Major:          parts[0],
			Minor:          parts[1],
			Patch:          parts[2],
			PreTag:         optional(version.Prerelease()),
			BuildTag:       optional(version.Metadata()),
			Profile:        r.Profile,
			Active:         r.Active,
			Schedule:       r.Schedule,
			NextRun:        &next,
			CreatedAt:      r.Now,
			ScouterVersion: r.ScouterVersion,
		})
		if err != nil {
			// No row: the uid already had a profile (ON CONFLICT DO NOTHING).
			return stepErr(StepInsertProfile, fmt.Errorf("insert profile %s: %w", ent.UID, db.MapError(err)))
		}
		return nil
	})
	if err != nil {
		return nil, orStep(StepInsertProfile, err)
	}
	return &out, nil
}

// update is the replacement of a registered profile's JSON and schedule.
type update struct {
	UID            string
	Profile        json.RawMessage
	Schedule       string
	NextRun        time.Time
	ScouterVersion string
	// Check validates the stored entity against the new profile before
	// anything is written.
	Check func(entity) error
}

// update replaces the profile JSON and schedule of the entity with uid u.UID
// and returns the uids of the rows it changed.
func (s *Store) update(ctx context.Context, u update) ([]string, error) {
	var uids []string
	err := db.InTx(ctx, s.db, func(q *dbsqlc.Queries) error {
		ent, err := q.GetEntityByUID(ctx, u.UID)
		if err != nil {
			if err = db.MapError(err); errors.Is(err, db.ErrNotFound) {
				return &UnknownUIDError{UID: u.UID}
			}
			return stepErr(StepEntityByUID, err)
		}
		if err := u.Check(ent); err != nil {
			return err
		}
		next := u.NextRun
		uids, err = q.UpdateDriftProfileByEntityID(ctx, dbsqlc.UpdateDriftProfileByEntityIDParams{
			Profile: u.Profile, ScouterVersion: u.ScouterVersion, Schedule: u.Schedule, NextRun: &next, EntityID: ent.ID,
		})
		if err != nil {
			return stepErr(StepUpdateProfile, err)
		}
		if len(uids) == 0 {
			return fmt.Errorf("%w: entity %s has no stored profile", ErrNotFound, u.UID)
		}
		return nil
	})
	return uids, orStep(StepUpdateProfile, err)
}

// statusChange sets active on the profiles of (space, name, version[,
// drift_type]) and optionally deactivates the other versions.
type statusChange struct {
	Space, Name, Version string
	DriftType            *string
	Active               bool
	DeactivateOthers     bool
}

// setStatus applies c in one transaction and returns the uids of every row
// it changed (the matched rows first).
func (s *Store) setStatus(ctx context.Context, c statusChange) ([]string, error) {
	var uids []string
	err := db.InTx(ctx, s.db, func(q *dbsqlc.Queries) error {
		matched, err := q.SetDriftProfileActive(ctx, dbsqlc.SetDriftProfileActiveParams{
			Active: c.Active, Space: c.Space, Name: c.Name, Version: c.Version, DriftType: c.DriftType,
		})
		if err != nil {
			return stepErr(StepUpdateStatus, err)
		}
		if len(matched) == 0 {
			return fmt.Errorf("%w: %s/%s/v%s", ErrNotFound, c.Space, c.Name, c.Version)
		}
		uids = matched
		if c.DeactivateOthers {
			others, err := q.DeactivateOtherDriftProfileVersions(ctx, dbsqlc.DeactivateOtherDriftProfileVersionsParams{
				Space: c.Space, Name: c.Name, Version: c.Version, DriftType: c.DriftType,
			})
			if err != nil {
				return stepErr(StepUpdateStatus, err)
			}
			uids = append(uids, others...)
		}
		return nil
	})
	return uids, orStep(StepUpdateStatus, err)
}

// get returns the profile row of (space, name, version, drift_type).
func (s *Store) get(ctx context.Context, space, name, version, driftType string) (*dbsqlc.DriftProfile, error) {
	q := dbsqlc.New(s.db)
	ent, err := q.GetEntityByKey(ctx, dbsqlc.GetEntityByKeyParams{
		Space: space, Name: name, Version: version, DriftType: driftType,
	})
	if err != nil {
		if err = db.MapError(err); errors.Is(err, db.ErrNotFound) {
			return nil, fmt.Errorf("%w: no entity %s/%s/v%s/%s", ErrNotFound, space, name, version, driftType)
		}
		return nil, stepErr(StepEntityByKey, err)
	}
	row, err := q.GetDriftProfileByEntityID(ctx, ent.ID)
	if err != nil {
		if err = db.MapError(err); errors.Is(err, db.ErrNotFound) {
			return nil, fmt.Errorf("%w: entity %s has no stored profile", ErrNotFound, ent.UID)
		}
		return nil, stepErr(StepQueryProfile, err)
	}
	return &row, nil
}

// list returns the profile rows of (space, name, version), oldest first.
func (s *Store) list(ctx context.Context, space, name, version string) ([]dbsqlc.ListDriftProfilesByVersionRow, error) {
	rows, err := dbsqlc.New(s.db).ListDriftProfilesByVersion(ctx, dbsqlc.ListDriftProfilesByVersionParams{
		Space: space, Name: name, Version: version,
	})
	if err != nil {
		return nil, stepErr(StepQueryProfile, err)
	}
	return rows, nil
}

// familyLockKey hashes (space, name, drift_type) into an advisory lock key.
func familyLockKey(space, name, driftType string) int64 {
	h := fnv.New64a()
	for _, s := range []string{"drift_profile", space, name, driftType} {
		_, _ = h.Write([]byte(s)) // hash.Hash never fails
		_, _ = h.Write([]byte{0})
	}
	return int64(h.Sum64())
}

// versionParts returns major, minor and patch as the int columns store them.
func versionParts(v *semver.Version) ([3]int32, error) {
	var out [3]int32
	for i, p := range []uint64{v.Major(), v.Minor(), v.Patch()} {
		if p > 1<<31-1 {
			return out, fmt.Errorf("version %s: part %d exceeds 2147483647", v, p)
		}
		out[i] = int32(p)
	}
	return out, nil
}

func optional(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
