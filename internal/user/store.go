package user

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"

	"github.com/scoutergo/server/internal/db"
	"github.com/scoutergo/server/internal/db/dbsqlc"
)

// Store is the user table as the service uses it. *PGStore implements it.
// Unexpected failures come back as *OpError naming the step.
type Store interface {
	// Get returns the user or ErrNotFound.
	Get(ctx context.Context, username string) (*User, error)
	// List returns every user, oldest first.
	List(ctx context.Context) ([]User, error)
	// Insert adds u; ErrExists or ErrEmailTaken on a duplicate.
	Insert(ctx context.Context, u *User) (*User, error)
	// Update applies fn to the user while its row is locked and writes the
	// mutable fields back; ErrNotFound when the user does not exist.
	Update(ctx context.Context, username string, fn func(*User)) (*User, error)
	// SetRefreshToken stores the user's current refresh token; ErrNotFound
	// when the user does not exist.
	SetRefreshToken(ctx context.Context, username, token string) error
	// DeleteUnlessLastAdmin deletes the user unless it is the only one with
	// role "admin" (ErrLastAdmin). Deleting a missing user succeeds.
	DeleteUnlessLastAdmin(ctx context.Context, username string) error
	// InsertIfEmpty inserts users, all or none, only when the table is
	// empty, and reports whether it did. Concurrent callers (several
	// servers starting at once) are serialised.
	InsertIfEmpty(ctx context.Context, users []User) (bool, error)
}

// usersLockKey is the advisory lock taken by InsertIfEmpty and
// DeleteUnlessLastAdmin ("scusers" in ASCII).
const usersLockKey int64 = 0x73637573657273

// Conn is what PGStore needs from the database: *pgxpool.Pool implements it.
type Conn interface {
	dbsqlc.DBTX
	db.TxStarter
}

// PGStore is the Postgres implementation of Store over the sqlc queries.
type PGStore struct {
	conn Conn
	q    *dbsqlc.Queries
}

var _ Store = (*PGStore)(nil)

// NewPGStore returns a store on conn (usually the server's pool).
func NewPGStore(conn Conn) *PGStore {
	return &PGStore{conn: conn, q: dbsqlc.New(conn)}
}

// Get implements Store.
func (s *PGStore) Get(ctx context.Context, username string) (*User, error) {
	row, err := s.q.GetUserByUsername(ctx, username)
	if err = db.MapError(err); err != nil {
		if errors.Is(err, db.ErrNotFound) {
			return nil, ErrNotFound
		}
		return nil, opErr(OpGetUser, err)
	}
	u, err := fromRow(&row)
	if err != nil {
		return nil, opErr(OpGetUser, err)
	}
	return u, nil
}

// List implements Store.
func (s *PGStore) List(ctx context.Context) ([]User, error) {
	rows, err := s.q.ListUsers(ctx)
	if err != nil {
		return nil, dbErr(OpListUsers, err)
	}
	out := make([]User, 0, len(rows))
	for i := range rows {
		u, err := fromRow(&rows[i])
		if err != nil {
			return nil, opErr(OpListUsers, err)
		}
		out = append(out, *u)
	}
	return out, nil
}

// Insert implements Store.
func (s *PGStore) Insert(ctx context.Context, u *User) (*User, error) {
	return insert(ctx, s.q, u)
}

func insert(ctx context.Context, q *dbsqlc.Queries, u *User) (*User, error) {
	p := dbsqlc.InsertUserParams{
		Username:            u.Username,
		PasswordHash:        u.PasswordHash,
		HashedRecoveryCodes: jsonList(u.HashedRecoveryCodes),
		Permissions:         jsonList(u.Permissions),
		GroupPermissions:    jsonList(u.GroupPermissions),
		Role:                u.Role,
		FavoriteSpaces:      jsonList(u.FavoriteSpaces),
		Active:              u.Active,
		Email:               u.Email,
	}
	row, err := q.InsertUser(ctx, p)
	if err = db.MapError(err); err != nil {
		if errors.Is(err, db.ErrConflict) {
			if strings.Contains(err.Error(), "email") {
				return nil, ErrEmailTaken
			}
			return nil, ErrExists
		}
		return nil, opErr(OpCreateUser, err)
	}
	got, err := fromRow(&row)
	if err != nil {
		return nil, opErr(OpCreateUser, err)
	}
	return got, nil
}

// Update implements Store.
func (s *PGStore) Update(ctx context.Context, username string, fn func(*User)) (*User, error) {
	var out *User
	err := db.InTx(ctx, s.conn, func(q *dbsqlc.Queries) error {
		row, err := q.GetUserByUsernameForUpdate(ctx, username)
		if err = db.MapError(err); err != nil {
			if errors.Is(err, db.ErrNotFound) {
				return ErrNotFound
			}
			return opErr(OpGetUser, err)
		}
		u, err := fromRow(&row)
		if err != nil {
			return opErr(OpGetUser, err)
		}
		fn(u)
		row, err = q.UpdateUser(ctx, dbsqlc.UpdateUserParams{
			Active:              u.Active,
			PasswordHash:        u.PasswordHash,
			HashedRecoveryCodes: jsonList(u.HashedRecoveryCodes),
			Permissions:         jsonList(u.Permissions),
			GroupPermissions:    jsonList(u.GroupPermissions),
			FavoriteSpaces:      jsonList(u.FavoriteSpaces),
			Username:            username,
		})
		if err != nil {
			return dbErr(OpUpdateUser, err)
		}
		if out, err = fromRow(&row); err != nil {
			return opErr(OpUpdateUser, err)
		}
		return nil
	})
	if err != nil {
		return nil, keepOp(OpUpdateUser, err)
	}
	return out, nil
}

