package ingest

import (
	"fmt"
	"os"
	"path/filepath"
	"testing"

	"github.com/scoutergo/server/internal/pgtest"
)

// FuzzHandle feeds arbitrary bytes to Handle: it must never panic, and with
// the database up it must never return an error (poison is dead-lettered,
// valid records stored). The seed corpus runs in every `go test`.
func FuzzHandle(f *testing.F) {
	for _, name := range []string{"all_types.json", "trace.json", "tag.json"} {
		b, err := os.ReadFile(filepath.Join("..", "record", "testdata", name))
		if err != nil {
			f.Fatalf("read seed %s: %v", name, err)
		}
		f.Add(b)
	}
	for _, s := range []string{
		``, `null`, `{}`, `[]`, `{"records":[]}`, `{"records":null}`, `{"records":[null,1,"x",{}]}`,
		records(spcJSON(uidA, "2026-03-26T12:00:00Z", "a", 1)),
		records(spcJSON("nobody", "2026-03-26T12:00:00Z", "a", 1)),
		records(`{"Spc":{"created_at":"2026-03-26T12:00:00Z","uid":"` + uidA + `","feature":"a\u0000","value":1}}`),
		records(fmt.Sprintf(`{"Observability":{"uid":%q,"request_count":1,"error_count":0,"route_metrics":[]}}`, uidA)),
		`{"entity_type":"t","entity_id":"i","key":"k\u0000","value":"v"}`,
		`{"entity_type":"t","entity_id":"i","key":"k","value":"v"}`,
		`{"request":{"resourceSpans":[]}}`,
		"\xff\xfe\x00",
	} {
		f.Add([]byte(s))
	}
	pool := pgtest.New(f)
	fx := newFixture(f, pool, Options{}, uidA)
	f.Fuzz(func(t *testing.T, payload []byte) {
		if err := fx.p.Handle(t.Context(), "kafka:fuzz/0@0", payload); err != nil {
			t.Fatalf("Handle(%q) = %v, want nil", payload, err)
		}
	})
}
