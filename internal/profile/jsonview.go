package profile

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"sort"
	"strconv"
)

// This file holds a tiny read-only view over raw JSON objects. Field names are
// matched exactly (serde semantics, unlike encoding/json's case-insensitive
// struct matching) and every error names the dotted path of the field.

// kindOf names the JSON type of a raw value for error messages.
func kindOf(raw json.RawMessage) string {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return "nothing"
	}
	switch raw[0] {
	case '{':
		return "object"
	case '[':
		return "array"
	case '"':
		return "string"
	case 't', 'f':
		return "boolean"
	case 'n':
		return "null"
	}
	return "number"
}

func isNull(raw json.RawMessage) bool {
	return len(raw) == 0 || kindOf(raw) == "null"
}

func join(path, key string) string {
	if path == "" {
		return key
	}
	return path + "." + key
}

// object is a decoded JSON object plus its path.
type object struct {
	path string
	m    map[string]json.RawMessage
}

// toObject decodes raw as an object; null or absent is "required".
func toObject(path string, raw json.RawMessage) (object, error) {
	if isNull(raw) {
		return object{}, fieldErr(path, "required object is missing or null")
	}
	if k := kindOf(raw); k != "object" {
		return object{}, fieldErr(path, "expected object, got "+k)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return object{}, fieldErr(path, "invalid object: "+err.Error())
	}
	return object{path: path, m: m}, nil
}

func (o object) has(key string) bool { return !isNull(o.m[key]) }

