package template

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"sync"
	"time"
	_ "time/tzdata" // time zones work on hosts without a zoneinfo database
)

// utcOffsetZone is the zone PHP gives a DateTime made from a Unix
// timestamp ("@1747053296"): the offset +00:00, not the UTC zone.
var utcOffsetZone = time.FixedZone("+00:00", 0)

// defaultDateFormat is Twig's default for date().
const defaultDateFormat = "F j, Y H:i"

// toTime reads a date value: RFC 3339 strings, YYYY-MM-DD (midnight in
// loc), "YYYY-MM-DD HH:MM:SS" (in loc), Unix seconds as a number or digit
// string, and "now". ok is false when v cannot be read as a date.
func (r *renderer) toTime(v any, loc *time.Location) (time.Time, bool) {
	if phpArrayStrings && (isNull(v) || blankText(v)) {
		return r.currentTime().In(loc), true
	}
	switch x := v.(type) {
	case time.Time:
		return x, true
	case string:
		return r.parseTimeString(x, loc)
	case json.Number:
		return unixTime(string(x), loc)
	case int64:
		return time.Unix(x, 0).In(loc), true
	case int:
		return time.Unix(int64(x), 0).In(loc), true
	case float64:
		return floatTime(x, loc)
	case bool:
		// PHP reads true as "1", a Unix time; false is "".
		if x {
			return time.Unix(1, 0).In(loc), true
		}
		return time.Time{}, false
	}
	if s, ok := stringOf(v); ok {
		return r.parseTimeString(s, loc)
	}
	if n, ok := toNumber(v); ok && isNumberType(v) {
		if n.isFloat {
			return floatTime(n.f, loc)
		}
		return time.Unix(n.i, 0).In(loc), true
	}
	return time.Time{}, false
}

func floatTime(f float64, loc *time.Location) (time.Time, bool) {
	// Twig reads a number through its string form: "1700000000.75" is not
	// a date, 1.0E+3 is 1000.
	if math.IsNaN(f) || math.IsInf(f, 0) || math.Abs(f) > 1e15 || f != math.Trunc(f) {
		return time.Time{}, false
	}
	sec := math.Floor(f)
	return time.Unix(int64(sec), int64((f-sec)*1e9)).In(loc), true
}

func unixTime(s string, loc *time.Location) (time.Time, bool) {
	if i, err := strconv.ParseInt(s, 10, 64); err == nil {
		if i > 1e15 || i < -1e15 {
			return time.Time{}, false
		}
		return time.Unix(i, 0).In(loc), true
	}
	n, ok := parseNumeric(s)
	if !ok {
		return time.Time{}, false
	}
	return floatTime(n.float(), loc)
}

var localLayouts = []string{
	"2006-01-02",
	"2006-01-02T15:04:05",
	"2006-01-02 15:04:05",
	"2006-01-02T15:04",
	"2006-01-02 15:04",
	"2006-01-02T15:04:05.999999999",
	"2006-01-02 15:04:05.999999999",
}

var zonedLayouts = []string{
	time.RFC3339Nano,
	"2006-01-02 15:04:05Z07:00",
	"2006-01-02T15:04:05Z0700",
	"2006-01-02T15:04Z07:00",
	time.RFC1123Z,
	time.RFC1123,
	"Mon, 2 Jan 2006 15:04:05 -0700",
}

