// Package cron parses upstream Scouter's schedule strings and turns them into
// Temporal schedule specs.
//
// The dialect is the one of the Rust `cron` crate (v0.15) that upstream uses:
//
//   - 6 or 7 whitespace-separated fields: second minute hour day-of-month
//     month day-of-week [year]. A classic 5-field cron does not parse.
//   - Each field is a comma-separated list of `*`, `N`, `A-B`, `*/S`, `N/S`
//     (N up to the field maximum, stepping by S) and `A-B/S`.
//   - `?` means "any" and is only allowed in day-of-month and day-of-week
//     (also as `?/S`).
//   - Month and day-of-week accept names, case-insensitively (`JAN`,
//     `january`, `MON`, `Tues`, `thurs`, ...), as single values and as
//     `NAME-NAME` ranges (optionally with `/S`), but a single name cannot take a
//     step (`MON/2` is an error).
//   - Day-of-week runs 1-7 with Sunday = 1 (Saturday = 7).
//   - Years run 1970-2100; a missing year field means every year.
//   - Day-of-month and day-of-week must both match (AND, not Vixie's OR).
//   - The shorthands @yearly, @monthly, @weekly (Sunday), @daily and @hourly.
//   - All times are UTC.
//
// Differences from the crate (strings the crate accepts and Parse rejects):
// the crate lets whitespace appear around `,`, `-` and `/` inside a field and
// lets a field follow `*` without a separating space; Parse splits fields on
// whitespace first, so such strings fail with a clear error instead.
package cron

import (
	"fmt"
	"math/bits"
	"strconv"
	"strings"
	"time"

	"go.temporal.io/sdk/client"
)

// Presets are the upstream CommonCrons strings that clients put in an alert
// config's schedule.
const (
	Every1Minute   = "0 * * * * * *"
	Every5Minutes  = "0 0,5,10,15,20,25,30,35,40,45,50,55 * * * * *"
	Every15Minutes = "0 0,15,30,45 * * * * *"
	Every30Minutes = "0 0,30 * * * * *"
	EveryHour      = "0 0 * * * *"
	Every6Hours    = "0 0 */6 * * *"
	Every12Hours   = "0 0 */12 * * *"
	EveryDay       = "0 0 0 * * *" // default schedule of every alert config
	EveryWeek      = "0 0 0 * * SUN"
)

// Field positions (1-based, as used in error messages).
const (
	FieldSecond = iota + 1
	FieldMinute
	FieldHour
	FieldDayOfMonth
	FieldMonth
	FieldDayOfWeek
	FieldYear
)

// MinYear and MaxYear bound the year field (the crate's and Temporal's range).
const (
	MinYear = 1970
	MaxYear = 2100
)

// ParseError describes why a schedule string was rejected. Field is the
// 1-based field position, or 0 when the error concerns the whole expression.
type ParseError struct {
	Field  int
	Reason string
}

func (e *ParseError) Error() string {
	if e.Field == 0 {
		return e.Reason
	}
	return fmt.Sprintf("field %d (%s): %s", e.Field, fieldSpecs(e.Field).name, e.Reason)
}

// Range is one element of a field list: the values Start, Start+Step, ...
// up to End (inclusive), in the dialect's own numbering (day-of-week 1-7,
// Sunday = 1).
type Range struct {
	Start int
	End   int
	Step  int
}

// Field is one parsed cron field.
type Field struct {
	// Ranges are the list elements as written, normalised to ranges.
	Ranges []Range
	min    int
	set    bitset
	full   bool
}

// Contains reports whether v (in the field's own numbering) matches.
func (f Field) Contains(v int) bool {
	i := v - f.min
	if i < 0 || i >= 192 {
		return false
	}
	return f.set.has(i)
}

// All reports whether the field matches every value of its domain.
func (f Field) All() bool { return f.full }

// Values lists the matching values in ascending order.
func (f Field) Values() []int {
	var out []int
	for i := 0; i < 192; i++ {
		if f.set.has(i) {
			out = append(out, i+f.min)
		}
	}
	return out
}

// Schedule is a parsed cron expression.
type Schedule struct {
	expr       string
	Second     Field
	Minute     Field
	Hour       Field
	DayOfMonth Field
	Month      Field
	DayOfWeek  Field // 1-7, Sunday = 1
	Year       Field
}

// String returns the expression the schedule was parsed from.
func (s *Schedule) String() string { return s.expr }

type bitset [3]uint64

func (b *bitset) add(i int)      { b[i/64] |= 1 << (uint(i) % 64) }
func (b *bitset) has(i int) bool { return b[i/64]&(1<<(uint(i)%64)) != 0 }
func (b *bitset) count() int {
	return bits.OnesCount64(b[0]) + bits.OnesCount64(b[1]) + bits.OnesCount64(b[2])
}

