package grpcapi_test

import (
	"context"
	"fmt"
	"net"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"

	"github.com/scoutergo/server/internal/db"
	"github.com/scoutergo/server/internal/db/dbsqlc"
	"github.com/scoutergo/server/internal/entity"
	"github.com/scoutergo/server/internal/gen/scouterv1"
	"github.com/scoutergo/server/internal/grpcapi"
	"github.com/scoutergo/server/internal/ingest"
	"github.com/scoutergo/server/internal/pgtest"
)

const msgUID = "0199bbbb-0000-7000-8000-000000000001"

// startMessage serves the real MessageService over bufconn on a pipeline
// that resolves entities in a fresh database and writes through writeDB
// (that database when nil). It returns the client and the database.
func startMessage(t *testing.T, writeDB db.TxStarter) (scouterv1.MessageServiceClient, func(string) int) {
	t.Helper()
	pool := pgtest.New(t)
	err := db.InTx(t.Context(), pool, func(q *dbsqlc.Queries) error {
		_, err := q.UpsertEntity(t.Context(), dbsqlc.UpsertEntityParams{
			UID: msgUID, Space: "s", Name: "n", Version: "1.0.0", DriftType: "Spc"})
		return err
	})
	require.NoError(t, err)
	res, err := entity.NewResolver(pool, 10)
	require.NoError(t, err)
	if writeDB == nil {
		writeDB = pool
	}
	p, err := ingest.New(ingest.Options{DB: writeDB, Entities: res, Registerer: prometheus.NewRegistry()})
	require.NoError(t, err)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = p.Close(ctx)
	})
	h := start(t, grpcapi.Deps{Message: grpcapi.NewMessageService(p)})
	count := func(query string) int {
		var n int
		require.NoError(t, pool.QueryRow(t.Context(), query).Scan(&n))
		return n
	}
	return scouterv1.NewMessageServiceClient(h.conn), count
}

func msgSpc(uid, feature string) string {
	return fmt.Sprintf(`{"Spc":{"created_at":"2026-03-26T12:00:00Z","uid":%q,"feature":%q,"value":1.5,"entity_id":0}}`, uid, feature)
}

func TestInsertMessage(t *testing.T) {
	t.Parallel()
	client, count := startMessage(t, nil)

	tests := []struct {
		name     string
		body     string
		wantCode codes.Code
		wantMsg  string // substring of the status message
		wantSpc  int    // cumulative
	}{
		{name: "stored", body: `{"records":[` + msgSpc(msgUID, "a") + `]}`, wantCode: codes.OK, wantSpc: 1},
		{name: "duplicate", body: `{"records":[` + msgSpc(msgUID, "a") + `]}`, wantCode: codes.OK, wantSpc: 1},
		{name: "tag", body: `{"entity_type":"trace","entity_id":"t","key":"k","value":"v"}`, wantCode: codes.OK, wantSpc: 1},
		{name: "not json", body: `{"records":`, wantCode: codes.InvalidArgument, wantMsg: "Invalid message format: ", wantSpc: 1},
		{name: "empty", body: ``, wantCode: codes.InvalidArgument, wantMsg: "Invalid message format: ", wantSpc: 1},
		{name: "wrong shape", body: `{"records":1}`, wantCode: codes.InvalidArgument, wantMsg: "records: expected array", wantSpc: 1},
		{
			name:     "unknown uid beside a valid record",
			body:     `{"records":[` + msgSpc("nobody", "b") + `,` + msgSpc(msgUID, "c") + `]}`,
			wantCode: codes.InvalidArgument, wantMsg: `1 records rejected, 1 stored: records[0].Spc.uid: unknown profile uid "nobody"`,
			wantSpc: 2,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := client.InsertMessage(testCtx(t), &scouterv1.InsertMessageRequest{MessageRecord: []byte(tt.body)})
			st, _ := status.FromError(err)
			require.Equal(t, tt.wantCode, st.Code(), "status %v", err)
			if tt.wantCode == codes.OK {
				assert.Equal(t, "success", resp.GetStatus())
				assert.Equal(t, "Message queued for processing", resp.GetMessage())
			} else {
				assert.Contains(t, st.Message(), tt.wantMsg)
			}
			assert.Equal(t, tt.wantSpc, count("SELECT count(*) FROM scouter.spc_drift"))
		})
	}
}

func TestInsertMessageDatabaseDown(t *testing.T) {
	t.Parallel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	addr := ln.Addr().String()
	require.NoError(t, ln.Close())
	down := pgtest.Connect(t, "postgres://postgres@"+addr+"/scouter?sslmode=disable&connect_timeout=2")
	client, count := startMessage(t, down)

	_, err = client.InsertMessage(testCtx(t), &scouterv1.InsertMessageRequest{
		MessageRecord: []byte(`{"records":[` + msgSpc(msgUID, "a") + `]}`)})
	st, _ := status.FromError(err)
	require.Equal(t, codes.Unavailable, st.Code(), "status %v", err)
	assert.Equal(t, "Database unavailable, retry", st.Message())
	assert.Equal(t, 0, count("SELECT count(*) FROM scouter.spc_drift"))
}
