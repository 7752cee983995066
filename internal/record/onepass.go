package record

import (
	"bytes"
	"math"
	"strconv"
	"time"
)

// A single pass decoder for the common ingest message: {"records": [...]}
// with Spc, Psi and Custom elements. It validates the JSON while it decodes
// (with the rules of encoding/json's scanner, nesting limit included), so
// each byte is read about once instead of once per level plus a json.Valid
// pass. It only handles the success case: whenever something is unusual
// (an escaped key, a duplicate field, null, a type mismatch, another record
// type) it hands the element, or the whole message, to the general decoder,
// which then produces exactly the result and errors it always did.

// maxDepth is encoding/json's nesting limit (json.Valid fails above it).
const maxDepth = 10000

// Nesting depth of the containers of a ServerRecords message.
const (
	depthTop     = 1 // the message object
	depthRecords = 2 // the "records" array
	depthElement = 3 // {"Spc": ...}
	depthPayload = 4 // the Spc/Psi/Custom object
)

type onePass struct {
	b []byte
	i int

	// Records are carved from per-type slabs to save one allocation each.
	spc    []SpcRecord
	psi    []PsiRecord
	custom []CustomMetricRecord
	slab   int // slab length, estimated from the first element's size

	lastUID string            // uids repeat across a message; reuse the last one
	names   map[string]string // so do feature and metric names
}

// decodeOnePass decodes data when it is a well-formed ServerRecords
// message. ok is false when the general decoder must decide instead.
func decodeOnePass(data []byte) (msg *Message, err error, ok bool) {
	p := onePass{b: data}
	p.space()
	if !p.eat('{') {
		return nil, nil, false
	}
	p.space()
	var (
		seen    bool
		records []ServerRecord
		bad     []RecordError
		total   int
	)
	for {
		if !p.at('"') {
			return nil, nil, false
		}
		key, esc, _, valid := p.str()
		if !valid || esc {
			return nil, nil, false
		}
		p.space()
		if !p.eat(':') {
			return nil, nil, false
		}
		p.space()
		if string(key) == "records" {
			if seen || !p.at('[') {
				return nil, nil, false
			}
			seen = true
			if records, bad, total, valid = p.records(); !valid {
				return nil, nil, false
			}
		} else if !p.value(depthTop) {
			return nil, nil, false
		}
		p.space()
		if p.eat(',') {
			p.space()
			continue
		}
		if !p.eat('}') {
			return nil, nil, false
		}
		break
	}
	p.space()
	if p.i != len(p.b) || !seen {
		return nil, nil, false
	}
	msg = &Message{Kind: KindRecords, Records: records, Total: total}
	if len(bad) > 0 {
		return msg, &RecordsError{Total: total, Invalid: bad}, true
	}
	return msg, nil, true
}

// records decodes the array at p.i like decodeRecords.
func (p *onePass) records() (recs []ServerRecord, bad []RecordError, total int, ok bool) {
	p.i++ // '['
	p.space()
	if p.eat(']') {
		return nil, nil, 0, true
	}
	for idx := 0; ; idx++ {
		start := p.i
		rec, fast := p.element(idx)
		if !fast {
			p.i = start
			if !p.value(depthRecords) {
				return nil, nil, 0, false
			}
			elem := p.b[start:p.i]
			r, rerr := decodeElement(idx, elem)
			if rerr != nil {
				rerr.Index, rerr.Raw = idx, bytes.Clone(elem)
				bad = append(bad, *rerr)
			} else {
				recs = append(recs, r)
			}
		} else {
			if recs == nil {
				recs = make([]ServerRecord, 0, p.estimate(start))
			}
			recs = append(recs, rec)
		}
		p.space()
		if p.eat(',') {
			p.space()
			continue
		}
		if !p.eat(']') {
			return nil, nil, 0, false
		}
		return recs, bad, idx + 1, true
	}
}

// estimate guesses how many elements follow, from the size of the one that
// started at start and ends at p.i (messages are usually uniform).
func (p *onePass) estimate(start int) int {
	size := p.i - start + 1
	n := (len(p.b)-p.i)/size + 1
	return min(max(n, 1), 1<<16)
}

