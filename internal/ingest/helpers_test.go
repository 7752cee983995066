package ingest

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5/pgxpool"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/stretchr/testify/require"

	"github.com/scoutergo/server/internal/db"
	"github.com/scoutergo/server/internal/db/dbsqlc"
	"github.com/scoutergo/server/internal/entity"
	"github.com/scoutergo/server/internal/record"
)

// fixture is a pipeline on a fresh database with registered entities.
type fixture struct {
	pool *pgxpool.Pool
	reg  *prometheus.Registry
	p    *Pipeline
	ids  map[string]int32 // uid → entity id
}

// newFixture starts a pipeline on pool with entities for uids.
func newFixture(t testing.TB, pool *pgxpool.Pool, opts Options, uids ...string) *fixture {
	t.Helper()
	f := &fixture{pool: pool, reg: prometheus.NewRegistry(), ids: map[string]int32{}}
	for i, uid := range uids {
		f.ids[uid] = registerEntity(t, pool, uid, fmt.Sprintf("model_%d", i))
	}
	res, err := entity.NewResolver(pool, 100)
	require.NoError(t, err)
	if opts.DB == nil {
		opts.DB = pool
	}
	opts.Entities = res
	opts.Registerer = f.reg
	f.p, err = New(opts)
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = f.p.Close(ctx)
	})
	return f
}

func registerEntity(t testing.TB, pool *pgxpool.Pool, uid, name string) int32 {
	t.Helper()
	var id int32
	err := db.InTx(t.Context(), pool, func(q *dbsqlc.Queries) error {
		e, err := q.UpsertEntity(t.Context(), dbsqlc.UpsertEntityParams{
			UID: uid, Space: "space", Name: name, Version: "0.1.0", DriftType: "Spc"})
		id = e.ID
		return err
	})
	require.NoError(t, err)
	return id
}

// decode decodes s, failing the test on any error.
func decode(t testing.TB, s string) *record.Message {
	t.Helper()
	msg, err := record.Decode([]byte(s))
	require.NoError(t, err)
	return msg
}

// spcJSON is one Spc element.
func spcJSON(uid, created, feature string, value float64) string {
	return fmt.Sprintf(`{"Spc":{"created_at":%q,"uid":%q,"feature":%q,"value":%v,"entity_id":0}}`, created, uid, feature, value)
}

func records(elems ...string) string { return `{"records":[` + strings.Join(elems, ",") + `]}` }

func count(t testing.TB, pool *pgxpool.Pool, query string, args ...any) int {
	t.Helper()
	var n int
	require.NoError(t, pool.QueryRow(t.Context(), query, args...).Scan(&n), query)
	return n
}

func counter(t testing.TB, c prometheus.Collector) float64 {
	t.Helper()
	return testutil.ToFloat64(c)
}

// closedPortURI is a database URI on a local port nobody listens on.
func closedPortURI(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	return "postgres://postgres@" + addr + "/scouter?sslmode=disable&connect_timeout=2"
}

type deadRow struct {
	Transport   string
	Source      string
	Reason      string
	RecordIndex *int32
	Payload     []byte
}

func deadLetters(t testing.TB, pool *pgxpool.Pool) []deadRow {
	t.Helper()
	rows, err := pool.Query(t.Context(),
		"SELECT transport, source, reason, record_index, payload FROM scouter.dead_letter ORDER BY id")
	require.NoError(t, err)
	defer rows.Close()
	var out []deadRow
	for rows.Next() {
		var d deadRow
		require.NoError(t, rows.Scan(&d.Transport, &d.Source, &d.Reason, &d.RecordIndex, &d.Payload))
		out = append(out, d)
	}
	require.NoError(t, rows.Err())
	return out
}

func ptr[T any](v T) *T { return &v }