func (r *renderer) parseTimeString(s string, loc *time.Location) (time.Time, bool) {
	raw := s
	s = strings.TrimSpace(s)
	if s == "" || len(s) > 64 {
		return time.Time{}, false
	}
	if raw != s && isDigitString(s) {
		return time.Time{}, false // Twig reads Unix seconds only from bare digits
	}
	if strings.EqualFold(s, "now") {
		return r.currentTime().In(loc), true
	}
	if c := s[0]; c >= '0' && c <= '9' || c == '-' {
		allDigits := true
		for i := 1; i < len(s); i++ {
			if s[i] < '0' || s[i] > '9' {
				allDigits = false
				break
			}
		}
		if allDigits && (c != '-' || len(s) > 1) {
			return unixTime(s, loc)
		}
	}
	for _, layout := range zonedLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	for _, layout := range localLayouts {
		if t, err := time.ParseInLocation(layout, s, loc); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// locationCache keeps loaded time zones; only names that load are cached,
// and only so many.
var locationCache sync.Map
var locationCacheSize int64
var locationMu sync.Mutex

func loadLocation(name string) (*time.Location, bool) {
	if l, ok := locationCache.Load(name); ok {
		return l.(*time.Location), true
	}
	if name == "" || len(name) > 64 || strings.Contains(name, "..") {
		return nil, false
	}
	var loc *time.Location
	if strings.EqualFold(name, "UTC") || name == "Z" {
		loc = time.UTC
	} else if l, err := time.LoadLocation(name); err == nil {
		loc = l
	} else if off, ok := parseOffsetName(name); ok {
		loc = time.FixedZone(name, off)
	} else {
		return nil, false
	}
	locationMu.Lock()
	if locationCacheSize < 1000 {
		locationCache.Store(name, loc)
		locationCacheSize++
	}
	locationMu.Unlock()
	return loc, true
}

// parseOffsetName reads "+02:00", "-0530" or "+02".
func parseOffsetName(s string) (int, bool) {
	if len(s) < 3 || (s[0] != '+' && s[0] != '-') {
		return 0, false
	}
	digits := strings.ReplaceAll(s[1:], ":", "")
	if len(digits) != 2 && len(digits) != 4 {
		return 0, false
	}
	for i := 0; i < len(digits); i++ {
		if digits[i] < '0' || digits[i] > '9' {
			return 0, false
		}
	}
	h, _ := strconv.Atoi(digits[:2])
	m := 0
	if len(digits) == 4 {
		m, _ = strconv.Atoi(digits[2:])
	}
	if h > 14 || m > 59 {
		return 0, false
	}
	off := h*3600 + m*60
	if s[0] == '-' {
		off = -off
	}
	return off, true
}

var englishSuffix = [...]string{"th", "st", "nd", "rd"}

func appendPad(dst []byte, v, width int) []byte {
	if v < 0 {
		dst = append(dst, '-')
		v = -v
	}
	var buf [20]byte
	b := strconv.AppendInt(buf[:0], int64(v), 10)
	for i := len(b); i < width; i++ {
		dst = append(dst, '0')
	}
	return append(dst, b...)
}

// appendPHPDate formats t with PHP's date() letters. Backslash escapes the
// next character; characters that are not letters PHP knows are copied.
func appendPHPDate(dst []byte, t time.Time, format string) []byte {
	for i := 0; i < len(format); i++ {
		c := format[i]
		switch c {
		case '\\':
			if i+1 < len(format) {
				i++
				dst = append(dst, format[i])
			}
		case 'd':
			dst = appendPad(dst, t.Day(), 2)
		case 'D':
			dst = append(dst, t.Weekday().String()[:3]...)
		case 'j':
			dst = strconv.AppendInt(dst, int64(t.Day()), 10)
		case 'l':
			dst = append(dst, t.Weekday().String()...)
		case 'N':
			wd := int(t.Weekday())
			if wd == 0 {
				wd = 7
			}
			dst = strconv.AppendInt(dst, int64(wd), 10)
		case 'S':
			d := t.Day()
			suffix := "th"
			if (d < 11 || d > 13) && d%10 <= 3 {
				suffix = englishSuffix[d%10]
			}
			dst = append(dst, suffix...)
		case 'w':
			dst = strconv.AppendInt(dst, int64(t.Weekday()), 10)
		case 'z':
			dst = strconv.AppendInt(dst, int64(t.YearDay()-1), 10)
		case 'W':
			_, w := t.ISOWeek()
			dst = appendPad(dst, w, 2)
		case 'F':
			dst = append(dst, t.Month().String()...)
		case 'm':
			dst = appendPad(dst, int(t.Month()), 2)
		case 'M':
			dst = append(dst, t.Month().String()[:3]...)
		case 'n':
			dst = strconv.AppendInt(dst, int64(t.Month()), 10)
		case 't':
			dst = strconv.AppendInt(dst, int64(daysIn(t.Month(), t.Year())), 10)
		case 'L':
			if isLeap(t.Year()) {
				dst = append(dst, '1')
			} else {
				dst = append(dst, '0')
			}
		case 'o':
			y, _ := t.ISOWeek()
			dst = strconv.AppendInt(dst, int64(y), 10)
		case 'Y':
			dst = appendPad(dst, t.Year(), 4)
		case 'y':
			dst = appendPad(dst, ((t.Year()%100)+100)%100, 2)
		case 'a':
			if t.Hour() < 12 {
				dst = append(dst, "am"...)
			} else {
				dst = append(dst, "pm"...)
			}
		case 'A':
			if t.Hour() < 12 {
				dst = append(dst, "AM"...)
			} else {
				dst = append(dst, "PM"...)
			}
		case 'B':
			utc := t.Unix() + 3600 // Biel Mean Time
			beats := ((utc%86400 + 86400) % 86400) * 1000 / 86400
			dst = appendPad(dst, int(beats), 3)
		case 'g':
			h := t.Hour() % 12
			if h == 0 {
				h = 12
			}
			dst = strconv.AppendInt(dst, int64(h), 10)
		case 'G':
			dst = strconv.AppendInt(dst, int64(t.Hour()), 10)
		case 'h':
			h := t.Hour() % 12
			if h == 0 {
				h = 12
			}
			dst = appendPad(dst, h, 2)
		case 'H':
			dst = appendPad(dst, t.Hour(), 2)
		case 'i':
			dst = appendPad(dst, t.Minute(), 2)
		case 's':
			dst = appendPad(dst, t.Second(), 2)
		case 'u':
			dst = appendPad(dst, t.Nanosecond()/1000, 6)
		case 'v':
			dst = appendPad(dst, t.Nanosecond()/1000000, 3)
		case 'e':
			name := t.Location().String()
			if name == "" || name == "Local" || isFixedParsed(t) {
				dst = appendOffset(dst, t, true)
			} else {
				dst = append(dst, name...)
			}
		case 'I':
			if t.IsDST() {
				dst = append(dst, '1')
			} else {
				dst = append(dst, '0')
			}
		case 'O':
			dst = appendOffset(dst, t, false)
		case 'P':
			dst = appendOffset(dst, t, true)
		case 'p':
			if _, off := t.Zone(); off == 0 {
				dst = append(dst, 'Z')
			} else {
				dst = appendOffset(dst, t, true)
			}
		case 'T':
			name, _ := t.Zone()
			if name == "" || name[0] == '+' || name[0] == '-' {
				// PHP names an offset-only zone by its offset: GMT+0200.
				dst = append(dst, "GMT"...)
				dst = appendOffset(dst, t, false)
			} else {
				dst = append(dst, name...)
			}
		case 'Z':
			_, off := t.Zone()
			dst = strconv.AppendInt(dst, int64(off), 10)
		case 'c':
			dst = appendPHPDate(dst, t, `Y-m-d\TH:i:sP`)
		case 'r':
			dst = appendPHPDate(dst, t, `D, d M Y H:i:s O`)
		case 'U':
			dst = strconv.AppendInt(dst, t.Unix(), 10)
		default:
			dst = append(dst, c)
		}
	}
	return dst
}

// isFixedParsed reports whether t carries an anonymous fixed offset, as
// time.Parse gives for "+02:00".
func isFixedParsed(t time.Time) bool {
	name, _ := t.Zone()
	return name == "" && t.Location() != time.UTC
}

func appendOffset(dst []byte, t time.Time, colon bool) []byte {
	_, off := t.Zone()
	sign := byte('+')
	if off < 0 {
		sign = '-'
		off = -off
	}
	dst = append(dst, sign)
	dst = appendPad(dst, off/3600, 2)
	if colon {
		dst = append(dst, ':')
	}
	return appendPad(dst, (off%3600)/60, 2)
}

func isLeap(y int) bool { return y%4 == 0 && (y%100 != 0 || y%400 == 0) }

func daysIn(m time.Month, y int) int {
	switch m {
	case time.February:
		if isLeap(y) {
			return 29
		}
		return 28
	case time.April, time.June, time.September, time.November:
		return 30
	}
	return 31
}

func isDigitString(s string) bool {
	if s != "" && s[0] == '-' {
		s = s[1:]
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}