// element decodes one Spc/Psi/Custom element without errors; fast is false
// for anything else (the caller then rescans it with the general decoder).
func (p *onePass) element(idx int) (rec ServerRecord, fast bool) {
	start := p.i
	if !p.eat('{') {
		return rec, false
	}
	p.space()
	if !p.at('"') {
		return rec, false
	}
	key, esc, _, ok := p.str()
	if !ok || esc {
		return rec, false
	}
	var typ RecordType
	switch string(key) {
	case string(TypeSpc):
		typ = TypeSpc
	case string(TypePsi):
		typ = TypePsi
	case string(TypeCustom):
		typ = TypeCustom
	default:
		return rec, false
	}
	p.space()
	if !p.eat(':') {
		return rec, false
	}
	p.space()
	d, ok := p.drift(typ)
	if !ok {
		return rec, false
	}
	p.space()
	if !p.eat('}') {
		return rec, false
	}
	if p.slab == 0 {
		p.slab = p.estimate(start)
	}
	rec = ServerRecord{Index: idx, Type: typ}
	switch typ {
	case TypeSpc:
		if !d.hasCreated || !d.hasUID || !d.hasFeature || !d.hasValue {
			return rec, false
		}
		if len(p.spc) == 0 {
			p.spc = make([]SpcRecord, min(p.slab, 256))
		}
		r := &p.spc[0]
		p.spc = p.spc[1:]
		*r = SpcRecord{CreatedAt: d.createdAt, UID: d.uid, Feature: d.feature, Value: d.value, EntityID: d.entity}
		rec.Spc = r
	case TypePsi:
		if !d.hasCreated || !d.hasUID || !d.hasFeature || !d.hasBin || !d.hasCnt {
			return rec, false
		}
		if len(p.psi) == 0 {
			p.psi = make([]PsiRecord, min(p.slab, 256))
		}
		r := &p.psi[0]
		p.psi = p.psi[1:]
		*r = PsiRecord{CreatedAt: d.createdAt, UID: d.uid, Feature: d.feature, BinID: d.binID, BinCount: d.binCount, EntityID: d.entity}
		rec.Psi = r
	case TypeCustom:
		if !d.hasCreated || !d.hasUID || !d.hasMetric || !d.hasValue {
			return rec, false
		}
		if len(p.custom) == 0 {
			p.custom = make([]CustomMetricRecord, min(p.slab, 256))
		}
		r := &p.custom[0]
		p.custom = p.custom[1:]
		*r = CustomMetricRecord{CreatedAt: d.createdAt, UID: d.uid, Metric: d.metric, Value: d.value, EntityID: d.entity}
		rec.Custom = r
	}
	return rec, true
}

// Fields of the drift payloads, as bits of a seen-set.
const (
	fCreated = 1 << iota
	fUID
	fEntity
	fFeature
	fMetric
	fValue
	fBin
	fCount
)

// driftField maps a payload key to its field bit for typ; 0 means the key
// is ignored (as decodeDrift ignores it).
func driftField(key []byte, typ RecordType) int {
	switch string(key) {
	case "created_at":
		return fCreated
	case "uid":
		return fUID
	case "entity_id":
		return fEntity
	case "feature":
		if typ != TypeCustom {
			return fFeature
		}
	case "metric":
		if typ == TypeCustom {
			return fMetric
		}
	case "value":
		if typ != TypePsi {
			return fValue
		}
	case "bin_id":
		if typ == TypePsi {
			return fBin
		}
	case "bin_count":
		if typ == TypePsi {
			return fCount
		}
	}
	return 0
}