// SetRefreshToken implements Store.
func (s *PGStore) SetRefreshToken(ctx context.Context, username, token string) error {
	n, err := s.q.UpdateRefreshToken(ctx, dbsqlc.UpdateRefreshTokenParams{RefreshToken: &token, Username: username})
	if err != nil {
		return dbErr(OpStoreRefreshToken, err)
	}
	if n == 0 {
		return ErrNotFound
	}
	return nil
}

// DeleteUnlessLastAdmin implements Store.
func (s *PGStore) DeleteUnlessLastAdmin(ctx context.Context, username string) error {
	err := db.InTx(ctx, s.conn, func(q *dbsqlc.Queries) error {
		if err := q.LockUsers(ctx, usersLockKey); err != nil {
			return dbErr(OpCheckAdmin, err)
		}
		admins, err := q.ListAdminUsernames(ctx)
		if err != nil {
			return dbErr(OpCheckAdmin, err)
		}
		if len(admins) == 1 && admins[0] == username {
			return ErrLastAdmin
		}
		if _, err := q.DeleteUser(ctx, username); err != nil {
			return dbErr(OpDeleteUser, err)
		}
		return nil
	})
	return keepOp(OpDeleteUser, err)
}

// errPopulated rolls back InsertIfEmpty when the table is not empty.
var errPopulated = errors.New("user table not empty")

// InsertIfEmpty implements Store.
func (s *PGStore) InsertIfEmpty(ctx context.Context, users []User) (bool, error) {
	err := db.InTx(ctx, s.conn, func(q *dbsqlc.Queries) error {
		if err := q.LockUsers(ctx, usersLockKey); err != nil {
			return dbErr(OpCreateUser, err)
		}
		n, err := q.CountUsers(ctx)
		if err != nil {
			return dbErr(OpCreateUser, err)
		}
		if n > 0 {
			return errPopulated
		}
		for i := range users {
			if _, err := insert(ctx, q, &users[i]); err != nil {
				return err
			}
		}
		return nil
	})
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, errPopulated), errors.Is(err, ErrExists), errors.Is(err, ErrEmailTaken):
		// Someone else (another server, or a create that raced us without
		// the lock) populated the table first.
		return false, nil
	default:
		return false, keepOp(OpCreateUser, err)
	}
}

// keepOp returns err unchanged when it is a sentinel of this package or
// already names its step, and wraps it as an *OpError of op otherwise (a
// commit failure, say).
func keepOp(op Op, err error) error {
	if err == nil {
		return nil
	}
	if _, ok := FailedOp(err); ok {
		return err
	}
	for _, s := range []error{ErrNotFound, ErrExists, ErrEmailTaken, ErrLastAdmin} {
		if errors.Is(err, s) {
			return err
		}
	}
	return opErr(op, err)
}

// dbErr tags a driver error with its step, after mapping it so that no pgx
// type stays in the chain.
func dbErr(op Op, err error) error { return opErr(op, db.MapError(err)) }

func fromRow(r *dbsqlc.User) (*User, error) {
	u := &User{
		Username:     r.Username,
		Email:        r.Email,
		Active:       r.Active,
		Role:         r.Role,
		PasswordHash: r.PasswordHash,
	}
	if r.RefreshToken != nil {
		u.RefreshToken = *r.RefreshToken
	}
	for _, f := range []struct {
		name string
		raw  json.RawMessage
		dst  *[]string
	}{
		{"hashed_recovery_codes", r.HashedRecoveryCodes, &u.HashedRecoveryCodes},
		{"permissions", r.Permissions, &u.Permissions},
		{"group_permissions", r.GroupPermissions, &u.GroupPermissions},
		{"favorite_spaces", r.FavoriteSpaces, &u.FavoriteSpaces},
	} {
		list, err := parseList(f.raw)
		if err != nil {
			return nil, fmt.Errorf("user %q column %s: %w", r.Username, f.name, err)
		}
		*f.dst = list
	}
	return u, nil
}

// parseList decodes a jsonb array of strings; SQL or JSON null is an empty list.
func parseList(raw json.RawMessage) ([]string, error) {
	out := []string{}
	if len(raw) == 0 || string(raw) == "null" {
		return out, nil
	}
	if err := json.Unmarshal(raw, &out); err != nil {
		return nil, fmt.Errorf("want a JSON array of strings: %w", err)
	}
	if out == nil {
		out = []string{}
	}
	return out, nil
}

func jsonList(list []string) json.RawMessage {
	if list == nil {
		list = []string{}
	}
	b, err := json.Marshal(list)
	if err != nil {
		// A []string always marshals; keep the column valid regardless.
		return json.RawMessage("[]")
	}
	return b
}
