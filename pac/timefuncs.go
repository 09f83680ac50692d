package pac

import (
	"math"
	"strings"
	"time"

	"github.com/dop251/goja"
)

// The time functions follow the definitions Firefox and Chromium share
// (Chromium takes its PAC library from Firefox), re-implemented in Go on an
// injectable clock and time zone:
//
//   - weekdayRange(wd1[, wd2][, "GMT"]) wraps: weekdayRange("FRI", "MON") is
//     true from Friday to Monday.
//   - dateRange(...) wraps when the first bound is after the second:
//     dateRange("DEC", "JAN") is true in December and January.
//   - timeRange(h1, m1, h2, m2[, "GMT"]) and the six-argument form wrap
//     likewise, but the two-argument form timeRange(h1, h2) does not:
//     timeRange(22, 6) is always false in both browsers, and here.
//   - Day and month names are case-sensitive upper-case ("MON", "JAN").
//   - A last argument "GMT" makes the comparison use UTC.
//   - The quirks of the browsers' JavaScript Date arithmetic are kept: bounds
//     are built with Date setters that carry over (dateRange(31) in a
//     30-day month rolls into the next month), and in GMT mode the current
//     time is rebuilt field by field from its UTC fields in local time.

var weekdays = map[string]int{"SUN": 0, "MON": 1, "TUE": 2, "WED": 3, "THU": 4, "FRI": 5, "SAT": 6}

var monthNames = map[string]int{"JAN": 0, "FEB": 1, "MAR": 2, "APR": 3, "MAY": 4, "JUN": 5,
	"JUL": 6, "AUG": 7, "SEP": 8, "OCT": 9, "NOV": 10, "DEC": 11}

// jsDate is a JavaScript Date value in local time: a millisecond instant
// or invalid (NaN).
type jsDate struct {
	t     time.Time
	valid bool
}

const (
	fYear = iota
	fMonth
	fDay
	fHour
	fMinute
	fSecond
)

// set emulates Date.prototype.setFullYear/setMonth/setDate/setHours/
// setMinutes/setSeconds with one argument: the field is replaced and the
// local date is normalised, carrying over as JavaScript does.
func (d jsDate) set(field int, v float64) jsDate {
	if !d.valid || math.IsNaN(v) || math.IsInf(v, 0) || math.Abs(v) > 1e9 {
		return jsDate{}
	}
	n := int(math.Trunc(v))
	t := d.t
	y, mo, dd := t.Date()
	h, mi, s := t.Clock()
	mon := int(mo) - 1
	switch field {
	case fYear:
		y = n
	case fMonth:
		mon = n
	case fDay:
		dd = n
	case fHour:
		h = n
	case fMinute:
		mi = n
	case fSecond:
		s = n
	}
	return jsDate{t: time.Date(y, time.Month(mon+1), dd, h, mi, s, t.Nanosecond(), t.Location()), valid: true}
}

func (d jsDate) le(e jsDate) bool { return d.valid && e.valid && !d.t.After(e.t) }

// toGMTFields emulates the browsers' GMT branch: the Date object is set,
// field after field, to its own UTC fields read afresh after each step.
func (d jsDate) toGMTFields() jsDate {
	for _, f := range []int{fYear, fMonth, fDay, fHour, fMinute, fSecond} {
		if !d.valid {
			return d
		}
		u := d.t.UTC()
		var v int
		switch f {
		case fYear:
			v = u.Year()
		case fMonth:
			v = int(u.Month()) - 1
		case fDay:
			v = u.Day()
		case fHour:
			v = u.Hour()
		case fMinute:
			v = u.Minute()
		case fSecond:
			v = u.Second()
		}
		d = d.set(f, float64(v))
	}
	return d
}

func (s *Script) jsNow() jsDate {
	t := s.opts.Now().In(s.opts.Location)
	t = t.Add(-time.Duration(t.Nanosecond() % int(time.Millisecond)))
	return jsDate{t: t, valid: true}
}

func isGMTArg(v goja.Value) bool {
	if v == nil {
		return false
	}
	if _, ok := v.Export().(string); !ok {
		return false
	}
	return v.String() == "GMT"
}

func lookupName(m map[string]int, v goja.Value) int {
	if v == nil {
		return -1
	}
	if n, ok := m[v.String()]; ok {
		return n
	}
	return -1
}

// jsParseInt emulates parseInt(String(v)) with no radix.
func jsParseInt(v goja.Value) (int, bool) {
	if v == nil {
		return 0, false
	}
	s := strings.TrimLeft(v.String(), " \t\n\v\f\r\u00a0\u2028\u2029\ufeff")
	neg := false
	if s != "" && (s[0] == '+' || s[0] == '-') {
		neg = s[0] == '-'
		s = s[1:]
	}
	base := 10
	if len(s) >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X') {
		base, s = 16, s[2:]
	}
	n, digits := 0, 0
	for _, c := range s {
		var dv int
		switch {
		case c >= '0' && c <= '9':
			dv = int(c - '0')
		case base == 16 && c >= 'a' && c <= 'f':
			dv = int(c-'a') + 10
		case base == 16 && c >= 'A' && c <= 'F':
			dv = int(c-'A') + 10
		default:
			dv = -1
		}
		if dv < 0 {
			break
		}
		// Past any day, month, year or hour a PAC can mean, the value
		// stops growing, so that it cannot overflow an int (32 bits on
		// linux/arm and windows/386).
		if n < 1e8 {
			n = n*base + dv
		}
		digits++
	}
	if digits == 0 {
		return 0, false
	}
	if neg {
		n = -n
	}
	return n, true
}

