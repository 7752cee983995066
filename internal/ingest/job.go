package ingest

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/scoutergo/server/internal/db/dbsqlc"
	"github.com/scoutergo/server/internal/entity"
	"github.com/scoutergo/server/internal/record"
)

// Reason kinds of dead letters (the reason_kind label of dead_letters_total).
const (
	kindMalformed     = "malformed"      // not a MessageRecord
	kindTooLarge      = "too_large"      // over record.MaxMessageSize
	kindInvalidRecord = "invalid_record" // one element of "records" has a wrong shape
	kindUnknownUID    = "unknown_uid"    // the uid names no profile
	kindInvalidValue  = "invalid_value"  // a value Postgres cannot hold (NUL in text)
	kindUnsupported   = "unsupported"    // GenAI records and traces, for now
	kindRejectedByDB  = "rejected_by_db" // the database refused the message
)

// Record type labels of records_inserted_total.
const (
	typeSpc           = "spc"
	typePsi           = "psi"
	typeCustom        = "custom"
	typeObservability = "observability"
	typeTag           = "tag"
)

// deadLetter is one dead_letter row before it is written.
type deadLetter struct {
	kind    string
	index   int // record index, -1 for the whole message
	reason  string
	payload []byte
}

// rows are the column arrays of one job or of a whole batch, one set per
// table (the sqlc parameter structs double as the buffers).
type rows struct {
	spc    dbsqlc.InsertSpcDriftBatchParams
	psi    dbsqlc.InsertPsiDriftBatchParams
	custom dbsqlc.InsertCustomDriftBatchParams
	obs    dbsqlc.InsertObservabilityMetricBatchParams
	tags   dbsqlc.UpsertTagBatchParams
	dead   dbsqlc.InsertDeadLetterBatchParams
	// deadKinds parallels dead (for the metrics).
	deadKinds []string
}

func (r *rows) len() int {
	return len(r.spc.CreatedAt) + len(r.psi.CreatedAt) + len(r.custom.CreatedAt) +
		len(r.obs.EntityID) + len(r.tags.Key) + len(r.dead.Reason)
}

// add appends o's rows to r.
func (r *rows) add(o *rows) {
	r.spc.CreatedAt = append(r.spc.CreatedAt, o.spc.CreatedAt...)
	r.spc.EntityID = append(r.spc.EntityID, o.spc.EntityID...)
	r.spc.Feature = append(r.spc.Feature, o.spc.Feature...)
	r.spc.Value = append(r.spc.Value, o.spc.Value...)

	r.psi.CreatedAt = append(r.psi.CreatedAt, o.psi.CreatedAt...)
	r.psi.EntityID = append(r.psi.EntityID, o.psi.EntityID...)
	r.psi.Feature = append(r.psi.Feature, o.psi.Feature...)
	r.psi.BinID = append(r.psi.BinID, o.psi.BinID...)
	r.psi.BinCount = append(r.psi.BinCount, o.psi.BinCount...)

	r.custom.CreatedAt = append(r.custom.CreatedAt, o.custom.CreatedAt...)
	r.custom.EntityID = append(r.custom.EntityID, o.custom.EntityID...)
	r.custom.Metric = append(r.custom.Metric, o.custom.Metric...)
	r.custom.Value = append(r.custom.Value, o.custom.Value...)

	r.obs.EntityID = append(r.obs.EntityID, o.obs.EntityID...)
	r.obs.RequestCount = append(r.obs.RequestCount, o.obs.RequestCount...)
	r.obs.ErrorCount = append(r.obs.ErrorCount, o.obs.ErrorCount...)
	r.obs.RouteMetrics = append(r.obs.RouteMetrics, o.obs.RouteMetrics...)

	r.tags.EntityType = append(r.tags.EntityType, o.tags.EntityType...)
	r.tags.EntityID = append(r.tags.EntityID, o.tags.EntityID...)
	r.tags.Key = append(r.tags.Key, o.tags.Key...)
	r.tags.Value = append(r.tags.Value, o.tags.Value...)

	r.dead.Transport = append(r.dead.Transport, o.dead.Transport...)
	r.dead.Source = append(r.dead.Source, o.dead.Source...)
	r.dead.Reason = append(r.dead.Reason, o.dead.Reason...)
	r.dead.RecordIndex = append(r.dead.RecordIndex, o.dead.RecordIndex...)
	r.dead.Payload = append(r.dead.Payload, o.dead.Payload...)
	r.deadKinds = append(r.deadKinds, o.deadKinds...)
}

