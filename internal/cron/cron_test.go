package cron

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.temporal.io/sdk/client"
)

// ref is a Thursday, mid-minute, with a fractional second.
var ref = time.Date(2026, 3, 26, 12, 3, 7, 500_000_000, time.UTC)

func utc(y int, mo time.Month, d, h, mi, s int) time.Time {
	return time.Date(y, mo, d, h, mi, s, 0, time.UTC)
}

func nextN(s *Schedule, from time.Time, n int) []time.Time {
	var out []time.Time
	t := from
	for i := 0; i < n; i++ {
		t = s.Next(t)
		out = append(out, t)
		if t.IsZero() {
			break
		}
	}
	return out
}

func r(start, end, step int) client.ScheduleRange {
	return client.ScheduleRange{Start: start, End: end, Step: step}
}

func rs(ranges ...client.ScheduleRange) []client.ScheduleRange { return ranges }

var (
	zero     = rs(r(0, 0, 1))
	allSec   = rs(r(0, 59, 1))
	allHour  = rs(r(0, 23, 1))
	allDom   = rs(r(1, 31, 1))
	allMonth = rs(r(1, 12, 1))
	allDow   = rs(r(0, 6, 1))
)

func TestPresets(t *testing.T) {
	tests := []struct {
		name   string
		expr   string
		want   string // the exact upstream CommonCrons string
		next   []time.Time
		second []client.ScheduleRange
		minute []client.ScheduleRange
		hour   []client.ScheduleRange
		dow    []client.ScheduleRange
	}{
		{"Every1Minute", Every1Minute, "0 * * * * * *",
			[]time.Time{utc(2026, 3, 26, 12, 4, 0), utc(2026, 3, 26, 12, 5, 0), utc(2026, 3, 26, 12, 6, 0)},
			zero, allSec, allHour, allDow},
		{"Every5Minutes", Every5Minutes, "0 0,5,10,15,20,25,30,35,40,45,50,55 * * * * *",
			[]time.Time{utc(2026, 3, 26, 12, 5, 0), utc(2026, 3, 26, 12, 10, 0), utc(2026, 3, 26, 12, 15, 0)},
			zero, rs(r(0, 0, 1), r(5, 5, 1), r(10, 10, 1), r(15, 15, 1), r(20, 20, 1), r(25, 25, 1),
				r(30, 30, 1), r(35, 35, 1), r(40, 40, 1), r(45, 45, 1), r(50, 50, 1), r(55, 55, 1)), allHour, allDow},
		{"Every15Minutes", Every15Minutes, "0 0,15,30,45 * * * * *",
			[]time.Time{utc(2026, 3, 26, 12, 15, 0), utc(2026, 3, 26, 12, 30, 0), utc(2026, 3, 26, 12, 45, 0)},
			zero, rs(r(0, 0, 1), r(15, 15, 1), r(30, 30, 1), r(45, 45, 1)), allHour, allDow},
		{"Every30Minutes", Every30Minutes, "0 0,30 * * * * *",
			[]time.Time{utc(2026, 3, 26, 12, 30, 0), utc(2026, 3, 26, 13, 0, 0), utc(2026, 3, 26, 13, 30, 0)},
			zero, rs(r(0, 0, 1), r(30, 30, 1)), allHour, allDow},
		{"EveryHour", EveryHour, "0 0 * * * *",
			[]time.Time{utc(2026, 3, 26, 13, 0, 0), utc(2026, 3, 26, 14, 0, 0), utc(2026, 3, 26, 15, 0, 0)},
			zero, zero, allHour, allDow},
		{"Every6Hours", Every6Hours, "0 0 */6 * * *",
			[]time.Time{utc(2026, 3, 26, 18, 0, 0), utc(2026, 3, 27, 0, 0, 0), utc(2026, 3, 27, 6, 0, 0)},
			zero, zero, rs(r(0, 23, 6)), allDow},
		{"Every12Hours", Every12Hours, "0 0 */12 * * *",
			[]time.Time{utc(2026, 3, 27, 0, 0, 0), utc(2026, 3, 27, 12, 0, 0), utc(2026, 3, 28, 0, 0, 0)},
			zero, zero, rs(r(0, 23, 12)), allDow},
		{"EveryDay", EveryDay, "0 0 0 * * *",
			[]time.Time{utc(2026, 3, 27, 0, 0, 0), utc(2026, 3, 28, 0, 0, 0), utc(2026, 3, 29, 0, 0, 0)},
			zero, zero, zero, allDow},
		{"EveryWeek", EveryWeek, "0 0 0 * * SUN",
			[]time.Time{utc(2026, 3, 29, 0, 0, 0), utc(2026, 4, 5, 0, 0, 0), utc(2026, 4, 12, 0, 0, 0)},
			zero, zero, zero, rs(r(0, 0, 1))},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, tt.expr, "preset string")
			s, err := Parse(tt.expr)
			require.NoError(t, err)
			assert.Equal(t, tt.next, nextN(s, ref, len(tt.next)))

			cal := s.CalendarSpec()
			assert.Equal(t, tt.second, cal.Second, "second")
			assert.Equal(t, tt.minute, cal.Minute, "minute")
			assert.Equal(t, tt.hour, cal.Hour, "hour")
			assert.Equal(t, allDom, cal.DayOfMonth, "day of month")
			assert.Equal(t, allMonth, cal.Month, "month")
			assert.Equal(t, tt.dow, cal.DayOfWeek, "day of week")
			assert.Nil(t, cal.Year, "year")
			assert.Equal(t, "cron: "+tt.expr, cal.Comment)
			assert.Equal(t, tt.expr, s.String())
		})
	}
}