type fieldSpec struct {
	name     string
	min, max int
	allowAny bool                     // '?' accepted
	byName   func(string) (int, bool) // nil: names not accepted
}

func fieldSpecs(pos int) fieldSpec {
	switch pos {
	case FieldSecond:
		return fieldSpec{name: "second", min: 0, max: 59}
	case FieldMinute:
		return fieldSpec{name: "minute", min: 0, max: 59}
	case FieldHour:
		return fieldSpec{name: "hour", min: 0, max: 23}
	case FieldDayOfMonth:
		return fieldSpec{name: "day-of-month", min: 1, max: 31, allowAny: true}
	case FieldMonth:
		return fieldSpec{name: "month", min: 1, max: 12, byName: monthByName}
	case FieldDayOfWeek:
		return fieldSpec{name: "day-of-week", min: 1, max: 7, allowAny: true, byName: weekdayByName}
	case FieldYear:
		return fieldSpec{name: "year", min: MinYear, max: MaxYear}
	}
	return fieldSpec{name: "unknown"}
}

func monthByName(s string) (int, bool) {
	switch strings.ToLower(s) {
	case "jan", "january":
		return 1, true
	case "feb", "february":
		return 2, true
	case "mar", "march":
		return 3, true
	case "apr", "april":
		return 4, true
	case "may":
		return 5, true
	case "jun", "june":
		return 6, true
	case "jul", "july":
		return 7, true
	case "aug", "august":
		return 8, true
	case "sep", "september":
		return 9, true
	case "oct", "october":
		return 10, true
	case "nov", "november":
		return 11, true
	case "dec", "december":
		return 12, true
	}
	return 0, false
}

func weekdayByName(s string) (int, bool) {
	switch strings.ToLower(s) {
	case "sun", "sunday":
		return 1, true
	case "mon", "monday":
		return 2, true
	case "tue", "tues", "tuesday":
		return 3, true
	case "wed", "wednesday":
		return 4, true
	case "thu", "thurs", "thursday":
		return 5, true
	case "fri", "friday":
		return 6, true
	case "sat", "saturday":
		return 7, true
	}
	return 0, false
}

// Parse parses a schedule string. It never panics; errors are *ParseError.
func Parse(expr string) (*Schedule, error) {
	trimmed := strings.TrimSpace(expr)
	if strings.HasPrefix(trimmed, "@") {
		return parseShorthand(expr, trimmed)
	}
	toks := strings.Fields(expr)
	if len(toks) != 6 && len(toks) != 7 {
		return nil, &ParseError{Reason: fmt.Sprintf(
			"expected 6 or 7 fields (sec min hour day-of-month month day-of-week [year]), got %d", len(toks))}
	}
	s := &Schedule{expr: expr}
	dst := []*Field{&s.Second, &s.Minute, &s.Hour, &s.DayOfMonth, &s.Month, &s.DayOfWeek, &s.Year}
	for i, tok := range toks {
		f, err := parseField(i+1, tok)
		if err != nil {
			return nil, err
		}
		*dst[i] = f
	}
	if len(toks) == 6 {
		s.Year = fullField(FieldYear)
	}
	return s, nil
}

func parseShorthand(expr, word string) (*Schedule, error) {
	s := &Schedule{
		expr:       expr,
		Second:     pointField(FieldSecond, 0),
		Minute:     pointField(FieldMinute, 0),
		Hour:       pointField(FieldHour, 0),
		DayOfMonth: fullField(FieldDayOfMonth),
		Month:      fullField(FieldMonth),
		DayOfWeek:  fullField(FieldDayOfWeek),
		Year:       fullField(FieldYear),
	}
	switch word {
	case "@yearly":
		s.DayOfMonth = pointField(FieldDayOfMonth, 1)
		s.Month = pointField(FieldMonth, 1)
	case "@monthly":
		s.DayOfMonth = pointField(FieldDayOfMonth, 1)
	case "@weekly":
		s.DayOfWeek = pointField(FieldDayOfWeek, 1) // Sunday
	case "@daily":
	case "@hourly":
		s.Hour = fullField(FieldHour)
	default:
		return nil, &ParseError{Reason: fmt.Sprintf(
			"unknown shorthand %q (want @yearly, @monthly, @weekly, @daily or @hourly)", word)}
	}
	return s, nil
}

func newField(pos int, ranges []Range) Field {
	spec := fieldSpecs(pos)
	f := Field{Ranges: ranges, min: spec.min}
	for _, r := range ranges {
		for v := r.Start; v <= r.End; v += r.Step {
			f.set.add(v - spec.min)
		}
	}
	f.full = f.set.count() == spec.max-spec.min+1
	return f
}