// sortedKeys returns the object's keys in byte order (deterministic errors).
func (o object) sortedKeys() []string {
	keys := make([]string, 0, len(o.m))
	for k := range o.m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func (o object) obj(key string) (object, error) { return toObject(join(o.path, key), o.m[key]) }

// optObj returns ok=false when the key is absent or null.
func (o object) optObj(key string) (object, bool, error) {
	if !o.has(key) {
		return object{}, false, nil
	}
	v, err := o.obj(key)
	return v, err == nil, err
}

func (o object) str(key string) (string, error) {
	raw := o.m[key]
	if isNull(raw) {
		return "", fieldErr(join(o.path, key), "required string is missing or null")
	}
	return decodeString(join(o.path, key), raw)
}

// optStr returns ok=false when the key is absent or null.
func (o object) optStr(key string) (string, bool, error) {
	if !o.has(key) {
		return "", false, nil
	}
	s, err := o.str(key)
	return s, err == nil, err
}

func decodeString(path string, raw json.RawMessage) (string, error) {
	if k := kindOf(raw); k != "string" {
		return "", fieldErr(path, "expected string, got "+k)
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fieldErr(path, "invalid string: "+err.Error())
	}
	return s, nil
}

func (o object) num(key string) (float64, error) {
	raw := o.m[key]
	if isNull(raw) {
		return 0, fieldErr(join(o.path, key), "required number is missing or null")
	}
	return decodeNumber(join(o.path, key), raw)
}

// optNum returns nil when the key is absent or null.
func (o object) optNum(key string) (*float64, error) {
	if !o.has(key) {
		return nil, nil
	}
	v, err := o.num(key)
	if err != nil {
		return nil, err
	}
	return &v, nil
}

func decodeNumber(path string, raw json.RawMessage) (float64, error) {
	if k := kindOf(raw); k != "number" {
		return 0, fieldErr(path, "expected number, got "+k)
	}
	v, err := strconv.ParseFloat(string(bytes.TrimSpace(raw)), 64)
	if err != nil || math.IsInf(v, 0) || math.IsNaN(v) {
		return 0, fieldErr(path, "number out of range")
	}
	return v, nil
}

// integer decodes a whole number within [lo, hi].
func (o object) integer(key string, lo, hi int64) (int64, error) {
	raw := o.m[key]
	path := join(o.path, key)
	if isNull(raw) {
		return 0, fieldErr(path, "required integer is missing or null")
	}
	if k := kindOf(raw); k != "number" {
		return 0, fieldErr(path, "expected integer, got "+k)
	}
	v, err := strconv.ParseInt(string(bytes.TrimSpace(raw)), 10, 64)
	if err != nil {
		return 0, fieldErr(path, "expected integer, got "+string(bytes.TrimSpace(raw)))
	}
	if v < lo || v > hi {
		return 0, fieldErr(path, fmt.Sprintf("integer %d out of range [%d, %d]", v, lo, hi))
	}
	return v, nil
}

func (o object) optBool(key string) (bool, bool, error) {
	raw := o.m[key]
	if isNull(raw) {
		return false, false, nil
	}
	switch kindOf(raw) {
	case "boolean":
		return bytes.HasPrefix(bytes.TrimSpace(raw), []byte("true")), true, nil
	default:
		return false, false, fieldErr(join(o.path, key), "expected boolean, got "+kindOf(raw))
	}
}

// optStrings decodes an optional array of strings (absent or null gives nil).
func (o object) optStrings(key string) ([]string, error) {
	raw := o.m[key]
	path := join(o.path, key)
	if isNull(raw) {
		return nil, nil
	}
	return decodeStrings(path, raw)
}

func decodeStrings(path string, raw json.RawMessage) ([]string, error) {
	if k := kindOf(raw); k != "array" {
		return nil, fieldErr(path, "expected array of strings, got "+k)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fieldErr(path, "invalid array: "+err.Error())
	}
	out := make([]string, 0, len(items))
	for i, it := range items {
		s, err := decodeString(fmt.Sprintf("%s[%d]", path, i), it)
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

// array decodes a required array into its raw items.
func (o object) array(key string) ([]json.RawMessage, error) {
	raw := o.m[key]
	path := join(o.path, key)
	if isNull(raw) {
		return nil, fieldErr(path, "required array is missing or null")
	}
	if k := kindOf(raw); k != "array" {
		return nil, fieldErr(path, "expected array, got "+k)
	}
	var items []json.RawMessage
	if err := json.Unmarshal(raw, &items); err != nil {
		return nil, fieldErr(path, "invalid array: "+err.Error())
	}
	return items, nil
}

// taggedEnum decodes an externally tagged enum value {"Variant": payload}
// and returns the variant name and its raw payload.
func taggedEnum(path string, raw json.RawMessage) (string, json.RawMessage, error) {
	o, err := toObject(path, raw)
	if err != nil {
		return "", nil, err
	}
	if len(o.m) != 1 {
		return "", nil, fieldErr(path, fmt.Sprintf("expected an object with exactly one variant key, got %d keys", len(o.m)))
	}
	for k, v := range o.m {
		return k, v, nil
	}
	return "", nil, fieldErr(path, "empty enum object")
}

// writeObject encodes m with sorted keys. The values are raw JSON taken from
// validated input or produced by json.Marshal, so this cannot fail.
func writeObject(buf *bytes.Buffer, m map[string]json.RawMessage) {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	buf.WriteByte('{')
	for i, k := range keys {
		if i > 0 {
			buf.WriteByte(',')
		}
		writeString(buf, k)
		buf.WriteByte(':')
		v := m[k]
		if len(v) == 0 {
			buf.WriteString("null")
			continue
		}
		buf.Write(v)
	}
	buf.WriteByte('}')
}

// writeString writes s as a JSON string without HTML escaping.
func writeString(buf *bytes.Buffer, s string) {
	enc := json.NewEncoder(buf)
	enc.SetEscapeHTML(false)
	// Encoding a string cannot fail; Encode appends a newline we trim.
	_ = enc.Encode(s)
	if n := buf.Len(); n > 0 && buf.Bytes()[n-1] == '\n' {
		buf.Truncate(n - 1)
	}
}

func marshalString(s string) json.RawMessage {
	var buf bytes.Buffer
	writeString(&buf, s)
	return json.RawMessage(buf.Bytes())
}