func TestParseAwkward(t *testing.T) {
	tests := []struct {
		expr string
		next []time.Time
		cal  client.ScheduleCalendarSpec
	}{
		{"0 0 0 * * SUN", // named Sunday
			[]time.Time{utc(2026, 3, 29, 0, 0, 0), utc(2026, 4, 5, 0, 0, 0)},
			client.ScheduleCalendarSpec{Second: zero, Minute: zero, Hour: zero, DayOfMonth: allDom, Month: allMonth, DayOfWeek: rs(r(0, 0, 1))}},
		{"0 0 0 * * 1", // numeric day-of-week 1 is Sunday
			[]time.Time{utc(2026, 3, 29, 0, 0, 0), utc(2026, 4, 5, 0, 0, 0)},
			client.ScheduleCalendarSpec{Second: zero, Minute: zero, Hour: zero, DayOfMonth: allDom, Month: allMonth, DayOfWeek: rs(r(0, 0, 1))}},
		{"0 0 0 * * 7", // 7 is Saturday
			[]time.Time{utc(2026, 3, 28, 0, 0, 0), utc(2026, 4, 4, 0, 0, 0)},
			client.ScheduleCalendarSpec{Second: zero, Minute: zero, Hour: zero, DayOfMonth: allDom, Month: allMonth, DayOfWeek: rs(r(6, 6, 1))}},
		{"*/5 * * * * *",
			[]time.Time{utc(2026, 3, 26, 12, 3, 10), utc(2026, 3, 26, 12, 3, 15), utc(2026, 3, 26, 12, 3, 20)},
			client.ScheduleCalendarSpec{Second: rs(r(0, 59, 5)), Minute: allSec, Hour: allHour, DayOfMonth: allDom, Month: allMonth, DayOfWeek: allDow}},
		{"0 0 12 ? * MON-FRI", // today's 12:00 has passed; Thursday → Friday, then Monday
			[]time.Time{utc(2026, 3, 27, 12, 0, 0), utc(2026, 3, 30, 12, 0, 0), utc(2026, 3, 31, 12, 0, 0)},
			client.ScheduleCalendarSpec{Second: zero, Minute: zero, Hour: rs(r(12, 12, 1)), DayOfMonth: allDom, Month: allMonth, DayOfWeek: rs(r(1, 5, 1))}},
		{"0 30 9 1,15 * ? 2027",
			[]time.Time{utc(2027, 1, 1, 9, 30, 0), utc(2027, 1, 15, 9, 30, 0), utc(2027, 2, 1, 9, 30, 0)},
			client.ScheduleCalendarSpec{Second: zero, Minute: rs(r(30, 30, 1)), Hour: rs(r(9, 9, 1)),
				DayOfMonth: rs(r(1, 1, 1), r(15, 15, 1)), Month: allMonth, DayOfWeek: allDow, Year: rs(r(2027, 2027, 1))}},
		{"0 0-30/10 * * * *",
			[]time.Time{utc(2026, 3, 26, 12, 10, 0), utc(2026, 3, 26, 12, 20, 0), utc(2026, 3, 26, 12, 30, 0), utc(2026, 3, 26, 13, 0, 0)},
			client.ScheduleCalendarSpec{Second: zero, Minute: rs(r(0, 30, 10)), Hour: allHour, DayOfMonth: allDom, Month: allMonth, DayOfWeek: allDow}},
		{"0 0 0 13 * FRI", // day-of-month AND day-of-week: Friday the 13th
			[]time.Time{utc(2026, 11, 13, 0, 0, 0), utc(2027, 8, 13, 0, 0, 0), utc(2028, 10, 13, 0, 0, 0)},
			client.ScheduleCalendarSpec{Second: zero, Minute: zero, Hour: zero, DayOfMonth: rs(r(13, 13, 1)), Month: allMonth, DayOfWeek: rs(r(5, 5, 1))}},
		{"0 0 0 29 FEB *",
			[]time.Time{utc(2028, 2, 29, 0, 0, 0), utc(2032, 2, 29, 0, 0, 0)},
			client.ScheduleCalendarSpec{Second: zero, Minute: zero, Hour: zero, DayOfMonth: rs(r(29, 29, 1)), Month: rs(r(2, 2, 1)), DayOfWeek: allDow}},
		{"0 0 0 ? jan-MAR/2 sun,Sat", // names are case-insensitive; JAN-MAR/2 = Jan, Mar
			[]time.Time{utc(2026, 3, 28, 0, 0, 0), utc(2026, 3, 29, 0, 0, 0), utc(2027, 1, 2, 0, 0, 0)},
			client.ScheduleCalendarSpec{Second: zero, Minute: zero, Hour: zero, DayOfMonth: allDom, Month: rs(r(1, 3, 2)), DayOfWeek: rs(r(0, 0, 1), r(6, 6, 1))}},
		{"0 0 0 * * */2", // 1,3,5,7 = Sun, Tue, Thu, Sat
			[]time.Time{utc(2026, 3, 28, 0, 0, 0), utc(2026, 3, 29, 0, 0, 0), utc(2026, 3, 31, 0, 0, 0)},
			client.ScheduleCalendarSpec{Second: zero, Minute: zero, Hour: zero, DayOfMonth: allDom, Month: allMonth, DayOfWeek: rs(r(0, 6, 2))}},
		{"0 0 0 ?/10 * *", // 1, 11, 21, 31
			[]time.Time{utc(2026, 3, 31, 0, 0, 0), utc(2026, 4, 1, 0, 0, 0), utc(2026, 4, 11, 0, 0, 0)},
			client.ScheduleCalendarSpec{Second: zero, Minute: zero, Hour: zero, DayOfMonth: rs(r(1, 31, 10)), Month: allMonth, DayOfWeek: allDow}},
		{"5/20 * * * * *", // N/S runs from N to the field maximum
			[]time.Time{utc(2026, 3, 26, 12, 3, 25), utc(2026, 3, 26, 12, 3, 45), utc(2026, 3, 26, 12, 4, 5)},
			client.ScheduleCalendarSpec{Second: rs(r(5, 59, 20)), Minute: allSec, Hour: allHour, DayOfMonth: allDom, Month: allMonth, DayOfWeek: allDow}},
		{"  0   0  0  *  *  *  ", // extra whitespace is fine
			[]time.Time{utc(2026, 3, 27, 0, 0, 0)},
			client.ScheduleCalendarSpec{Second: zero, Minute: zero, Hour: zero, DayOfMonth: allDom, Month: allMonth, DayOfWeek: allDow}},
		{"@weekly",
			[]time.Time{utc(2026, 3, 29, 0, 0, 0), utc(2026, 4, 5, 0, 0, 0)},
			client.ScheduleCalendarSpec{Second: zero, Minute: zero, Hour: zero, DayOfMonth: allDom, Month: allMonth, DayOfWeek: rs(r(0, 0, 1))}},
		{"@yearly",
			[]time.Time{utc(2027, 1, 1, 0, 0, 0), utc(2028, 1, 1, 0, 0, 0)},
			client.ScheduleCalendarSpec{Second: zero, Minute: zero, Hour: zero, DayOfMonth: rs(r(1, 1, 1)), Month: rs(r(1, 1, 1)), DayOfWeek: allDow}},
		{"@hourly",
			[]time.Time{utc(2026, 3, 26, 13, 0, 0)},
			client.ScheduleCalendarSpec{Second: zero, Minute: zero, Hour: allHour, DayOfMonth: allDom, Month: allMonth, DayOfWeek: allDow}},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			s, err := Parse(tt.expr)
			require.NoError(t, err)
			assert.Equal(t, tt.next, nextN(s, ref, len(tt.next)))
			got := s.CalendarSpec()
			got.Comment = ""
			assert.Equal(t, tt.cal, got)
		})
	}
}

