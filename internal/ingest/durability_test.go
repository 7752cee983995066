package ingest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/scoutergo/server/internal/pgtest"
	"github.com/scoutergo/server/internal/record"
)

// TestDurabilityAcrossSIGKILL streams records over HTTP into a server
// process (testdata/killserver: the pipeline and the ingest routes),
// SIGKILLs it mid-stream, restarts it, and checks that every record whose
// request got a 200 is in Postgres.
func TestDurabilityAcrossSIGKILL(t *testing.T) {
	uri := pgtest.NewURI(t)
	pool := pgtest.Connect(t, uri)
	registerEntity(t, pool, uidA, "durable")

	bin := filepath.Join(t.TempDir(), "killserver")
	build := exec.CommandContext(t.Context(), "go", "build", "-o", bin, "./testdata/killserver")
	out, err := build.CombinedOutput()
	require.NoError(t, err, "build killserver: %s", out)

	var addr atomic.Value // current server address
	startServer := func() *exec.Cmd {
		cmd := exec.Command(bin)
		cmd.Env = append(os.Environ(), "DATABASE_URI="+uri)
		cmd.Stderr = io.Discard
		stdout, err := cmd.StdoutPipe()
		require.NoError(t, err)
		require.NoError(t, cmd.Start())
		line, err := bufio.NewReader(stdout).ReadString('\n')
		require.NoError(t, err, "read the killserver address")
		a, ok := strings.CutPrefix(strings.TrimSpace(line), "listening ")
		require.True(t, ok, "unexpected first line %q", line)
		addr.Store(a)
		return cmd
	}
	kill := func(cmd *exec.Cmd) {
		_ = cmd.Process.Signal(syscall.SIGKILL)
		_ = cmd.Wait()
	}

	server := startServer()
	t.Cleanup(func() { kill(server) })

	const clients, perMessage = 4, 20
	base := time.Date(2026, 3, 26, 0, 0, 0, 0, time.UTC)
	var (
		mu    sync.Mutex
		acked []time.Time // created_at of every record in a 200 response
		nAck  atomic.Int64
		stop  atomic.Bool
		wg    sync.WaitGroup
	)
	httpClient := &http.Client{Timeout: 10 * time.Second}
	for c := range clients {
		wg.Go(func() {
			for seq := 0; !stop.Load(); seq++ {
				var elems []string
				var times []time.Time
				for r := range perMessage {
					at := base.Add(time.Duration(c*10_000_000+seq*perMessage+r) * time.Microsecond)
					times = append(times, at)
					elems = append(elems, spcJSON(uidA, record.FormatTime(at), "f", float64(r)))
				}
				url := "http://" + addr.Load().(string) + "/scouter/message"
				resp, err := httpClient.Post(url, "application/json", bytes.NewReader([]byte(records(elems...))))
				if err != nil {
					time.Sleep(5 * time.Millisecond) // server down: retry with the next message
					continue
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					mu.Lock()
					acked = append(acked, times...)
					mu.Unlock()
					nAck.Add(1)
				}
			}
		})
	}
	waitAcks := func(n int64) {
		t.Helper()
		deadline := time.Now().Add(60 * time.Second)
		for nAck.Load() < n {
			if time.Now().After(deadline) {
				stop.Store(true)
				wg.Wait()
				t.Fatalf("only %d of %d messages acknowledged in time", nAck.Load(), n)
			}
			time.Sleep(time.Millisecond)
		}
	}

	waitAcks(100)
	kill(server) // mid-stream: requests are in flight and batches uncommitted
	beforeKill := nAck.Load()
	time.Sleep(50 * time.Millisecond)
	server = startServer()
	waitAcks(beforeKill + 100)
	stop.Store(true)
	wg.Wait()

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	rows, err := pool.Query(ctx, "SELECT created_at FROM scouter.spc_drift")
	require.NoError(t, err)
	stored := map[time.Time]bool{}
	for rows.Next() {
		var at time.Time
		require.NoError(t, rows.Scan(&at))
		stored[at.UTC()] = true
	}
	require.NoError(t, rows.Err())

	missing := 0
	for _, at := range acked {
		if !stored[at] {
			missing++
		}
	}
	t.Logf("acknowledged %d messages (%d records), %d before the kill; %d records stored",
		nAck.Load(), len(acked), beforeKill, len(stored))
	assert.Zero(t, missing, fmt.Sprintf("%d acknowledged records are missing after the SIGKILL", missing))
	assert.GreaterOrEqual(t, len(stored), len(acked))
}
