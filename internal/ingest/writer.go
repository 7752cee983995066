package ingest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"time"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/scoutergo/server/internal/db"
	"github.com/scoutergo/server/internal/db/dbsqlc"
)

// writer commits queued jobs until the queue is closed and drained. It takes
// the first waiting job, then every job already queued (never waiting for
// more) up to maxBatch rows, and commits them in one transaction: while one
// batch commits, the next one gathers, so the batch size follows the load.
// It keeps one connection across batches (see heldConn).
func (p *Pipeline) writer() {
	defer p.wg.Done()
	conn := newHeldConn(p.db)
	defer conn.release()
	due := time.NewTimer(time.Hour)
	due.Stop()
	for {
		first, ok := p.next(conn, due)
		if !ok {
			return
		}
		batch := []*job{first}
		n := first.rows.len()
	gather:
		for n < p.maxBatch {
			select {
			case j, ok := <-p.queue:
				if !ok {
					break gather
				}
				batch = append(batch, j)
				n += j.rows.len()
			default:
				break gather
			}
		}
		p.flush(batch, conn)
	}
}

// next waits for the next job (ok false: the queue is closed and drained).
// While it waits it keeps the held connection until that is due back to the
// pool: under load a writer's queue is often empty for a moment (every
// waiting request is in the batch just committed), and handing the
// connection back each time cost a ping per batch.
func (p *Pipeline) next(conn *heldConn, due *time.Timer) (*job, bool) {
	select {
	case j, ok := <-p.queue:
		return j, ok
	default:
	}
	if d := conn.due(); d > 0 {
		due.Reset(d)
		select {
		case j, ok := <-p.queue:
			due.Stop()
			return j, ok
		case <-due.C:
		}
	}
	conn.release()
	j, ok := <-p.queue
	return j, ok
}

// flush commits a batch and answers its jobs. When the batch transaction is
// refused by the database (not merely cut off), each job is retried alone
// once, so one bad message cannot fail its neighbours.
func (p *Pipeline) flush(batch []*job, conn *heldConn) {
	live := batch[:0]
	for _, j := range batch {
		if j.ctx.Err() != nil { // the caller gave up while queued
			j.done <- fmt.Errorf("submit: %w", context.Cause(j.ctx))
			continue
		}
		live = append(live, j)
	}
	if len(live) == 0 {
		return
	}
	err := p.write(live, conn)
	if err != nil && len(live) > 1 && isolatable(err) {
		p.log.Warn("ingest batch failed, retrying its messages one by one",
			slog.Int("messages", len(live)), slog.Any("err", err))
		for _, j := range live {
			p.finish(j, p.write([]*job{j}, conn))
		}
		return
	}
	for _, j := range live {
		p.finish(j, err)
	}
}

func (p *Pipeline) finish(j *job, err error) {
	if err != nil {
		j.done <- classify(err)
		return
	}
	p.m.processed.WithLabelValues(j.transport).Inc()
	for _, kind := range j.rows.deadKinds {
		p.m.deadLetters.WithLabelValues(j.transport, kind).Inc()
	}
	j.done <- nil
}

// write stores the jobs' rows in one transaction on conn's connection. After
// a failure the connection goes back to the pool, so the next batch gets one
// the pool has checked.
func (p *Pipeline) write(jobs []*job, conn *heldConn) error {
	all := mergeRows(jobs)
	all.dedupeTags()
	size := all.len()
	if size == 0 {
		return nil
	}

	ctx, cancel := context.WithTimeout(p.ctx, p.timeout)
	defer cancel()
	start := time.Now()
	c, err := conn.get(ctx)
	if err != nil {
		p.m.insertErrors.Inc()
		return err
	}
	// First as plain inserts; a row that exists already (a redelivered
	// message) fails them with a unique violation, and then the batch is
	// written again skipping duplicates. See db/queries/ingest.sql for why.
	n, err := insert(ctx, c, &all, false)
	if errors.Is(err, db.ErrConflict) {
		p.m.duplicates.Inc()
		n, err = insert(ctx, c, &all, true)
	}
	if err != nil {
		conn.release()
		p.m.insertErrors.Inc()
		return err
	}
	p.m.commitDuration.Observe(time.Since(start).Seconds())
	p.m.batchSize.Observe(float64(size))
	p.m.inserted.WithLabelValues(typeSpc).Add(float64(n.spc))
	p.m.inserted.WithLabelValues(typePsi).Add(float64(n.psi))
	p.m.inserted.WithLabelValues(typeCustom).Add(float64(n.custom))
	p.m.inserted.WithLabelValues(typeObservability).Add(float64(n.obs))
	p.m.inserted.WithLabelValues(typeTag).Add(float64(n.tags))
	return nil
}

// mergeRows returns the jobs' rows as one set of column arrays.
func mergeRows(jobs []*job) rows {
	if len(jobs) == 1 {
		return jobs[0].rows
	}
	var all rows
	var spc, psi, custom, obs int
	for _, j := range jobs {
		spc += len(j.rows.spc.CreatedAt)
		psi += len(j.rows.psi.CreatedAt)
		custom += len(j.rows.custom.CreatedAt)
		obs += len(j.rows.obs.EntityID)
	}
	all.grow(spc, psi, custom, obs)
	for _, j := range jobs {
		all.add(&j.rows)
	}
	return all
}

// inserted counts the rows one transaction inserted per table.
type inserted struct{ spc, psi, custom, obs, tags int64 }