func TestNextSemantics(t *testing.T) {
	hourly, err := Parse(EveryHour)
	require.NoError(t, err)

	t.Run("strictly after a fire time", func(t *testing.T) {
		assert.Equal(t, utc(2026, 3, 26, 14, 0, 0), hourly.Next(utc(2026, 3, 26, 13, 0, 0)))
	})
	t.Run("sub-second reference is truncated first", func(t *testing.T) {
		at := utc(2026, 3, 26, 12, 59, 59).Add(999 * time.Millisecond)
		assert.Equal(t, utc(2026, 3, 26, 13, 0, 0), hourly.Next(at))
	})
	t.Run("non-UTC reference", func(t *testing.T) {
		loc := time.FixedZone("UTC+5", 5*3600)
		got := hourly.Next(time.Date(2026, 3, 26, 17, 30, 0, 0, loc))
		assert.Equal(t, utc(2026, 3, 26, 13, 0, 0), got)
		assert.Equal(t, time.UTC, got.Location())
	})
	t.Run("year in the past never fires", func(t *testing.T) {
		s, err := Parse("0 0 0 1 1 ? 2020")
		require.NoError(t, err)
		assert.True(t, s.Next(ref).IsZero())
	})
	t.Run("impossible date never fires", func(t *testing.T) {
		s, err := Parse("0 0 0 30 2 *")
		require.NoError(t, err)
		assert.True(t, s.Next(ref).IsZero())
	})
	t.Run("last possible year", func(t *testing.T) {
		s, err := Parse("0 0 0 31 12 * 2100")
		require.NoError(t, err)
		assert.Equal(t, utc(2100, 12, 31, 0, 0, 0), s.Next(ref))
		assert.True(t, s.Next(utc(2100, 12, 31, 0, 0, 0)).IsZero())
	})
	t.Run("reference before 1970", func(t *testing.T) {
		assert.Equal(t, utc(1970, 1, 1, 0, 0, 0), hourly.Next(utc(1900, 5, 5, 5, 5, 5)))
	})
	t.Run("years before 2000 are dropped for Temporal", func(t *testing.T) {
		tests := []struct {
			expr string
			want []client.ScheduleRange
			next time.Time
		}{
			{"0 0 0 1 1 ? 1990-2010/7", rs(r(2004, 2010, 7)), time.Time{}}, // 1990, 1997, 2004: over before ref
			{"0 0 0 1 1 ? */3", rs(r(2000, 2100, 3)), utc(2027, 1, 1, 0, 0, 0)},
			{"0 0 0 1 1 ? 1999", rs(r(2000, 2000, 1)), time.Time{}},
			{"0 0 0 1 1 ? */1048", rs(r(2000, 2000, 1)), time.Time{}},
			{"0 0 0 1 1 ? 1980,2028", rs(r(2028, 2028, 1)), utc(2028, 1, 1, 0, 0, 0)},
		}
		for _, tt := range tests {
			s, err := Parse(tt.expr)
			require.NoError(t, err)
			cal := s.CalendarSpec()
			assert.Equal(t, tt.want, cal.Year, tt.expr)
			require.NoError(t, temporalValid(cal), tt.expr)
			assert.Equal(t, tt.next, s.Next(ref), tt.expr)
			assert.Equal(t, specNext(cal, ref), s.Next(ref), tt.expr)
		}
	})
	t.Run("long expressions get a truncated comment", func(t *testing.T) {
		expr := "0 " + strings.Repeat("1,", 150) + "2 * * * *"
		s, err := Parse(expr)
		require.NoError(t, err)
		cal := s.CalendarSpec()
		assert.Len(t, cal.Comment, 200)
		assert.True(t, strings.HasSuffix(cal.Comment, "..."))
	})
	t.Run("year step", func(t *testing.T) {
		s, err := Parse("0 0 0 1 1 ? 2020-2040/10")
		require.NoError(t, err)
		assert.Equal(t, []time.Time{utc(2030, 1, 1, 0, 0, 0), utc(2040, 1, 1, 0, 0, 0), {}}, nextN(s, ref, 3))
		assert.Equal(t, rs(r(2020, 2040, 10)), s.CalendarSpec().Year)
	})
}

