// Package profileapi registers, updates, reads and lists drift profiles and
// switches them on and off, with upstream's version bumping, entity uid
// handling and space permissions. It knows nothing about HTTP; the edge maps
// its sentinel errors to responses.
//
// Every write runs in one transaction. After it commits, the service tells
// an optional ScheduleSyncer which profile uids changed, so the drift
// schedules can follow; the database stays the source of truth.
package profileapi

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"time"

	"github.com/Masterminds/semver/v3"
	"github.com/google/uuid"

	"github.com/scoutergo/server/internal/auth"
	"github.com/scoutergo/server/internal/cron"
	"github.com/scoutergo/server/internal/logging"
	"github.com/scoutergo/server/internal/profile"
)

// ScheduleSyncer brings the drift schedule of one profile in line with its
// stored row: create or update it for an active profile, pause it for an
// inactive one, delete it when no row has the uid any more. The service
// calls it after every committed change; a failure is logged and left to a
// reconcile loop.
type ScheduleSyncer interface {
	SyncProfile(ctx context.Context, uid string) error
}

// DefaultSyncTimeout bounds each SyncProfile call when Options.SyncTimeout
// is not positive.
const DefaultSyncTimeout = 10 * time.Second

// Options are the service's dependencies.
type Options struct {
	// DB is the Postgres pool. Required.
	DB DB
	// Logger receives schedule-sync failures. Nil discards.
	Logger *slog.Logger
	// Syncer is told about changed profiles after commit. Nil: nothing.
	Syncer ScheduleSyncer
	// SyncTimeout bounds each SyncProfile call (DefaultSyncTimeout when not
	// positive). The call outlives a cancelled request.
	SyncTimeout time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Service is the profile service. It is safe for concurrent use.
type Service struct {
	store       *Store
	parser      profile.Parser
	logger      *slog.Logger
	syncer      ScheduleSyncer
	syncTimeout time.Duration
	now         func() time.Time
}

// New builds a Service.
func New(opts Options) (*Service, error) {
	if opts.DB == nil {
		return nil, errors.New("new profile service: db is required")
	}
	s := &Service{
		store:       NewStore(opts.DB),
		parser:      profile.Parser{ValidateCron: validateCron},
		logger:      opts.Logger,
		syncer:      opts.Syncer,
		syncTimeout: opts.SyncTimeout,
		now:         opts.Now,
	}
	if s.logger == nil {
		s.logger = logging.Discard()
	}
	if s.syncTimeout <= 0 {
		s.syncTimeout = DefaultSyncTimeout
	}
	if s.now == nil {
		s.now = time.Now
	}
	return s, nil
}

func validateCron(expr string) error {
	_, err := cron.Parse(expr)
	return err
}

// Register stores a new profile (POST /scouter/profile).
//
// The caller needs write on req.space and, when it differs, on the
// profile's config.space (where the profile is stored). The version is
// decided from the versions already registered for (space, name,
// drift_type); the stored JSON gets the new uid and the decided version in
// its config.
func (s *Service) Register(ctx context.Context, caller auth.Identity, req profile.ProfileRequest) (*profile.RegisteredProfileResponse, error) {
	if !caller.CanWrite(req.Space) {
		return nil, fmt.Errorf("register profile in space %q: %w", req.Space, ErrPermissionDenied)
	}
	p, sched, err := s.parse(req.DriftType, req.Profile)
	if err != nil {
		return nil, err
	}
	if p.Config.Space != req.Space && !caller.CanWrite(p.Config.Space) {
		return nil, fmt.Errorf("register profile in space %q: %w", p.Config.Space, ErrPermissionDenied)
	}
	if req.VersionRequest == nil {
		return nil, ErrVersionRequired
	}
	now := s.now().UTC()
	next, err := nextRun(sched, now)
	if err != nil {
		return nil, err
	}
	uid, err := uuid.NewV7()
	if err != nil {
		return nil, fmt.Errorf("register profile: new uid: %w", err)
	}
	p.SetUID(uid.String())

	vr := req.VersionRequest
	res, err := s.store.register(ctx, registration{
		UID:              uid.String(),
		Space:            p.Config.Space,
		Name:             p.Config.Name,
		DriftType:        string(p.Type),
		Profile:          p.JSON(),
		Schedule:         p.Config.Schedule,
		NextRun:          next,
		ScouterVersion:   scouterVersion(p),
		Active:           req.Active,
		DeactivateOthers: req.DeactivateOthers,
		Now:              now,
		NextVersion: func(existing []*semver.Version) (*semver.Version, error) {
			v, err := profile.NextVersion(existing, vr)
			if err != nil && !errors.Is(err, ErrVersionRequired) {
				return nil, invalidVersion(err)
			}
			return v, err
		},
	})
	if err != nil {
		return nil, fmt.Errorf("register profile %s/%s: %w", p.Config.Space, p.Config.Name, err)
	}
	s.sync(ctx, append(append([]string{res.Row.UID}, res.Deactivated...), res.Replaced...))
	return &profile.RegisteredProfileResponse{
		Space:   res.Row.Space,
		Name:    res.Row.Name,
		Version: res.Row.Version,
		UID:     res.Row.UID,
		Status:  "success",
		Active:  res.Row.Active,
	}, nil
}

// Update replaces a registered profile's JSON and schedule (PUT
// /scouter/profile). The profile is found by its config.uid; its
// config.space, config.name and drift type must be those it was registered
// with (anything else would make the stored JSON disagree with its row).
// The version stays the registered one; next_run is recomputed only when the
// schedule changed.
func (s *Service) Update(ctx context.Context, caller auth.Identity, req profile.ProfileRequest) error {
	if !caller.CanWrite(req.Space) {
		return fmt.Errorf("update profile in space %q: %w", req.Space, ErrPermissionDenied)
	}
	p, sched, err := s.parse(req.DriftType, req.Profile)
	if err != nil {
		return err
	}
	if p.Config.UID == "" {
		return invalidProfile(&profile.FieldError{Field: "config.uid", Msg: "required to update a registered profile"})
	}
	next, err := nextRun(sched, s.now().UTC())
	if err != nil {
		return err
	}
	uids, err := s.store.update(ctx, update{
		UID:            p.Config.UID,
		Profile:        p.JSON(),
		Schedule:       p.Config.Schedule,
		NextRun:        next,
		ScouterVersion: scouterVersion(p),
		Check: func(ent entity) error {
			if !caller.CanWrite(ent.Space) {
				return fmt.Errorf("update profile in space %q: %w", ent.Space, ErrPermissionDenied)
			}
			for _, f := range []struct {
				field, got, want string
				same             bool
			}{
				{"config.space", p.Config.Space, ent.Space, p.Config.Space == ent.Space},
				{"config.name", p.Config.Name, ent.Name, p.Config.Name == ent.Name},
				// Stored drift types are parsed case-insensitively (old rows).
				{"config.drift_type", string(p.Type), ent.DriftType, strings.EqualFold(string(p.Type), ent.DriftType)},
			} {
				if !f.same {
					return invalidProfile(&profile.FieldError{Field: f.field, Msg: fmt.Sprintf(
						"%q does not match the registered profile's %q", f.got, f.want)})
				}
			}
			return nil
		},
	})
	if err != nil {
		return fmt.Errorf("update profile %s: %w", p.Config.UID, err)
	}
	s.sync(ctx, uids)
	return nil
}

// Get returns the stored profile of (space, name, version, drift_type)
// (GET /scouter/profile). The caller needs read on the space.
func (s *Service) Get(ctx context.Context, caller auth.Identity, req profile.GetProfileRequest) (*profile.Profile, error) {
	if !caller.CanRead(req.Space) {
		return nil, fmt.Errorf("get profile in space %q: %w", req.Space, ErrPermissionDenied)
	}
	row, err := s.store.get(ctx, req.Space, req.Name, req.Version, string(req.DriftType))
	if err != nil {
		return nil, fmt.Errorf("get profile: %w", err)
	}
	p, err := profile.ParseStored(row.Profile)
	if err != nil {
		return nil, fmt.Errorf("get profile %s: %w", row.UID, stepErr(StepStoredProfiles, err))
	}
	return p, nil
}

// SetStatus sets active on the profiles of (space, name, version[,
// drift_type]) and, with deactivate_others, switches off the other versions
// (PUT /scouter/profile/status). The caller needs write on the space. No
// matching profile is ErrNotFound.
func (s *Service) SetStatus(ctx context.Context, caller auth.Identity, req profile.ProfileStatusRequest) error {
	if !caller.CanWrite(req.Space) {
		return fmt.Errorf("set profile status in space %q: %w", req.Space, ErrPermissionDenied)
	}
	var dt *string
	if req.DriftType != nil {
		v := string(*req.DriftType)
		dt = &v
	}
	uids, err := s.store.setStatus(ctx, statusChange{
		Space: req.Space, Name: req.Name, Version: req.Version, DriftType: dt,
		Active: req.Active, DeactivateOthers: req.DeactivateOthers,
	})
	if err != nil {
		return fmt.Errorf("set profile status: %w", err)
	}
	s.sync(ctx, uids)
	return nil
}

// List returns every profile of (space, name, version) with its active flag
// (POST /scouter/profiles). The caller needs read on the space; nothing
// found is ErrNoProfiles.
func (s *Service) List(ctx context.Context, caller auth.Identity, req profile.ListProfilesRequest) ([]profile.ListedProfile, error) {
	if !caller.CanRead(req.Space) {
		return nil, fmt.Errorf("list profiles in space %q: %w", req.Space, ErrPermissionDenied)
	}
	rows, err := s.store.list(ctx, req.Space, req.Name, req.Version)
	if err != nil {
		return nil, fmt.Errorf("list profiles: %w", err)
	}
	if len(rows) == 0 {
		return nil, fmt.Errorf("list profiles %s/%s/v%s: %w", req.Space, req.Name, req.Version, ErrNoProfiles)
	}
	out := make([]profile.ListedProfile, 0, len(rows))
	for _, r := range rows {
		p, err := profile.ParseStored(r.Profile)
		if err != nil {
			return nil, fmt.Errorf("list profiles: profile %s: %w", r.UID, stepErr(StepStoredProfiles, err))
		}
		out = append(out, profile.ListedProfile{Profile: p, Active: r.Active})
	}
	return out, nil
}

// parse validates the profile string as drift type dt and parses its
// schedule.
func (s *Service) parse(dt profile.DriftType, raw string) (*profile.Profile, *cron.Schedule, error) {
	p, err := s.parser.Parse(dt, []byte(raw))
	if err != nil {
		return nil, nil, invalidProfile(err)
	}
	sched, err := cron.Parse(p.Config.Schedule)
	if err != nil {
		return nil, nil, invalidProfile(&profile.FieldError{Field: "config.alert_config.schedule",
			Msg: fmt.Sprintf("invalid cron expression %q: %v", p.Config.Schedule, err)})
	}
	return p, sched, nil
}

// nextRun is the first tick of sched strictly after now.
func nextRun(sched *cron.Schedule, now time.Time) (time.Time, error) {
	next := sched.Next(now)
	if next.IsZero() {
		return time.Time{}, invalidProfile(&profile.FieldError{Field: "config.alert_config.schedule",
			Msg: fmt.Sprintf("cron expression %q never fires after %s", sched.String(), now.Format(time.RFC3339))})
	}
	return next, nil
}

// scouterVersion is the profile's scouter_version, or the column default.
func scouterVersion(p *profile.Profile) string {
	if p.Config.ScouterVersion == "" {
		return "0.1.0"
	}
	return p.Config.ScouterVersion
}

// sync tells the syncer about changed uids, once each. It runs after the
// commit and never fails the request.
func (s *Service) sync(ctx context.Context, uids []string) {
	if s.syncer == nil {
		return
	}
	seen := make(map[string]bool, len(uids))
	for _, uid := range uids {
		if seen[uid] {
			continue
		}
		seen[uid] = true
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), s.syncTimeout)
		err := s.syncer.SyncProfile(sctx, uid)
		cancel()
		if err != nil {
			s.logger.LogAttrs(ctx, slog.LevelWarn, "profile schedule sync failed",
				slog.String("uid", uid), slog.Any("err", err))
		}
	}
}
