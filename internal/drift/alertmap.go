package drift

import (
	"bytes"
	"encoding/json"
	"fmt"
)

// AlertMap is the stored/served alert (drift_alert.alert, api.md §1.9), an
// externally tagged union: {"Spc": {...}}, {"Psi": {...}}, {"Custom": {...}},
// {"GenAI": {...}}, or the bare string "None" when no variant is set.
type AlertMap struct {
	Spc    *SPCAlert
	Psi    *PSIAlert
	Custom *MetricAlert
	GenAI  *MetricAlert
}

// EntityName is the drift_alert.entity_name of the alert: the feature (SPC,
// PSI) or metric name (Custom, GenAI); "" for None.
func (m AlertMap) EntityName() string {
	switch {
	case m.Spc != nil:
		return m.Spc.Feature
	case m.Psi != nil:
		return m.Psi.Feature
	case m.Custom != nil:
		return m.Custom.MetricName
	case m.GenAI != nil:
		return m.GenAI.MetricName
	}
	return ""
}

// MarshalJSON writes the externally tagged form.
func (m AlertMap) MarshalJSON() ([]byte, error) {
	var key string
	var v any
	n := 0
	if m.Spc != nil {
		key, v, n = "Spc", m.Spc, n+1
	}
	if m.Psi != nil {
		key, v, n = "Psi", m.Psi, n+1
	}
	if m.Custom != nil {
		key, v, n = "Custom", m.Custom, n+1
	}
	if m.GenAI != nil {
		key, v, n = "GenAI", m.GenAI, n+1
	}
	switch n {
	case 0:
		return []byte(`"None"`), nil
	case 1:
		return json.Marshal(map[string]any{key: v})
	}
	return nil, fmt.Errorf("alert map: %d variants set, want at most 1", n)
}

// UnmarshalJSON reads the externally tagged form (or "None").
func (m *AlertMap) UnmarshalJSON(b []byte) error {
	*m = AlertMap{}
	if bytes.Equal(bytes.TrimSpace(b), []byte(`"None"`)) {
		return nil
	}
	var tagged map[string]json.RawMessage
	if err := json.Unmarshal(b, &tagged); err != nil {
		return fmt.Errorf("alert map: %w", err)
	}
	if len(tagged) != 1 {
		return fmt.Errorf("alert map: want exactly one variant key, got %d", len(tagged))
	}
	for key, raw := range tagged {
		var err error
		switch key {
		case "Spc":
			m.Spc = new(SPCAlert)
			err = json.Unmarshal(raw, m.Spc)
		case "Psi":
			m.Psi = new(PSIAlert)
			err = json.Unmarshal(raw, m.Psi)
		case "Custom":
			m.Custom = new(MetricAlert)
			err = json.Unmarshal(raw, m.Custom)
		case "GenAI":
			m.GenAI = new(MetricAlert)
			err = json.Unmarshal(raw, m.GenAI)
		default:
			return fmt.Errorf("alert map: unknown variant %q", key)
		}
		if err != nil {
			return fmt.Errorf("alert map %s: %w", key, err)
		}
	}
	return nil
}