func TestParseInvalid(t *testing.T) {
	tests := []struct {
		expr string
		want string
	}{
		{"", "expected 6 or 7 fields (sec min hour day-of-month month day-of-week [year]), got 0"},
		{"0 0 * * *", "expected 6 or 7 fields (sec min hour day-of-month month day-of-week [year]), got 5"},
		{"0 0 0 * * * * *", "got 8"},
		{"0 0 25 * * *", "field 3 (hour): 25 out of range 0-23"},
		{"60 * * * * *", "field 1 (second): 60 out of range 0-59"},
		{"0 60 * * * *", "field 2 (minute): 60 out of range 0-59"},
		{"0 0 0 0 * *", "field 4 (day-of-month): 0 out of range 1-31"},
		{"0 0 0 32 * *", "field 4 (day-of-month): 32 out of range 1-31"},
		{"0 0 0 * 13 *", "field 5 (month): 13 out of range 1-12"},
		{"0 0 0 * * 0", "field 6 (day-of-week): 0 out of range 1-7"},
		{"0 0 0 * * 8", "field 6 (day-of-week): 8 out of range 1-7"},
		{"0 0 0 * * * 1969", "field 7 (year): 1969 out of range 1970-2100"},
		{"0 0 0 * * * 2101", "field 7 (year): 2101 out of range 1970-2100"},
		{"? * * * * *", "field 1 (second): '?' is only allowed in day-of-month and day-of-week"},
		{"0 0 0 * ? *", "field 5 (month): '?' is only allowed"},
		{"0 0 0 * * * ?", "field 7 (year): '?' is only allowed"},
		{"*/0 * * * * *", "field 1 (second): step 0 in \"*/0\" out of range 1-59"},
		{"*/61 * * * * *", "step 61 in \"*/61\" out of range 1-59"},
		{"0 0 */24 * * *", "field 3 (hour): step 24 in \"*/24\" out of range 1-23"},
		{"1-5/2/3 * * * * *", "more than one '/'"},
		{"0 0 0 * * MON/2", "field 6 (day-of-week): a step needs '*', a number or a range, not the name \"MON\""},
		{"0 0 0 * * FRI-MON", "field 6 (day-of-week): invalid range FRI-MON: start is after end"},
		{"0 0 0 * * SAT-SUN", "start is after end"},
		{"30-10 * * * * *", "field 1 (second): invalid range 30-10: start is after end"},
		{"0 0 0 * * 3-THURS", "both ends must be numbers or both names"},
		{"0 0 0 * * TURTLE", "field 6 (day-of-week): unknown day-of-week name \"TURTLE\""},
		{"0 0 0 * SMARCH *", "field 5 (month): unknown month name \"SMARCH\""},
		{"0 0 JAN * * *", "field 3 (hour): names are not allowed here (\"JAN\")"},
		{"0 0 0 L * *", "field 4 (day-of-month): names are not allowed here"},
		{"0 0 0 * * 5#3", "field 6 (day-of-week): invalid value \"5#3\""},
		{"0 0 0 1,,2 * *", "field 4 (day-of-month): empty list element in \"1,,2\""},
		{"0 0 0 1, * *", "empty list element"},
		{"-1 * * * * *", "field 1 (second): invalid range"},
		{"99999999999999999999 * * * * *", "field 1 (second): 99999999999999999999 is too large"},
		{"*/x * * * * *", "step in \"*/x\": \"x\" is not a number"},
		{"@annually", "unknown shorthand \"@annually\""},
		{"@dailyBla", "unknown shorthand"},
		{"0 0 0 * * MÖN", "invalid value"},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			s, err := Parse(tt.expr)
			require.Error(t, err, "got schedule %v", s)
			assert.Nil(t, s)
			assert.Contains(t, err.Error(), tt.want)
			var pe *ParseError
			assert.True(t, errors.As(err, &pe), "error type %T", err)
		})
	}
}