// drift decodes the payload object at p.i like decodeDrift, but gives up
// (ok false) on null, a wrong type, an out of range value or a repeated
// field, all of which the general decoder reports or resolves.
func (p *onePass) drift(typ RecordType) (d drift, ok bool) {
	if !p.eat('{') {
		return d, false
	}
	p.space()
	if p.eat('}') {
		return d, true
	}
	seen := 0
	for {
		if !p.at('"') {
			return d, false
		}
		key, esc, _, ok := p.str()
		if !ok || esc {
			return d, false
		}
		p.space()
		if !p.eat(':') {
			return d, false
		}
		p.space()
		f := driftField(key, typ)
		if seen&f != 0 {
			return d, false
		}
		seen |= f
		switch f {
		case fCreated:
			raw, ok := p.stringBytes()
			if !ok {
				return d, false
			}
			t, ok := parseUTCTime(raw)
			if !ok {
				var err error
				if t, err = ParseTime(string(raw)); err != nil {
					return d, false
				}
			}
			d.createdAt, d.hasCreated = Time{t}, true
		case fUID:
			raw, ok := p.stringBytes()
			if !ok {
				return d, false
			}
			if string(raw) != p.lastUID {
				p.lastUID = string(raw)
			}
			d.uid, d.hasUID = p.lastUID, true
		case fFeature:
			if d.feature, d.hasFeature = p.name(); !d.hasFeature {
				return d, false
			}
		case fMetric:
			if d.metric, d.hasMetric = p.name(); !d.hasMetric {
				return d, false
			}
		case fValue:
			if d.value, d.hasValue = p.float(); !d.hasValue {
				return d, false
			}
		case fEntity:
			if d.entity, ok = p.int32(); !ok {
				return d, false
			}
		case fBin:
			if d.binID, d.hasBin = p.int32(); !d.hasBin {
				return d, false
			}
		case fCount:
			if d.binCount, d.hasCnt = p.int32(); !d.hasCnt {
				return d, false
			}
		default:
			if !p.value(depthPayload) {
				return d, false
			}
		}
		p.space()
		if p.eat(',') {
			p.space()
			continue
		}
		return d, p.eat('}')
	}
}

// stringBytes reads a JSON string value and returns its decoded bytes
// (aliasing p.b when there is nothing to decode), as unquote would.
func (p *onePass) stringBytes() ([]byte, bool) {
	if !p.at('"') {
		return nil, false
	}
	start := p.i
	inner, esc, high, ok := p.str()
	if !ok {
		return nil, false
	}
	if !esc && !high {
		return inner, true
	}
	return unquoteBytes(p.b[start:p.i])
}

// name reads a string, sharing repeated short values.
func (p *onePass) name() (string, bool) {
	b, ok := p.stringBytes()
	if !ok {
		return "", false
	}
	if s, ok := p.names[string(b)]; ok {
		return s, true
	}
	s := string(b)
	if len(s) <= 64 && len(p.names) < 256 {
		if p.names == nil {
			p.names = make(map[string]string)
		}
		p.names[s] = s
	}
	return s, true
}

// float reads a number like scalar.float, refusing what it would reject.
func (p *onePass) float() (float64, bool) {
	start := p.i
	if !p.number() {
		return 0, false
	}
	v, err := strconv.ParseFloat(string(p.b[start:p.i]), 64)
	if err != nil || math.IsInf(v, 0) {
		return 0, false
	}
	return v, true
}

// int32 reads a number like scalar.int32, refusing what it would reject.
func (p *onePass) int32() (int32, bool) {
	start := p.i
	if !p.number() {
		return 0, false
	}
	v, err := strconv.ParseInt(string(p.b[start:p.i]), 10, 32)
	if err != nil {
		return 0, false
	}
	return int32(v), true
}

// The validating scanner. Every function stays in bounds on any input and
// accepts exactly what encoding/json's scanner accepts.

func (p *onePass) space() {
	for p.i < len(p.b) && isSpace(p.b[p.i]) {
		p.i++
	}
}

func (p *onePass) at(c byte) bool { return p.i < len(p.b) && p.b[p.i] == c }

func (p *onePass) eat(c byte) bool {
	if p.at(c) {
		p.i++
		return true
	}
	return false
}

// str reads the string at p.i (which is '"'). inner is the raw text
// between the quotes; esc reports a backslash, high a byte >= 0x80.
func (p *onePass) str() (inner []byte, esc, high, ok bool) {
	b := p.b
	start := p.i + 1
	for i := start; i < len(b); i++ {
		c := b[i]
		if plainByte[c] != 0 {
			continue
		}
		switch {
		case c == '"':
			p.i = i + 1
			return b[start:i], esc, high, true
		case c == '\\':
			esc = true
			i++
			if i >= len(b) {
				return nil, false, false, false
			}
			switch b[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				if i+4 >= len(b) {
					return nil, false, false, false
				}
				for _, h := range b[i+1 : i+5] {
					if !isHex(h) {
						return nil, false, false, false
					}
				}
				i += 4
			default:
				return nil, false, false, false
			}
		case c < 0x20:
			return nil, false, false, false
		default:
			high = true
		}
	}
	return nil, false, false, false
}