// dedupeTags drops repeated tags: one upsert statement must not touch a row
// twice. The rest are sorted, so concurrent batches lock rows in one order.
func (r *rows) dedupeTags() {
	type tag struct{ typ, id, key, value string }
	n := len(r.tags.Key)
	if n == 0 {
		return
	}
	all := make([]tag, n)
	for i := range n {
		all[i] = tag{r.tags.EntityType[i], r.tags.EntityID[i], r.tags.Key[i], r.tags.Value[i]}
	}
	slices.SortFunc(all, func(a, b tag) int {
		return strings.Compare(a.typ+"\x00"+a.id+"\x00"+a.key+"\x00"+a.value, b.typ+"\x00"+b.id+"\x00"+b.key+"\x00"+b.value)
	})
	all = slices.Compact(all)
	r.tags = dbsqlc.UpsertTagBatchParams{
		EntityType: make([]string, len(all)), EntityID: make([]string, len(all)),
		Key: make([]string, len(all)), Value: make([]string, len(all)),
	}
	for i, t := range all {
		r.tags.EntityType[i], r.tags.EntityID[i], r.tags.Key[i], r.tags.Value[i] = t.typ, t.id, t.key, t.value
	}
}

// job is one message on its way through the queue.
type job struct {
	ctx       context.Context // the caller's; checked before the batch starts
	source    string
	transport string
	rows      rows
	result    Result
	done      chan error // buffered: the writer never blocks on it
}

func (p *Pipeline) newJob(ctx context.Context, source, transport string) *job {
	return &job{ctx: ctx, source: source, transport: transport, done: make(chan error, 1)}
}

func (j *job) addDead(d deadLetter, transport, source string) {
	r := &j.rows
	r.dead.Transport = append(r.dead.Transport, transport)
	r.dead.Source = append(r.dead.Source, source)
	r.dead.Reason = append(r.dead.Reason, d.reason)
	r.dead.RecordIndex = append(r.dead.RecordIndex, int32(d.index))
	if d.payload == nil {
		d.payload = []byte{}
	}
	r.dead.Payload = append(r.dead.Payload, d.payload)
	r.deadKinds = append(r.deadKinds, d.kind)
}

// prepare resolves the records' entities and turns msg into a job's rows.
// dead are dead letters found while decoding (Handle); with deadLetterRejects
// the records rejected here become dead letters too. raw, when not nil, is
// the message as received (kept for dead-lettered traces).
func (p *Pipeline) prepare(ctx context.Context, source string, msg *record.Message, raw []byte, dead []deadLetter, deadLetterRejects bool) (*job, error) {
	transport := TransportOf(source)
	j := p.newJob(ctx, source, transport)
	for _, d := range dead {
		j.addDead(d, transport, source)
		if d.kind == kindInvalidRecord {
			j.result.Rejected = append(j.result.Rejected, Rejection{Index: d.index, Reason: d.reason})
		}
	}
	reject := func(r record.ServerRecord, kind, reason string) {
		j.result.Rejected = append(j.result.Rejected, Rejection{Index: r.Index, Reason: reason})
		if deadLetterRejects {
			j.addDead(deadLetter{kind: kind, index: r.Index, reason: reason, payload: recordPayload(r)}, transport, source)
		}
	}

	switch msg.Kind {
	case record.KindRecords:
		j.rows.reserve(msg.Records)
		ids := make(map[string]int32, 1)
		unknown := make(map[string]bool)
		for _, r := range msg.Records {
			switch r.Type {
			case record.TypeGenAIEval, record.TypeGenAITask, record.TypeGenAIWorkflow:
				j.addDead(deadLetter{kind: kindUnsupported, index: r.Index, reason: UnsupportedReason,
					payload: recordPayload(r)}, transport, source)
				j.result.Deferred++
				continue
			}
			if reason := checkText(r); reason != "" {
				reject(r, kindInvalidValue, reason)
				continue
			}
			uid := r.UID()
			id, known := ids[uid]
			if !known && !unknown[uid] {
				var err error
				id, err = p.entities.ID(ctx, uid)
				switch {
				case err == nil:
					ids[uid], known = id, true
				case errors.Is(err, entity.ErrUnknownUID):
					unknown[uid] = true
				case ctx.Err() != nil:
					return nil, fmt.Errorf("submit: %w", context.Cause(ctx))
				default:
					return nil, fmt.Errorf("%w: %v", ErrUnavailable, err)
				}
			}
			if !known {
				reject(r, kindUnknownUID, fmt.Sprintf("records[%d].%s.uid: unknown profile uid %q", r.Index, r.Type, uid))
				continue
			}
			if err := j.rows.addRecord(r, id); err != nil {
				reject(r, kindInvalidValue, err.Error())
				continue
			}
			j.result.Stored++
		}
	case record.KindTag:
		t := msg.Tag
		if t == nil {
			return nil, errors.New("submit: tag message without a tag")
		}
		if field := nulField(map[string]string{"entity_type": t.EntityType, "entity_id": t.EntityID, "key": t.Key, "value": t.Value}); field != "" {
			reason := field + ": " + nulMsg
			j.result.Rejected = append(j.result.Rejected, Rejection{Index: -1, Reason: reason})
			if deadLetterRejects {
				j.addDead(deadLetter{kind: kindInvalidValue, index: -1, reason: reason, payload: rawOr(raw, msg)}, transport, source)
			}
			break
		}
		j.rows.tags.EntityType = append(j.rows.tags.EntityType, t.EntityType)
		j.rows.tags.EntityID = append(j.rows.tags.EntityID, t.EntityID)
		j.rows.tags.Key = append(j.rows.tags.Key, t.Key)
		j.rows.tags.Value = append(j.rows.tags.Value, t.Value)
		j.result.Stored++
	case record.KindTrace:
		j.addDead(deadLetter{kind: kindUnsupported, index: -1, reason: UnsupportedReason, payload: rawOr(raw, msg)}, transport, source)
		j.result.Deferred++
	}
	slices.SortStableFunc(j.result.Rejected, func(a, b Rejection) int { return a.Index - b.Index })
	return j, nil
}

