package template

import (
	"strconv"
	"testing"
	"time"
)

func TestDateLetters(t *testing.T) {
	t.Parallel()
	const vars = `{"d": "2025-05-12T12:34:56.789012Z", "midnight": "2025-05-12T00:05:09Z", "pm": "2025-05-12T13:05:00Z",
		"first": "2025-05-01", "second": "2025-05-02", "third": "2025-05-03", "eleventh": "2025-05-11", "twentysecond": "2025-02-22",
		"leap": "2024-02-10", "newyear": "2027-01-01T10:00:00Z", "offset": "2025-05-12T12:34:56+02:00", "nul": null}`
	cases := []struct{ format, want string }{
		{"d", "12"}, {"D", "Mon"}, {"j", "12"}, {"l", "Monday"}, {"N", "1"}, {"S", "th"}, {"w", "1"},
		{"z", "131"}, {"W", "20"}, {"F", "May"}, {"m", "05"}, {"M", "May"}, {"n", "5"}, {"t", "31"},
		{"L", "0"}, {"o", "2025"}, {"Y", "2025"}, {"y", "25"}, {"a", "pm"}, {"A", "PM"}, {"g", "12"},
		{"G", "12"}, {"h", "12"}, {"H", "12"}, {"i", "34"}, {"s", "56"}, {"u", "789012"}, {"v", "789"},
		{"e", "UTC"}, {"O", "+0000"}, {"P", "+00:00"}, {"T", "UTC"}, {"c", "2025-05-12T12:34:56+00:00"},
		{"r", "Mon, 12 May 2025 12:34:56 +0000"}, {"U", "1747053296"}, {"I", "0"}, {"Z", "0"}, {"p", "Z"},
		{"B", "565"},
		{`\\Y\\m\\d Y`, "Ymd 2025"}, {"Y-m-d H:i:s", "2025-05-12 12:34:56"}, {"D, d M Y", "Mon, 12 May 2025"},
		{"Q!", "Q!"},
	}
	var rc []renderCase
	for _, c := range cases {
		rc = append(rc, renderCase{"{{ d|date('" + c.format + "') }}", c.want})
	}
	// A backslash inside a single-quoted Twig string is written \\.
	rc = append(rc,
		renderCase{`{{ d|date('Y-m-d\\TH:i:sP') }}`, "2025-05-12T12:34:56+00:00"},
		renderCase{`{{ d|date }}`, "May 12, 2025 12:34"},
		renderCase{`{{ midnight|date('g h G H a A i s') }}`, "12 12 0 00 am AM 05 09"},
		renderCase{`{{ pm|date('g h G H a') }}`, "1 01 13 13 pm"},
		renderCase{`{{ first|date('jS') }} {{ second|date('jS') }} {{ third|date('jS') }} {{ eleventh|date('jS') }} {{ twentysecond|date('jS') }}`, "1st 2nd 3rd 11th 22nd"},
		renderCase{`{{ leap|date('L t') }} {{ twentysecond|date('L t') }}`, "1 29 0 28"},
		renderCase{`{{ newyear|date('o W Y z N l') }}`, "2026 53 2027 0 5 Friday"},
		renderCase{`{{ d|date('Y-m-d H:i T e P I', 'Europe/Ljubljana') }}`, "2025-05-12 14:34 CEST Europe/Ljubljana +02:00 1"},
		renderCase{`{{ d|date('H:i P', '-05:30') }}`, "07:04 -05:30"},
		renderCase{`{{ offset|date('H:i P e T O Z', false) }}`, "12:34 +02:00 +02:00 GMT+0200 +0200 7200"},
		renderCase{`{{ offset|date('H:i P') }}`, "10:34 +00:00"},
		renderCase{`{{ 0|date('Y-m-d H:i:s') }}`, "1970-01-01 00:00:00"},
		renderCase{`{{ "1747053296"|date('c') }}`, "2025-05-12T12:34:56+00:00"},
		renderCase{`{{ 1.0E+3|date('U') }}`, "1000"},
		renderCase{`{{ "-86400"|date('Y-m-d') }}`, "1969-12-31"},
		renderCase{`{{ "2025-05-12 08:00:00"|date('c') }}`, "2025-05-12T08:00:00+00:00"},
		renderCase{`[{{ nul|date('U') }}][{{ missing|date('U') }}][{{ ""|date('U') }}]`, "[][][]"},
	)
	runRenderCases(t, Options{Format: PLAIN}, vars, rc)
}

func TestDateLocation(t *testing.T) {
	t.Parallel()
	lj, err := time.LoadLocation("Europe/Ljubljana")
	if err != nil {
		t.Fatal(err)
	}
	// A date-only value is midnight in the workspace's zone (CEST here).
	runRenderCases(t, Options{Format: PLAIN, Location: lj}, `{"b": "1990-04-15", "ts": "2025-05-12T12:34:56Z"}`, []renderCase{
		{`{{ b|date('U') }}`, "640130400"},
		{`{{ b|date('c') }}`, "1990-04-15T00:00:00+02:00"},
		{`{{ ts|date('H:i T') }}`, "14:34 CEST"},
		{`{{ ts|date('H:i', 'UTC') }}`, "12:34"},
	})
	runRenderCases(t, Options{Format: PLAIN}, `{"b": "1990-04-15"}`, []renderCase{
		{`{{ b|date('U') }}`, "640137600"},
	})
}

func TestDateNow(t *testing.T) {
	t.Parallel()
	before := time.Now().Unix()
	got, err := renderString(t, Options{}, `{{ 'now'|date('U') }}|{{ "now"|date('Y') }}`, nil)
	if err != nil {
		t.Fatal(err)
	}
	after := time.Now().Unix()
	var u int64
	var y string
	for i := 0; i < len(got); i++ {
		if got[i] == '|' {
			u, _ = strconv.ParseInt(got[:i], 10, 64)
			y = got[i+1:]
		}
	}
	if u < before || u > after {
		t.Errorf("now = %d, want between %d and %d", u, before, after)
	}
	if y != strconv.Itoa(time.Now().UTC().Year()) {
		t.Errorf("year = %s", y)
	}
}

func TestDateErrors(t *testing.T) {
	t.Parallel()
	_, err := renderString(t, Options{}, "x\n  {{ v|date('U') }}", map[string]any{"v": "next tuesday"})
	e := asError(t, err)
	want := `line 2, column 8: date: cannot read "next tuesday" as a date (want RFC 3339, YYYY-MM-DD, Unix seconds or "now")`
	if e.Error() != want {
		t.Errorf("got  %s\nwant %s", e, want)
	}
	_, err = Compile(`{{ v|date('U', 'Europe/Ljublana') }}`, Options{})
	if e := asError(t, err); e.Diagnostics[0].Column != 6 || e.Diagnostics[0].Message != `date: unknown time zone "Europe/Ljublana" (want a name such as "Europe/Ljubljana" or an offset such as "+02:00")` {
		t.Errorf("got %v", e)
	}
	_, err = renderString(t, Options{}, `{{ v|date('U', tz) }}`, map[string]any{"v": "2025-01-01", "tz": "Mars/Base"})
	if e := asError(t, err); e.Diagnostics[0].Message != `date: unknown time zone "Mars/Base"` {
		t.Errorf("got %v", e)
	}
}
