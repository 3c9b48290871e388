package template

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"errors"
	"io"
	"net/url"
	"strings"
	"testing"
)

var allFormats = []Format{JSON, XML, PLAIN, FORM, URL, Header}

// FuzzCompile feeds arbitrary source to Compile for every format: it must
// never panic, and every error must be an *Error with a position. What
// compiles is rendered too.
func FuzzCompile(f *testing.F) {
	for _, v := range loadVectors(f) {
		f.Add(v.Template)
	}
	for _, s := range []string{
		"{{ a|date('U') }}", "{% for x in 1..3 %}{{ loop.index }}{% else %}e{% endfor %}", "{{ {'a': [1, {'b': 2}]}|json_encode }}",
		"{% if a is defined and b is not empty %}x{% elseif c %}{% else %}{% endif %}", "{{- a -}}{#- c -#}{%- set x = 1 -%}",
		`<a x="{{ a }}"><![CDATA[{{ b }}]]><!-- {{ c }} --></a>`, "https://h/{{ a }}?q={{ b }}", "{% verbatim %}{{ x }}{% endverbatim %}",
		"{{ '%05.2f'|format(a) }}{{ a ?? b ?: c ? d : e }}", "{{ (((a))) }}", "{{ a[1:2] }}{{ a['x'].y[0] }}",
		"{% macro m(x, y = 2) %}{{ x }}{{ _self }}{% endmacro %}{% from _self import m as n %}{{ n(1) }}{% import _self as k %}{{ k.m(a) }}",
		"{% apply upper|trim %} x {% endapply %}{% set s %}{{ a }}{% endset %}{{ s * 2 }}{% with {'q': 1} only %}{{ q }}{% endwith %}",
		"{{ xs|map(x => x * 2)|filter(x => x > 1)|reduce((c, x) => c + x, 0) }}{{ xs|sort((a, b) => b <=> a) }}{{ max(xs) }}{{ range(1, 9, 2)|join }}",
		"{{ a matches '/^\\d+/' }}{{ 5 b-and 3 }}{{ \"#{a ~ \"#{b}\"}\" }}{{~ a ~}}{%~ if a ~%}{%- endif %}{{ cycle(xs, 3) }}{{ attribute(d, 'e') }}",
		"{{ a|date_modify('+1 day')|date('c') }}{{ date(a, 'UTC')|date('U') }}{{ a|sha1 }}{{ a|md5|hex|base64_encode|base64_decode }}{{ c|column('k')|batch(2)|json_encode }}",
	} {
		f.Add(s)
	}
	vars := map[string]any{"a": "2025-05-12T12:34:56Z", "b": json.Number("12.5"), "c": []any{"x", map[string]any{"k": "v"}},
		"d": map[string]any{"e": nil}, "xs": []any{json.Number("1"), json.Number("2")}}
	f.Fuzz(func(t *testing.T, src string) {
		for _, format := range allFormats {
			tpl, err := Compile(src, Options{Format: format, MaxSteps: 20000, MaxOutputBytes: 1 << 16})
			if err != nil {
				checkError(t, err)
				continue
			}
			_ = tpl.Paths()
			_, err = tpl.Render(vars)
			if err != nil {
				checkError(t, err)
			}
			_ = tpl.MissingPaths(vars)
		}
	})
}

func checkError(t *testing.T, err error) {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not an *Error", err, err)
	}
	if len(e.Diagnostics) == 0 {
		t.Fatalf("error without diagnostics")
	}
	for _, d := range e.Diagnostics {
		if d.Line < 1 || d.Column < 1 || d.Message == "" {
			t.Fatalf("bad diagnostic %+v", d)
		}
	}
}

// The fixed templates FuzzRender uses, one or more per format.
const (
	fuzzJSON = `{% macro m(x) %}<{{ x }}>{% endmacro %}{% import _self as mac %}{% set cap %}{{ a }}!{% endset %}` +
		`{"e": {{ a ? 'true' : 'false' }}, "n": {{ b ? b : 'null' }}, "m": "{{ mac.m(a) }}", "c": {{ cap }}, "p": "{% apply upper %}{{ a }}{% endapply %}",` +
		` "h": "{{ a|sha256 }}", "x": "{{ a|hmac('sha256', b) }}", "64": "{{ a|base64_encode }}", "r": [{% for x in list %}{{ x }}{{ loop.last ? '' : ',' }}{% endfor %}],` +
		` "w": {% with {'w': a} %}{{ w }}{% endwith %}, "f": {{ list|map(x => x ~ '!')|filter(x => x != b)|json_encode }}, "i": "{{ "#{a}-#{b}" }}",` +
		` "s": "{{ a }}", "v": {{ a }}, "t": "{{ a|upper }} {{ b|title }}", "o": {{ obj }}, "k": {{ a|json_encode }},` +
		` "j": "{{ a|e('js') }}", "l": [{% for x in list %}"{{ x }}", {{ x }}{% if not loop.last %},{% endif %}{% endfor %}], "b": "{{ b }}"}`
	fuzzXML = `<?xml version="1.0" encoding="UTF-8"?>` + "\n" + `<r a="{{ a }}" b='{{ b }}'>{{ a }}<c>{{ b|upper }}</c><![CDATA[{{ a }}]]>` +
		`<!--{{ b }}--><d>{{ a|e }}</d>{% for x in list %}<i n="{{ loop.index }}">{{ x }}</i>{% endfor %}<e><![CDATA[]]{{ b }}]]></e></r>`
	fuzzForm  = `a={{ a }}&b={{ b }}&{{ a }}={{ b }}&u={{ a|url_encode }}`
	fuzzURL   = `https://example.com/p/{{ a }}/q?x={{ b }}&y=1#{{ a }}`
	fuzzPlain = `{{ a }} {{ b|lower }} {{ a ~ b }} {{ a|length }}`
	fuzzHdr   = `Bearer {{ a }}`
)