// --- property test: Next() against Temporal calendar-spec semantics -------------------

// specField mirrors how the Temporal SDK and server read one calendar field:
// nil takes the SDK default; an empty, non-nil list matches nothing, except for
// the year where it means "every year".
func specFieldMatches(ranges []client.ScheduleRange, def *client.ScheduleRange, v int, isYear bool) bool {
	if ranges == nil {
		if def == nil {
			return true
		}
		ranges = []client.ScheduleRange{*def}
	}
	if isYear && len(ranges) == 0 {
		return true
	}
	for _, rg := range ranges {
		end, step := rg.End, rg.Step
		if step == 0 {
			step = 1
		}
		if end < rg.Start {
			end = rg.Start
		}
		if v >= rg.Start && v <= end && (v-rg.Start)%step == 0 {
			return true
		}
	}
	return false
}

func dayMatches(c client.ScheduleCalendarSpec, t time.Time) bool {
	return specFieldMatches(c.Year, nil, t.Year(), true) &&
		specFieldMatches(c.Month, &client.ScheduleRange{Start: 1, End: 12}, int(t.Month()), false) &&
		specFieldMatches(c.DayOfMonth, &client.ScheduleRange{Start: 1, End: 31}, t.Day(), false) &&
		specFieldMatches(c.DayOfWeek, &client.ScheduleRange{Start: 0, End: 6}, int(t.Weekday()), false)
}