func jsNumber(v goja.Value) float64 {
	if v == nil {
		return math.NaN()
	}
	return v.ToFloat()
}

func (v *vm) weekdayRange(c goja.FunctionCall) goja.Value {
	args := c.Arguments
	argc := len(args)
	if argc < 1 {
		return v.rt.ToValue(false)
	}
	now := v.s.jsNow()
	wday := int(now.t.Weekday())
	if isGMTArg(args[argc-1]) {
		argc--
		wday = int(now.t.UTC().Weekday())
	}
	wd1 := lookupName(weekdays, args[0])
	wd2 := wd1
	if argc == 2 {
		wd2 = lookupName(weekdays, args[1])
	}
	var r bool
	switch {
	case wd1 == -1 || wd2 == -1:
		r = false
	case wd1 <= wd2:
		r = wd1 <= wday && wday <= wd2
	default:
		r = wd2 >= wday || wday >= wd1
	}
	return v.rt.ToValue(r)
}

func (v *vm) dateRange(c goja.FunctionCall) goja.Value {
	args := c.Arguments
	argc := len(args)
	if argc < 1 {
		return v.rt.ToValue(false)
	}
	isGMT := isGMTArg(args[argc-1])
	if isGMT {
		argc--
	}
	now := v.s.jsNow()
	if argc == 1 {
		n, ok := jsParseInt(args[0])
		t := now.t
		if isGMT {
			t = t.UTC()
		}
		switch {
		case !ok:
			return v.rt.ToValue(int(t.Month())-1 == lookupName(monthNames, args[0]))
		case n < 32:
			return v.rt.ToValue(t.Day() == n)
		default:
			return v.rt.ToValue(t.Year() == n)
		}
	}
	year := now.t.Year()
	loc := now.t.Location()
	d1 := jsDate{t: time.Date(year, time.January, 1, 0, 0, 0, 0, loc), valid: true}
	d2 := jsDate{t: time.Date(year, time.December, 31, 23, 59, 59, 0, loc), valid: true}
	adjustMonth := false
	apply := func(d jsDate, a goja.Value, first bool) jsDate {
		n, ok := jsParseInt(a)
		switch {
		case !ok:
			return d.set(fMonth, float64(lookupName(monthNames, a)))
		case n < 32:
			if first {
				adjustMonth = argc <= 2
			}
			return d.set(fDay, float64(n))
		default:
			return d.set(fYear, float64(n))
		}
	}
	for i := 0; i < argc>>1; i++ {
		d1 = apply(d1, args[i], true)
	}
	for i := argc >> 1; i < argc; i++ {
		d2 = apply(d2, args[i], false)
	}
	if adjustMonth {
		m := float64(now.t.Month() - 1)
		d1 = d1.set(fMonth, m)
		d2 = d2.set(fMonth, m)
	}
	date := now
	if isGMT {
		date = date.toGMTFields()
	}
	return v.rt.ToValue(rangeHolds(d1, d2, date))
}

// rangeHolds is the browsers' final test: inside [d1, d2], or outside
// (d2, d1) when the range wraps.
func rangeHolds(d1, d2, date jsDate) bool {
	if d1.le(d2) {
		return d1.le(date) && date.le(d2)
	}
	return date.le(d2) || d1.le(date)
}

func (v *vm) timeRange(c goja.FunctionCall) goja.Value {
	args := c.Arguments
	argc := len(args)
	if argc < 1 {
		return v.rt.ToValue(false)
	}
	isGMT := isGMTArg(args[argc-1])
	if isGMT {
		argc--
	}
	date := v.s.jsNow()
	hour := float64(date.t.Hour())
	if isGMT {
		hour = float64(date.t.UTC().Hour())
	}
	switch argc {
	case 1:
		return v.rt.ToValue(hour == jsNumber(args[0]))
	case 2:
		return v.rt.ToValue(jsNumber(args[0]) <= hour && hour <= jsNumber(args[1]))
	case 4, 6:
	default:
		panic(v.rt.ToValue("timeRange: bad number of arguments"))
	}
	d1, d2 := date, date
	if argc == 6 {
		d1 = d1.set(fSecond, jsNumber(args[2]))
		d2 = d2.set(fSecond, jsNumber(args[5]))
	}
	mid := argc >> 1
	d1 = d1.set(fHour, jsNumber(args[0])).set(fMinute, jsNumber(args[1]))
	d2 = d2.set(fHour, jsNumber(args[mid])).set(fMinute, jsNumber(args[mid+1]))
	if mid == 2 {
		d2 = d2.set(fSecond, 59)
	}
	if isGMT {
		date = date.toGMTFields()
	}
	return v.rt.ToValue(rangeHolds(d1, d2, date))
}