func fullField(pos int) Field {
	spec := fieldSpecs(pos)
	return newField(pos, []Range{{Start: spec.min, End: spec.max, Step: 1}})
}

func pointField(pos, v int) Field {
	return newField(pos, []Range{{Start: v, End: v, Step: 1}})
}

func parseField(pos int, tok string) (Field, error) {
	spec := fieldSpecs(pos)
	fail := func(format string, args ...any) (Field, error) {
		return Field{}, &ParseError{Field: pos, Reason: fmt.Sprintf(format, args...)}
	}
	var ranges []Range
	for _, elem := range strings.Split(tok, ",") {
		if elem == "" {
			return fail("empty list element in %q", tok)
		}
		r, reason := parseElement(spec, elem)
		if reason != "" {
			return fail("%s", reason)
		}
		ranges = append(ranges, r)
	}
	return newField(pos, ranges), nil
}

// parseElement parses one list element; a non-empty reason means failure.
func parseElement(spec fieldSpec, elem string) (Range, string) {
	base, stepStr, hasStep := strings.Cut(elem, "/")
	step := 1
	if hasStep {
		if strings.Contains(stepStr, "/") {
			return Range{}, fmt.Sprintf("%q has more than one '/'", elem)
		}
		n, reason := parseNumber(stepStr)
		if reason != "" {
			return Range{}, fmt.Sprintf("step in %q: %s", elem, reason)
		}
		if n < 1 || n > spec.max {
			return Range{}, fmt.Sprintf("step %d in %q out of range 1-%d", n, elem, spec.max)
		}
		step = n
	}
	switch {
	case base == "*":
		return Range{Start: spec.min, End: spec.max, Step: step}, ""
	case base == "?":
		if !spec.allowAny {
			return Range{}, "'?' is only allowed in day-of-month and day-of-week"
		}
		return Range{Start: spec.min, End: spec.max, Step: step}, ""
	}
	lo, hi, isRange := strings.Cut(base, "-")
	if isRange {
		a, b, reason := parseBounds(spec, lo, hi)
		if reason != "" {
			return Range{}, reason
		}
		return Range{Start: a, End: b, Step: step}, ""
	}
	if isDigits(base) {
		v, reason := parseValue(spec, base)
		if reason != "" {
			return Range{}, reason
		}
		if hasStep { // N/S: from N to the field maximum
			return Range{Start: v, End: spec.max, Step: step}, ""
		}
		return Range{Start: v, End: v, Step: 1}, ""
	}
	v, reason := parseName(spec, base)
	if reason != "" {
		return Range{}, reason
	}
	if hasStep {
		return Range{}, fmt.Sprintf("a step needs '*', a number or a range, not the name %q", base)
	}
	return Range{Start: v, End: v, Step: 1}, ""
}

func parseBounds(spec fieldSpec, lo, hi string) (int, int, string) {
	var a, b int
	var reason string
	switch {
	case isDigits(lo) && isDigits(hi):
		if a, reason = parseValue(spec, lo); reason != "" {
			return 0, 0, reason
		}
		if b, reason = parseValue(spec, hi); reason != "" {
			return 0, 0, reason
		}
	case isAlpha(lo) && isAlpha(hi):
		if a, reason = parseName(spec, lo); reason != "" {
			return 0, 0, reason
		}
		if b, reason = parseName(spec, hi); reason != "" {
			return 0, 0, reason
		}
	default:
		return 0, 0, fmt.Sprintf("invalid range %q (both ends must be numbers or both names)", lo+"-"+hi)
	}
	if a > b {
		return 0, 0, fmt.Sprintf("invalid range %s-%s: start is after end", lo, hi)
	}
	return a, b, ""
}

func parseValue(spec fieldSpec, s string) (int, string) {
	v, reason := parseNumber(s)
	if reason != "" {
		return 0, reason
	}
	if v < spec.min || v > spec.max {
		return 0, fmt.Sprintf("%d out of range %d-%d", v, spec.min, spec.max)
	}
	return v, ""
}

func parseNumber(s string) (int, string) {
	if !isDigits(s) {
		return 0, fmt.Sprintf("%q is not a number", s)
	}
	v, err := strconv.Atoi(s)
	if err != nil || v > 1<<20 {
		return 0, fmt.Sprintf("%s is too large", s)
	}
	return v, ""
}