// reserve sizes the column arrays for recs, so that appending them does not
// grow the arrays step by step.
func (r *rows) reserve(recs []record.ServerRecord) {
	var spc, psi, custom, obs int
	for _, rec := range recs {
		switch {
		case rec.Spc != nil:
			spc++
		case rec.Psi != nil:
			psi++
		case rec.Custom != nil:
			custom++
		case rec.Observability != nil:
			obs++
		}
	}
	r.grow(spc, psi, custom, obs)
}

// grow makes room for that many more rows per table.
func (r *rows) grow(spc, psi, custom, obs int) {
	if spc > 0 {
		r.spc.CreatedAt = slices.Grow(r.spc.CreatedAt, spc)
		r.spc.EntityID = slices.Grow(r.spc.EntityID, spc)
		r.spc.Feature = slices.Grow(r.spc.Feature, spc)
		r.spc.Value = slices.Grow(r.spc.Value, spc)
	}
	if psi > 0 {
		r.psi.CreatedAt = slices.Grow(r.psi.CreatedAt, psi)
		r.psi.EntityID = slices.Grow(r.psi.EntityID, psi)
		r.psi.Feature = slices.Grow(r.psi.Feature, psi)
		r.psi.BinID = slices.Grow(r.psi.BinID, psi)
		r.psi.BinCount = slices.Grow(r.psi.BinCount, psi)
	}
	if custom > 0 {
		r.custom.CreatedAt = slices.Grow(r.custom.CreatedAt, custom)
		r.custom.EntityID = slices.Grow(r.custom.EntityID, custom)
		r.custom.Metric = slices.Grow(r.custom.Metric, custom)
		r.custom.Value = slices.Grow(r.custom.Value, custom)
	}
	if obs > 0 {
		r.obs.EntityID = slices.Grow(r.obs.EntityID, obs)
		r.obs.RequestCount = slices.Grow(r.obs.RequestCount, obs)
		r.obs.ErrorCount = slices.Grow(r.obs.ErrorCount, obs)
		r.obs.RouteMetrics = slices.Grow(r.obs.RouteMetrics, obs)
	}
}