// insert writes all in one transaction on conn. Unless skipDuplicates, drift rows
// are plain inserts, which fail with db.ErrConflict when a row exists.
//
// A batch that needs one statement only (rows of one table: the usual case)
// runs it without BEGIN and COMMIT, since a single statement is a
// transaction of its own; that saves two round trips per batch, which
// matters most for small batches (a Kafka consumer's message at a time).
// Measured with 100/800/1600-row batches, plain inserts of arrays also cost
// Postgres less CPU per row than COPY here, so COPY is not used.
func insert(ctx context.Context, conn db.TxStarter, all *rows, skipDuplicates bool) (inserted, error) {
	if c, ok := conn.(dbsqlc.DBTX); ok && all.tables() == 1 {
		n, err := insertRows(ctx, dbsqlc.New(c), all, skipDuplicates)
		return n, db.MapError(err)
	}
	var n inserted
	err := db.InTx(ctx, conn, func(q *dbsqlc.Queries) error {
		var err error
		n, err = insertRows(ctx, q, all, skipDuplicates)
		return err
	})
	return n, err
}

// tables counts the tables all has rows for.
func (r *rows) tables() int {
	n := 0
	for _, k := range []int{len(r.spc.CreatedAt), len(r.psi.CreatedAt), len(r.custom.CreatedAt),
		len(r.obs.EntityID), len(r.tags.Key), len(r.dead.Reason)} {
		if k > 0 {
			n++
		}
	}
	return n
}

// insertRows runs one statement per table that all has rows for.
func insertRows(ctx context.Context, q *dbsqlc.Queries, all *rows, skipDuplicates bool) (inserted, error) {
	var n inserted
	var err error
	if len(all.spc.CreatedAt) > 0 {
		if skipDuplicates {
			n.spc, err = q.InsertSpcDriftBatch(ctx, all.spc)
		} else {
			n.spc, err = q.InsertNewSpcDriftBatch(ctx, dbsqlc.InsertNewSpcDriftBatchParams(all.spc))
		}
		if err != nil {
			return n, fmt.Errorf("insert spc_drift: %w", err)
		}
	}
	if len(all.psi.CreatedAt) > 0 {
		if skipDuplicates {
			n.psi, err = q.InsertPsiDriftBatch(ctx, all.psi)
		} else {
			n.psi, err = q.InsertNewPsiDriftBatch(ctx, dbsqlc.InsertNewPsiDriftBatchParams(all.psi))
		}
		if err != nil {
			return n, fmt.Errorf("insert psi_drift: %w", err)
		}
	}
	if len(all.custom.CreatedAt) > 0 {
		if skipDuplicates {
			n.custom, err = q.InsertCustomDriftBatch(ctx, all.custom)
		} else {
			n.custom, err = q.InsertNewCustomDriftBatch(ctx, dbsqlc.InsertNewCustomDriftBatchParams(all.custom))
		}
		if err != nil {
			return n, fmt.Errorf("insert custom_drift: %w", err)
		}
	}
	if len(all.obs.EntityID) > 0 {
		if n.obs, err = q.InsertObservabilityMetricBatch(ctx, all.obs); err != nil {
			return n, fmt.Errorf("insert observability_metric: %w", err)
		}
	}
	if len(all.tags.Key) > 0 {
		if n.tags, err = q.UpsertTagBatch(ctx, all.tags); err != nil {
			return n, fmt.Errorf("upsert tags: %w", err)
		}
	}
	if len(all.dead.Reason) > 0 {
		if _, err = q.InsertDeadLetterBatch(ctx, all.dead); err != nil {
			return n, fmt.Errorf("insert dead_letter: %w", err)
		}
	}
	return n, nil
}

// SQLSTATE classes.
const (
	classCardinality  = "21" // e.g. one statement updating a row twice
	classDataError    = "22" // value out of range, bad encoding, ...
	classIntegrity    = "23" // constraint violations
	classConnection   = "08"
	classResources    = "53" // disk full, out of memory, too many connections
	classOperator     = "57" // admin shutdown, terminated backend, query cancelled
	classSystem       = "58"
	classInternal     = "XX"
	sqlstateClassSize = 2
)

func pgClass(err error) (string, bool) {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || len(pgErr.Code) < sqlstateClassSize {
		return "", false
	}
	return pgErr.Code[:sqlstateClassSize], true
}

// isolatable reports whether the database itself refused the batch (so one
// message may be at fault), as opposed to the connection or the server
// failing, which retrying message by message would only repeat.
func isolatable(err error) bool {
	if errors.Is(err, db.ErrConflict) {
		return true
	}
	class, ok := pgClass(err)
	if !ok {
		return false
	}
	switch class {
	case classConnection, classResources, classOperator, classSystem, classInternal:
		return false
	}
	return true
}

// classify maps a failed write onto ErrRejected (the values are at fault,
// resending cannot help) or ErrUnavailable (anything else: resend later).
func classify(err error) error {
	if errors.Is(err, db.ErrConflict) {
		return fmt.Errorf("%w: %v", ErrRejected, err)
	}
	if class, ok := pgClass(err); ok {
		switch class {
		case classCardinality, classDataError, classIntegrity:
			var pgErr *pgconn.PgError
			errors.As(err, &pgErr)
			return fmt.Errorf("%w: %s (SQLSTATE %s)", ErrRejected, pgErr.Message, pgErr.Code)
		}
	}
	return fmt.Errorf("%w: %v", ErrUnavailable, err)
}