func parseName(spec fieldSpec, s string) (int, string) {
	if !isAlpha(s) {
		return 0, fmt.Sprintf("invalid value %q", s)
	}
	if spec.byName == nil {
		return 0, fmt.Sprintf("names are not allowed here (%q)", s)
	}
	v, ok := spec.byName(s)
	if !ok {
		return 0, fmt.Sprintf("unknown %s name %q", spec.name, s)
	}
	return v, ""
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isAlpha(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i] | 0x20
		if c < 'a' || c > 'z' {
			return false
		}
	}
	return true
}

// Next returns the first fire time strictly after `after`, at whole-second
// resolution and in UTC (`after` is truncated to the second, then one second
// is added before searching). It returns the zero time when the schedule
// never fires again before the end of MaxYear.
func (s *Schedule) Next(after time.Time) time.Time {
	t := after.UTC().Truncate(time.Second).Add(time.Second)
	for t.Year() <= MaxYear {
		y, mo, d := t.Date()
		h, mi, sec := t.Clock()
		switch {
		case y < MinYear:
			t = time.Date(MinYear, time.January, 1, 0, 0, 0, 0, time.UTC)
		case !s.Year.Contains(y):
			t = time.Date(y+1, time.January, 1, 0, 0, 0, 0, time.UTC)
		case !s.Month.Contains(int(mo)):
			t = time.Date(y, mo+1, 1, 0, 0, 0, 0, time.UTC)
		case !s.DayOfMonth.Contains(d) || !s.DayOfWeek.Contains(int(t.Weekday())+1):
			t = time.Date(y, mo, d+1, 0, 0, 0, 0, time.UTC)
		case !s.Hour.Contains(h):
			t = time.Date(y, mo, d, h+1, 0, 0, 0, time.UTC)
		case !s.Minute.Contains(mi):
			t = time.Date(y, mo, d, h, mi+1, 0, 0, time.UTC)
		case !s.Second.Contains(sec):
			t = t.Add(time.Second)
		default:
			return t
		}
	}
	return time.Time{}
}

// TemporalMinYear is the smallest year a Temporal calendar spec accepts (the
// server rejects year ranges starting earlier).
const TemporalMinYear = 2000

// maxCommentLen is Temporal's limit on a calendar spec comment.
const maxCommentLen = 200

// CalendarSpec translates the schedule into one Temporal calendar spec with
// the same fire times from the year 2000 on. Every field is set explicitly
// (Temporal's defaults for nil fields differ from cron's); the year is left
// nil (= every year) when the expression does not restrict it. Day-of-week is
// converted from 1-7 (Sunday = 1) to Temporal's 0-6 (Sunday = 0). Year ranges
// are moved to start at the first of their years >= 2000, which Temporal
// requires; a year list with no year >= 2000 becomes the single year 2000, so
// the schedule still never fires (from the year 2000 on) instead of firing
// every year.
func (s *Schedule) CalendarSpec() client.ScheduleCalendarSpec {
	comment := "cron: " + strings.TrimSpace(s.expr)
	if len(comment) > maxCommentLen {
		comment = comment[:maxCommentLen-3] + "..."
	}
	spec := client.ScheduleCalendarSpec{
		Second:     toTemporal(s.Second, 0),
		Minute:     toTemporal(s.Minute, 0),
		Hour:       toTemporal(s.Hour, 0),
		DayOfMonth: toTemporal(s.DayOfMonth, 0),
		Month:      toTemporal(s.Month, 0),
		DayOfWeek:  toTemporal(s.DayOfWeek, -1),
		Comment:    comment,
	}
	if !s.Year.All() {
		spec.Year = temporalYears(s.Year)
	}
	return spec
}

func temporalYears(f Field) []client.ScheduleRange {
	out := make([]client.ScheduleRange, 0, len(f.Ranges))
	for _, r := range f.Ranges {
		start := r.Start
		if start < TemporalMinYear {
			start += (TemporalMinYear - start + r.Step - 1) / r.Step * r.Step
		}
		if start > r.End {
			continue
		}
		out = append(out, client.ScheduleRange{Start: start, End: r.End, Step: r.Step})
	}
	if len(out) == 0 {
		out = append(out, client.ScheduleRange{Start: TemporalMinYear, End: TemporalMinYear, Step: 1})
	}
	return out
}

// ScheduleSpec wraps CalendarSpec into a Temporal schedule spec (UTC).
func (s *Schedule) ScheduleSpec() client.ScheduleSpec {
	return client.ScheduleSpec{Calendars: []client.ScheduleCalendarSpec{s.CalendarSpec()}}
}

func toTemporal(f Field, shift int) []client.ScheduleRange {
	out := make([]client.ScheduleRange, 0, len(f.Ranges))
	for _, r := range f.Ranges {
		out = append(out, client.ScheduleRange{Start: r.Start + shift, End: r.End + shift, Step: r.Step})
	}
	return out
}