func calendarMatches(c client.ScheduleCalendarSpec, t time.Time) bool {
	t = t.UTC()
	return dayMatches(c, t) &&
		specFieldMatches(c.Hour, &client.ScheduleRange{Start: 0}, t.Hour(), false) &&
		specFieldMatches(c.Minute, &client.ScheduleRange{Start: 0}, t.Minute(), false) &&
		specFieldMatches(c.Second, &client.ScheduleRange{Start: 0}, t.Second(), false) &&
		t.Year() <= MaxYear
}

// temporalValid applies the Temporal server's validation of a structured
// calendar spec (service/worker/scheduler validateStructuredCalendar).
func temporalValid(c client.ScheduleCalendarSpec) error {
	check := func(name string, ranges []client.ScheduleRange, lo, hi int) error {
		for _, rg := range ranges {
			if rg.Start < lo || rg.Start > hi {
				return fmt.Errorf("%s Start %d is not in range [%d-%d]", name, rg.Start, lo, hi)
			}
			if rg.End != 0 && (rg.End < rg.Start || rg.End > hi) {
				return fmt.Errorf("%s End %d is before Start or not in range [%d-%d]", name, rg.End, lo, hi)
			}
			if rg.Step < 0 {
				return fmt.Errorf("%s has invalid Step", name)
			}
		}
		return nil
	}
	for _, err := range []error{
		check("Second", c.Second, 0, 59), check("Minute", c.Minute, 0, 59), check("Hour", c.Hour, 0, 23),
		check("DayOfMonth", c.DayOfMonth, 1, 31), check("Month", c.Month, 1, 12),
		check("Year", c.Year, TemporalMinYear, MaxYear), check("DayOfWeek", c.DayOfWeek, 0, 6),
	} {
		if err != nil {
			return err
		}
	}
	if len(c.Comment) > 200 {
		return fmt.Errorf("comment is too long")
	}
	return nil
}

