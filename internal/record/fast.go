package record

import (
	"fmt"
	"math"
	"strconv"
)

// Hand-written decoders for the high-volume drift records (Spc, Psi,
// Custom). They walk the already validated payload with the scanner instead
// of a second encoding/json pass with reflection, which makes Decode several
// times faster, and they match field names exactly as serde does. Messages
// are the same as for the encoding/json based decoders.

// scalar decodes one member value; null reports (zero, false, nil).
type scalar struct{ key []byte }

func (s scalar) err(msg string) error { return &fieldError{field: string(s.key), msg: msg} }

func (s scalar) float(val []byte) (float64, bool, error) {
	switch k := jsonKind(val); k {
	case "null":
		return 0, false, nil
	case "number":
	default:
		return 0, false, s.err("expected number, got " + k)
	}
	v, err := strconv.ParseFloat(string(val), 64)
	if err != nil || math.IsInf(v, 0) {
		return 0, false, s.err("number " + string(val) + " is out of range")
	}
	return v, true, nil
}

func (s scalar) int32(val []byte) (int32, bool, error) {
	switch k := jsonKind(val); k {
	case "null":
		return 0, false, nil
	case "number":
	default:
		return 0, false, s.err("expected 32-bit integer, got " + k)
	}
	v, err := strconv.ParseInt(string(val), 10, 32)
	if err != nil {
		return 0, false, s.err("expected 32-bit integer, got number " + string(val))
	}
	return int32(v), true, nil
}

func (s scalar) string(val []byte) (string, bool, error) {
	switch k := jsonKind(val); k {
	case "null":
		return "", false, nil
	case "string":
	default:
		return "", false, s.err("expected string, got " + k)
	}
	v, ok := unquote(val)
	if !ok {
		return "", false, s.err("invalid string")
	}
	return v, true, nil
}

func (s scalar) time(val []byte) (Time, bool, error) {
	str, ok, err := s.string(val)
	if err != nil {
		return Time{}, false, s.err("expected RFC3339 datetime, got " + jsonKind(val))
	}
	if !ok {
		return Time{}, false, nil
	}
	t, err := ParseTime(str)
	if err != nil {
		return Time{}, false, s.err("expected RFC3339 datetime, got string " + strconv.Quote(str))
	}
	return Time{t}, true, nil
}

// drift is the union of the Spc, Psi and Custom fields.
type drift struct {
	createdAt                Time
	uid, feature, metric     string
	value                    float64
	binID, binCount, entity  int32
	hasCreated, hasUID       bool
	hasFeature, hasMetric    bool
	hasValue, hasBin, hasCnt bool
}

// decodeDrift decodes the fields of typ; other keys are ignored, as serde
// ignores unknown fields.
func decodeDrift(payload []byte, typ RecordType) (drift, error) {
	var d drift
	var err error
	isObject := eachMember(payload, func(k, val []byte) {
		if err != nil {
			return
		}
		s := scalar{k}
		// string(k) in comparisons does not allocate.
		switch {
		case string(k) == "created_at":
			d.createdAt, d.hasCreated, err = s.time(val)
		case string(k) == "uid":
			d.uid, d.hasUID, err = s.string(val)
		case string(k) == "entity_id":
			d.entity, _, err = s.int32(val)
		case string(k) == "feature" && typ != TypeCustom:
			d.feature, d.hasFeature, err = s.string(val)
		case string(k) == "metric" && typ == TypeCustom:
			d.metric, d.hasMetric, err = s.string(val)
		case string(k) == "value" && typ != TypePsi:
			d.value, d.hasValue, err = s.float(val)
		case string(k) == "bin_id" && typ == TypePsi:
			d.binID, d.hasBin, err = s.int32(val)
		case string(k) == "bin_count" && typ == TypePsi:
			d.binCount, d.hasCnt, err = s.int32(val)
		}
	})
	if !isObject {
		return d, &fieldError{msg: fmt.Sprintf("expected object, got %s", jsonKind(payload))}
	}
	return d, err
}

func decodeSpc(payload []byte) (*SpcRecord, error) {
	d, err := decodeDrift(payload, TypeSpc)
	switch {
	case err != nil:
		return nil, err
	case !d.hasCreated:
		return nil, missing("created_at", "datetime")
	case !d.hasUID:
		return nil, missing("uid", "string")
	case !d.hasFeature:
		return nil, missing("feature", "string")
	case !d.hasValue:
		return nil, missing("value", "number")
	}
	return &SpcRecord{CreatedAt: d.createdAt, UID: d.uid, Feature: d.feature, Value: d.value, EntityID: d.entity}, nil
}

func decodePsi(payload []byte) (*PsiRecord, error) {
	d, err := decodeDrift(payload, TypePsi)
	switch {
	case err != nil:
		return nil, err
	case !d.hasCreated:
		return nil, missing("created_at", "datetime")
	case !d.hasUID:
		return nil, missing("uid", "string")
	case !d.hasFeature:
		return nil, missing("feature", "string")
	case !d.hasBin:
		return nil, missing("bin_id", "integer")
	case !d.hasCnt:
		return nil, missing("bin_count", "integer")
	}
	return &PsiRecord{CreatedAt: d.createdAt, UID: d.uid, Feature: d.feature, BinID: d.binID, BinCount: d.binCount, EntityID: d.entity}, nil
}

func decodeCustom(payload []byte) (*CustomMetricRecord, error) {
	d, err := decodeDrift(payload, TypeCustom)
	switch {
	case err != nil:
		return nil, err
	case !d.hasCreated:
		return nil, missing("created_at", "datetime")
	case !d.hasUID:
		return nil, missing("uid", "string")
	case !d.hasMetric:
		return nil, missing("metric", "string")
	case !d.hasValue:
		return nil, missing("value", "number")
	}
	return &CustomMetricRecord{CreatedAt: d.createdAt, UID: d.uid, Metric: d.metric, Value: d.value, EntityID: d.entity}, nil
}
