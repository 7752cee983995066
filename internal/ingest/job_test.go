package ingest

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/scoutergo/server/internal/record"
)

func TestCheckText(t *testing.T) {
	obs := func(routes ...string) record.ServerRecord {
		o := &record.ObservabilityMetrics{UID: "u"}
		for _, r := range routes {
			o.RouteMetrics = append(o.RouteMetrics, record.RouteMetrics{RouteName: r})
		}
		return record.ServerRecord{Index: 3, Type: record.TypeObservability, Observability: o}
	}
	tests := []struct {
		name string
		rec  record.ServerRecord
		want string // "" or the field named in the reason
	}{
		{"spc clean", record.ServerRecord{Type: record.TypeSpc, Spc: &record.SpcRecord{UID: "u", Feature: "f"}}, ""},
		{"spc feature", record.ServerRecord{Type: record.TypeSpc, Spc: &record.SpcRecord{UID: "u", Feature: "f\x00"}}, "records[0].Spc.feature"},
		{"spc uid and feature", record.ServerRecord{Type: record.TypeSpc, Spc: &record.SpcRecord{UID: "\x00", Feature: "\x00"}}, "records[0].Spc.feature"},
		{"psi uid", record.ServerRecord{Type: record.TypePsi, Psi: &record.PsiRecord{UID: "u\x00", Feature: "f"}}, "records[0].Psi.uid"},
		{"custom metric", record.ServerRecord{Index: 2, Type: record.TypeCustom, Custom: &record.CustomMetricRecord{UID: "u", Metric: "\x00m"}}, "records[2].Custom.metric"},
		{"custom clean", record.ServerRecord{Type: record.TypeCustom, Custom: &record.CustomMetricRecord{UID: "u", Metric: "m"}}, ""},
		{"observability clean", obs("/a", "/b"), ""},
		{"observability route", obs("/a", "/b\x00"), "records[3].Observability.route_metrics[1].route_name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := checkText(tt.rec)
			if tt.want == "" {
				assert.Empty(t, got)
				return
			}
			assert.Equal(t, tt.want+": "+nulMsg, got)
		})
	}
}