// specNext is an independent search over the calendar spec only.
func specNext(c client.ScheduleCalendarSpec, after time.Time) time.Time {
	t := after.UTC().Truncate(time.Second).Add(time.Second)
	for t.Year() <= MaxYear {
		y, mo, d := t.Date()
		h, mi, _ := t.Clock()
		switch {
		case !dayMatches(c, t):
			t = time.Date(y, mo, d+1, 0, 0, 0, 0, time.UTC)
		case !specFieldMatches(c.Hour, &client.ScheduleRange{Start: 0}, h, false):
			t = time.Date(y, mo, d, h+1, 0, 0, 0, time.UTC)
		case !specFieldMatches(c.Minute, &client.ScheduleRange{Start: 0}, mi, false):
			t = time.Date(y, mo, d, h, mi+1, 0, 0, time.UTC)
		case !calendarMatches(c, t):
			t = t.Add(time.Second)
		default:
			return t
		}
	}
	return time.Time{}
}

func randomField(rng *rand.Rand, lo, hi int, names []string, allowAny bool) string {
	pick := func() int { return lo + rng.IntN(hi-lo+1) }
	elem := func() string {
		switch rng.IntN(8) {
		case 0:
			return "*"
		case 1:
			return fmt.Sprintf("*/%d", 1+rng.IntN(hi))
		case 2:
			return fmt.Sprint(pick())
		case 3:
			return fmt.Sprintf("%d/%d", pick(), 1+rng.IntN(hi))
		case 4, 5:
			a, b := pick(), pick()
			if a > b {
				a, b = b, a
			}
			if rng.IntN(2) == 0 {
				return fmt.Sprintf("%d-%d", a, b)
			}
			return fmt.Sprintf("%d-%d/%d", a, b, 1+rng.IntN(hi))
		case 6:
			if names != nil {
				return names[pick()-lo]
			}
			return fmt.Sprint(pick())
		default:
			if allowAny {
				return "?"
			}
			return fmt.Sprint(pick())
		}
	}
	parts := []string{elem()}
	for rng.IntN(3) == 0 {
		parts = append(parts, elem())
	}
	return strings.Join(parts, ",")
}