// clean is what a value reads back as: invalid UTF-8 bytes become U+FFFD.
func clean(s string) string { return string([]rune(s)) }

// FuzzRender renders fixed templates for every format with arbitrary
// string data: rendering never fails (except a header refusing CR/LF/NUL),
// JSON is always valid, XML always well-formed, FORM and URL always decode
// back to the same values.
func FuzzRender(f *testing.F) {
	for _, s := range []string{"", "plain", hostile, `", "admin": true, "x": "`, "</r><evil/>", "]]>", "--", "-", "]", "\xff\xfe",
		"\u2028\u2029", "a\r\nb", "0", "-1.5e3", "null", "&amp;", "%zz", ";", "?#/", "\x00", strings.Repeat("é", 100)} {
		f.Add(s, "x")
		f.Add("y", s)
	}
	compiled := map[Format]*Template{}
	for format, src := range map[Format]string{JSON: fuzzJSON, XML: fuzzXML, FORM: fuzzForm, URL: fuzzURL, PLAIN: fuzzPlain, Header: fuzzHdr} {
		tpl, err := Compile(src, Options{Format: format})
		if err != nil {
			f.Fatalf("%s: %v", format, err)
		}
		compiled[format] = tpl
	}
	f.Fuzz(func(t *testing.T, a, b string) {
		vars := map[string]any{"a": a, "b": b, "obj": map[string]any{a: b, "k": []any{a, b, nil}}, "list": []any{a, b}}
		ca, cb := clean(a), clean(b)

		out, err := compiled[JSON].Render(vars)
		if err != nil {
			t.Fatalf("JSON: %v", err)
		}
		var doc struct {
			S, B string
			O    map[string]any
			L    []any
		}
		if !json.Valid(out) {
			t.Fatalf("invalid JSON: %s", out)
		}
		if err := json.Unmarshal(out, &doc); err != nil {
			t.Fatalf("JSON: %v\n%s", err, out)
		}
		if doc.S != ca || doc.B != cb || len(doc.O) != 2 && ca != "k" {
			t.Fatalf("JSON values changed: %q %q %v\n%s", doc.S, doc.B, doc.O, out)
		}

		out, err = compiled[XML].Render(vars)
		if err != nil {
			t.Fatalf("XML: %v", err)
		}
		d := xml.NewDecoder(bytes.NewReader(out))
		for {
			_, err := d.Token()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("XML not well-formed: %v\n%s", err, out)
			}
		}
		var r struct {
			A string `xml:"a,attr"`
			B string `xml:"b,attr"`
			C string `xml:"c"`
			E string `xml:"e"`
		}
		if err := xml.Unmarshal(out, &r); err != nil {
			t.Fatalf("XML: %v", err)
		}
		if r.A != xmlClean(a) || r.B != xmlClean(b) || r.E != "]]"+xmlClean(b) {
			t.Fatalf("XML values changed: %q %q %q\n%s", r.A, r.B, r.E, out)
		}

		out, err = compiled[FORM].Render(vars)
		if err != nil {
			t.Fatalf("FORM: %v", err)
		}
		q, err := url.ParseQuery(string(out))
		if err != nil {
			t.Fatalf("FORM does not parse: %v\n%s", err, out)
		}
		if q.Get("a") != ca && ca != "a" || ca != "u" && q.Get("u") != ca || (ca != "a" && q.Get("b") != cb) || !contains(anyStrings(q[ca]), cb) {
			t.Fatalf("FORM values changed: %v\n%s", q, out)
		}

		out, err = compiled[URL].Render(vars)
		if err != nil {
			t.Fatalf("URL: %v", err)
		}
		u, err := url.Parse(string(out))
		if err != nil || u.Host != "example.com" || u.Query().Get("x") != cb || u.Query().Get("y") != "1" || u.Path != "/p/"+ca+"/q" || u.Fragment != ca {
			t.Fatalf("URL changed: %v %#v\n%s", err, u, out)
		}

		if _, err := compiled[PLAIN].Render(vars); err != nil {
			t.Fatalf("PLAIN: %v", err)
		}

		out, err = compiled[Header].Render(vars)
		if strings.ContainsAny(a, "\r\n\x00") {
			if err == nil {
				t.Fatalf("header with CR/LF/NUL accepted: %q", out)
			}
		} else if err != nil {
			t.Fatalf("Header: %v", err)
		} else if string(out) != strings.TrimRight("Bearer "+ca, " \t") {
			t.Fatalf("header %q", out)
		}
	})
}

func anyStrings(s []string) []any {
	out := make([]any, len(s))
	for i, v := range s {
		out[i] = v
	}
	return out
}