// addRecord appends one drift or observability record of entity id.
func (r *rows) addRecord(rec record.ServerRecord, id int32) error {
	switch {
	case rec.Spc != nil:
		s := rec.Spc
		r.spc.CreatedAt = append(r.spc.CreatedAt, s.CreatedAt.Time)
		r.spc.EntityID = append(r.spc.EntityID, id)
		r.spc.Feature = append(r.spc.Feature, s.Feature)
		r.spc.Value = append(r.spc.Value, s.Value)
	case rec.Psi != nil:
		s := rec.Psi
		r.psi.CreatedAt = append(r.psi.CreatedAt, s.CreatedAt.Time)
		r.psi.EntityID = append(r.psi.EntityID, id)
		r.psi.Feature = append(r.psi.Feature, s.Feature)
		r.psi.BinID = append(r.psi.BinID, s.BinID)
		r.psi.BinCount = append(r.psi.BinCount, s.BinCount)
	case rec.Custom != nil:
		s := rec.Custom
		r.custom.CreatedAt = append(r.custom.CreatedAt, s.CreatedAt.Time)
		r.custom.EntityID = append(r.custom.EntityID, id)
		r.custom.Metric = append(r.custom.Metric, s.Metric)
		r.custom.Value = append(r.custom.Value, s.Value)
	case rec.Observability != nil:
		o := rec.Observability
		routes := o.RouteMetrics
		if routes == nil {
			routes = []record.RouteMetrics{}
		}
		js, err := json.Marshal(routes)
		if err != nil {
			return fmt.Errorf("records[%d].Observability.route_metrics: %v", rec.Index, err)
		}
		r.obs.EntityID = append(r.obs.EntityID, id)
		r.obs.RequestCount = append(r.obs.RequestCount, o.RequestCount)
		r.obs.ErrorCount = append(r.obs.ErrorCount, o.ErrorCount)
		r.obs.RouteMetrics = append(r.obs.RouteMetrics, js)
	default:
		return fmt.Errorf("records[%d]: record type %q cannot be stored", rec.Index, string(rec.Type))
	}
	return nil
}

const nulMsg = "contains a NUL character, which Postgres text cannot store"

// checkText returns why a record's text cannot be stored, or "".
func checkText(r record.ServerRecord) string {
	if !hasNUL(r) {
		return ""
	}
	fields := map[string]string{"uid": r.UID()}
	switch {
	case r.Spc != nil:
		fields["feature"] = r.Spc.Feature
	case r.Psi != nil:
		fields["feature"] = r.Psi.Feature
	case r.Custom != nil:
		fields["metric"] = r.Custom.Metric
	case r.Observability != nil:
		for i, rm := range r.Observability.RouteMetrics {
			fields[fmt.Sprintf("route_metrics[%d].route_name", i)] = rm.RouteName
		}
	}
	if f := nulField(fields); f != "" {
		return fmt.Sprintf("records[%d].%s.%s: %s", r.Index, r.Type, f, nulMsg)
	}
	return ""
}

// hasNUL reports whether any of a record's text fields holds a NUL byte
// (the common case, none, without allocating).
func hasNUL(r record.ServerRecord) bool {
	nul := func(v string) bool { return strings.IndexByte(v, 0) >= 0 }
	if nul(r.UID()) {
		return true
	}
	switch {
	case r.Spc != nil:
		return nul(r.Spc.Feature)
	case r.Psi != nil:
		return nul(r.Psi.Feature)
	case r.Custom != nil:
		return nul(r.Custom.Metric)
	case r.Observability != nil:
		for _, rm := range r.Observability.RouteMetrics {
			if nul(rm.RouteName) {
				return true
			}
		}
	}
	return false
}

// nulField returns the first (by name) field holding a NUL byte, or "".
func nulField(fields map[string]string) string {
	var bad []string
	for name, v := range fields {
		if strings.IndexByte(v, 0) >= 0 {
			bad = append(bad, name)
		}
	}
	if len(bad) == 0 {
		return ""
	}
	slices.Sort(bad)
	return bad[0]
}

// recordPayload is a dead-lettered record as a one-record MessageRecord, so
// the row's payload can be replayed as it is.
func recordPayload(r record.ServerRecord) []byte {
	b, err := r.MarshalJSON()
	if err != nil {
		return []byte{}
	}
	return wrapRecord(b)
}

// wrapRecord wraps one raw "records" element as {"records":[elem]}.
func wrapRecord(elem []byte) []byte {
	out := make([]byte, 0, len(elem)+14)
	out = append(out, `{"records":[`...)
	out = append(out, elem...)
	return append(out, "]}"...)
}

// rawOr returns raw, or msg re-encoded when raw is nil.
func rawOr(raw []byte, msg *record.Message) []byte {
	if raw != nil {
		return raw
	}
	var v any
	switch msg.Kind {
	case record.KindTag:
		v = msg.Tag
	case record.KindTrace:
		v = msg.Trace
	default:
		return []byte{}
	}
	b, err := json.Marshal(v)
	if err != nil {
		return []byte{}
	}
	return b
}