func TestNextMatchesTemporalSpec(t *testing.T) {
	months := []string{"JAN", "feb", "Mar", "APR", "may", "JUN", "jul", "AUG", "sep", "OCT", "nov", "DEC"}
	days := []string{"SUN", "mon", "Tue", "WED", "thu", "FRI", "sat"}
	exprs := []string{
		Every1Minute, Every5Minutes, Every15Minutes, Every30Minutes, EveryHour,
		Every6Hours, Every12Hours, EveryDay, EveryWeek,
		"0 0 0 * * 1", "*/5 * * * * *", "0 0 12 ? * MON-FRI", "0 30 9 1,15 * ? 2027",
		"0 0-30/10 * * * *", "0 0 0 13 * FRI", "0 0 0 ? JAN-MAR/2 SUN,SAT", "@monthly", "@daily",
	}
	rng := rand.New(rand.NewPCG(7, 11))
	for len(exprs) < 300 {
		fields := []string{
			randomField(rng, 0, 59, nil, false),
			randomField(rng, 0, 59, nil, false),
			randomField(rng, 0, 23, nil, false),
			randomField(rng, 1, 31, nil, true),
			randomField(rng, 1, 12, months, false),
			randomField(rng, 1, 7, days, true),
		}
		switch rng.IntN(6) {
		case 0:
			fields = append(fields, randomField(rng, 2026, 2030, nil, false))
		case 1:
			fields = append(fields, randomField(rng, MinYear, MaxYear, nil, false))
		}
		exprs = append(exprs, strings.Join(fields, " "))
	}
	starts := []time.Time{ref, utc(2027, 12, 31, 23, 59, 59), utc(2028, 2, 28, 23, 0, 0)}
	for _, expr := range exprs {
		t.Run(expr, func(t *testing.T) {
			s, err := Parse(expr)
			require.NoError(t, err)
			cal := s.CalendarSpec()
			require.NoError(t, temporalValid(cal))
			for _, start := range starts {
				cur := start
				for i := 0; i < 8; i++ {
					got, want := s.Next(cur), specNext(cal, cur)
					require.Equal(t, want, got, "fire %d after %s", i, cur)
					if got.IsZero() {
						break
					}
					require.True(t, got.After(cur))
					cur = got
				}
			}
		})
	}
}

// TestNextDense checks every second of a window against the spec matcher, so
// that no fire time is skipped for frequent schedules.
func TestNextDense(t *testing.T) {
	for _, expr := range []string{Every1Minute, Every5Minutes, "*/5 * * * * *", "7,13-19/3 */7 * * * *", "0 0-30/10 * * * *"} {
		t.Run(expr, func(t *testing.T) {
			s, err := Parse(expr)
			require.NoError(t, err)
			cal := s.CalendarSpec()
			start, end := ref, ref.Add(3*time.Hour)
			var want []time.Time
			for c := start.Truncate(time.Second).Add(time.Second); c.Before(end); c = c.Add(time.Second) {
				if calendarMatches(cal, c) {
					want = append(want, c)
				}
			}
			var got []time.Time
			for c := s.Next(start); c.Before(end); c = s.Next(c) {
				got = append(got, c)
			}
			require.NotEmpty(t, want)
			assert.Equal(t, want, got)
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, seed := range []string{
		Every1Minute, Every5Minutes, EveryWeek, "0 0 12 ? * MON-FRI", "0 30 9 1,15 * ? 2027",
		"0 0-30/10 * * * *", "*/5 * * * * *", "0 0 0 * * 1", "@weekly", "0 0 * * *", "1-5/2/3 * * * * *",
		"0 0 0 ?/10 * *", "0 0 0 * * FRI-MON", "5/20 * * * * * 2030-2100/7", "0 0 0 31 2 *", ",,,", "*/-1 * * * * *",
	} {
		f.Add(seed)
	}
	start := utc(2026, 6, 30, 23, 59, 59)
	f.Fuzz(func(t *testing.T, expr string) {
		s, err := Parse(expr)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) || err.Error() == "" {
				t.Fatalf("Parse(%q): error %v has type %T", expr, err, err)
			}
			return
		}
		cal := s.CalendarSpec()
		if err := temporalValid(cal); err != nil {
			t.Fatalf("Parse(%q).CalendarSpec() is not a valid Temporal spec: %v", expr, err)
		}
		next := s.Next(start)
		if want := specNext(cal, start); !next.Equal(want) {
			t.Fatalf("Parse(%q).Next = %v, spec says %v", expr, next, want)
		}
	})
}