// plainByte[c] is 1 for the bytes a string scan can pass over: printable
// ASCII other than '"' and '\\'.
const plainByte = "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x01\x01\x00\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01" +
	"\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x00\x01\x01\x01" +
	"\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01\x01" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" +
	"\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// number reads a JSON number at p.i; what follows it is the caller's to
// check (as for every value).
func (p *onePass) number() bool {
	b, i := p.b, p.i
	if i < len(b) && b[i] == '-' {
		i++
	}
	switch {
	case i >= len(b):
		return false
	case b[i] == '0':
		i++
	case b[i] >= '1' && b[i] <= '9':
		for i++; i < len(b) && isDigit(b[i]); i++ {
		}
	default:
		return false
	}
	if i < len(b) && b[i] == '.' {
		i++
		if i >= len(b) || !isDigit(b[i]) {
			return false
		}
		for i++; i < len(b) && isDigit(b[i]); i++ {
		}
	}
	if i < len(b) && (b[i] == 'e' || b[i] == 'E') {
		i++
		if i < len(b) && (b[i] == '+' || b[i] == '-') {
			i++
		}
		if i >= len(b) || !isDigit(b[i]) {
			return false
		}
		for i++; i < len(b) && isDigit(b[i]); i++ {
		}
	}
	p.i = i
	return true
}

func (p *onePass) literal(lit string) bool {
	if !bytes.HasPrefix(p.b[p.i:], []byte(lit)) {
		return false
	}
	p.i += len(lit)
	return true
}

// value validates and skips the value at p.i; depth is the number of
// containers around it.
func (p *onePass) value(depth int) bool {
	if p.i >= len(p.b) {
		return false
	}
	switch c := p.b[p.i]; c {
	case '"':
		_, _, _, ok := p.str()
		return ok
	case '{':
		if depth++; depth > maxDepth {
			return false
		}
		p.i++
		p.space()
		if p.eat('}') {
			return true
		}
		for {
			if !p.at('"') {
				return false
			}
			if _, _, _, ok := p.str(); !ok {
				return false
			}
			p.space()
			if !p.eat(':') {
				return false
			}
			p.space()
			if !p.value(depth) {
				return false
			}
			p.space()
			if p.eat(',') {
				p.space()
				continue
			}
			return p.eat('}')
		}
	case '[':
		if depth++; depth > maxDepth {
			return false
		}
		p.i++
		p.space()
		if p.eat(']') {
			return true
		}
		for {
			if !p.value(depth) {
				return false
			}
			p.space()
			if p.eat(',') {
				p.space()
				continue
			}
			return p.eat(']')
		}
	case 't':
		return p.literal("true")
	case 'f':
		return p.literal("false")
	case 'n':
		return p.literal("null")
	}
	return p.number()
}

// parseUTCTime parses the common form YYYY-MM-DDTHH:MM:SS[.fraction]Z
// (fraction of 1 to 9 digits) as ParseTime would, without allocating. ok is
// false for anything else, which ParseTime then decides on.
func parseUTCTime(b []byte) (t time.Time, ok bool) {
	if len(b) < 20 || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' || b[len(b)-1] != 'Z' {
		return t, false
	}
	num := func(s []byte) (int, bool) {
		n := 0
		for _, c := range s {
			if !isDigit(c) {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	year, ok1 := num(b[0:4])
	month, ok2 := num(b[5:7])
	day, ok3 := num(b[8:10])
	hour, ok4 := num(b[11:13])
	minute, ok5 := num(b[14:16])
	sec, ok6 := num(b[17:19])
	if !ok1 || !ok2 || !ok3 || !ok4 || !ok5 || !ok6 || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || sec > 59 {
		return t, false
	}
	nsec := 0
	if frac := b[19 : len(b)-1]; len(frac) > 0 {
		if len(frac) < 2 || len(frac) > 10 || frac[0] != '.' {
			return t, false
		}
		n, ok := num(frac[1:])
		if !ok {
			return t, false
		}
		for range 10 - len(frac) {
			n *= 10
		}
		nsec = n
	}
	t = time.Date(year, time.Month(month), day, hour, minute, sec, nsec, time.UTC)
	if t.Day() != day { // day past the end of the month
		return time.Time{}, false
	}
	return t, true
}
