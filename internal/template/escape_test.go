package template

import (
	"encoding/json"
	"encoding/xml"
	"math"
	"net/url"
	"strings"
	"testing"
)

const hostile = "Tom & \"Jerry\" \\ <b>'x'</b>\n\t\r\x00\x01 \u2028\u2029 ]]> -- ?#/ %+=; \xff\xfe end"

func TestJSONEscaping(t *testing.T) {
	t.Parallel()
	vars := map[string]any{
		"h": hostile, "num": "640137600", "zero": "01", "neg": "-1.5e3", "n": json.Number("5.50"),
		"f": 2.5, "i": 7, "i64": int64(-3), "nan": math.NaN(), "b": false, "nul": nil,
		"obj":  map[string]any{"z": 1, "a": []any{"x", nil, true}, "<": "&"},
		"strs": []string{"a", "b"}, "ints": map[string]int{"k": 1},
	}
	cases := []renderCase{
		{`{"v": "{{ h }}"}`, `{"v": "Tom & \"Jerry\" \\ <b>'x'</b>\n\t\r\u0000\u0001 \u2028\u2029 ]]> -- ?#/ %+=; ` + "\ufffd\ufffd" + ` end"}`},
		{`{"v": {{ h }}}`, `{"v": "Tom & \"Jerry\" \\ <b>'x'</b>\n\t\r\u0000\u0001 \u2028\u2029 ]]> -- ?#/ %+=; ` + "\ufffd\ufffd" + ` end"}`},
		{`[{{ num }}, {{ zero }}, {{ neg }}, {{ n }}, {{ f }}, {{ i }}, {{ i64 }}, {{ nan }}, {{ b }}, {{ nul }}, {{ missing }}]`,
			`[640137600, "01", -1.5e3, 5.5, 2.5, 7, -3, null, false, null, null]`},
		{`["{{ num }}", "{{ n }}", "{{ b }}", "{{ nul }}", "{{ missing }}", "{{ f }}"]`, `["640137600", "5.5", "", "", "", "2.5"]`},
		{`{"o": {{ obj }}}`, `{"o": {"<":"&","a":["x",null,true],"z":1}}`},
		{`{"o": "{{ obj }}"}`, `{"o": "{\"<\":\"&\",\"a\":[\"x\",null,true],\"z\":1}"}`},
		{`{"o": {{ obj|json_encode }}}`, `{"o": {"<":"&","a":["x",null,true],"z":1}}`},
		{`{"o": {{ obj|json_encode|raw }}}`, `{"o": {"<":"&","a":["x",null,true],"z":1}}`},
		{`{"s": {{ strs }}, "m": {{ ints }}}`, `{"s": ["a","b"], "m": {"k":1}}`},
		{`{"e": "{{ h|e('js') }}"}`, `{"e": "` + string(appendJSEscaped(nil, hostile)) + `"}`},
		{`{"d": {{ "2025-05-12T12:34:56Z"|date('U') }}, "t": {{ true }}, "x": {{ 1 + 1 }}}`, `{"d": 1747053296, "t": true, "x": 2}`},
		{`{"k": {% for x in [1, 2] %}{{ x }}{% endfor %}}`, `{"k": 12}`},
		// Literals are template text: written as they are.
		{`{ {{ '"key"' }}: 1 }`, `{ "key": 1 }`},
		{`{"on": {{ h ? 'true' : 'false' }}, "off": {{ nul ? 'true' : 'false' }}}`, `{"on": true, "off": false}`},
		{`[{% for x in [1, 2] %}{{ x }}{{ loop.last ? '' : ',' }}{% endfor %}]`, `[1,2]`},
		{`{"s": "{{ 'it' ~ "'s" }}"}`, `{"s": "it's"}`},
		{`{"a": "x\\{{ h|length }}"}`, `{"a": "x\\57"}`},
	}
	for _, c := range cases {
		got, err := renderString(t, Options{Format: JSON}, c.src, vars)
		if err != nil {
			t.Errorf("%s: %v", c.src, err)
			continue
		}
		if got != c.want {
			t.Errorf("%s\n got: %s\nwant: %s", c.src, got, c.want)
		}
		if !json.Valid([]byte(got)) {
			t.Errorf("%s: invalid JSON %s", c.src, got)
		}
	}
}

func TestJSONNoFieldInjection(t *testing.T) {
	t.Parallel()
	evil := []string{`", "admin": true, "x": "`, `1, "admin": true`, `"}`, `\`, "\\\"", "}{", `null, "admin": true`}
	for _, src := range []string{`{"name": "{{ v }}"}`, `{"name": {{ v }}}`, `{"name": "pre {{ v }} post {{ v }}"}`} {
		for _, v := range evil {
			got, err := renderString(t, Options{Format: JSON}, src, map[string]any{"v": v})
			if err != nil {
				t.Errorf("%s with %q: %v", src, v, err)
				continue
			}
			var m map[string]any
			if err := json.Unmarshal([]byte(got), &m); err != nil || len(m) != 1 {
				t.Errorf("%s with %q: %s (%v)", src, v, got, err)
			}
		}
	}
}

func TestXMLEscaping(t *testing.T) {
	t.Parallel()
	vars := map[string]any{"h": hostile, "v": "a&b", "cd": "x]]>y]", "dash": "-a--b-", "n": json.Number("1250")}
	cases := []struct{ src, want string }{
		{`<a>{{ v }}</a>`, `<a>a&amp;b</a>`},
		{`<a x="{{ v }}" y='{{ h }}'>{{ h }}</a>`, ""},
		{`<a>{{ v|e }}</a>`, `<a>a&amp;b</a>`},
		{`<a>{{ v|raw }}</a>`, ""},
		{`<a><![CDATA[{{ cd }}]]></a>`, ""},
		{`<a><![CDATA[]]{{ cd }}>]]></a>`, ""},
		{`<a><!-- {{ dash }} -->{{ n }}</a>`, ""},
		{`<a><!--{{ dash }}--></a>`, ""},
		{`<?xml version="1.0"?><!DOCTYPE a [<!ENTITY e "x">]><a k="{{ h }}">{% for i in [1,2] %}<i n="{{ i }}">{{ h }}</i>{% endfor %}</a>`, ""},
	}
	for _, c := range cases {
		got, err := renderString(t, Options{Format: XML}, c.src, vars)
		if strings.Contains(c.src, "|raw") {
			if err == nil {
				t.Errorf("%s: raw a&b rendered as %s without an error", c.src, got)
			}
			continue
		}
		if err != nil {
			t.Errorf("%s: %v", c.src, err)
			continue
		}
		if c.want != "" && got != c.want {
			t.Errorf("%s\n got: %s\nwant: %s", c.src, got, c.want)
		}
		// The values come back exactly (up to XML's own rules).
		tree, err := xmlTree([]byte(got))
		if err != nil {
			t.Errorf("%s: %v\n%s", c.src, err, got)
			continue
		}
		a := tree.Children[0]
		switch {
		case strings.Contains(c.src, "CDATA[{{"):
			if a.Text != "x]]>y]" {
				t.Errorf("CDATA text %q, output %s", a.Text, got)
			}
		case strings.Contains(c.src, "CDATA[]]"):
			if a.Text != "]]x]]>y]>" {
				t.Errorf("CDATA text %q, output %s", a.Text, got)
			}
		case strings.Contains(c.src, `y='{{ h }}'`):
			want := xmlClean(hostile)
			if a.Attrs["y"] != want || a.Text != strings.ReplaceAll(want, "\r", "\r") {
				t.Errorf("attr %q text %q, want %q", a.Attrs["y"], a.Text, want)
			}
		}
	}
}

// xmlClean is what an XML parser gives back for hostile: characters XML
// forbids and invalid bytes become U+FFFD.
func xmlClean(s string) string {
	var b strings.Builder
	for _, r := range s {
		if !isXMLChar(r) {
			r = '\ufffd'
		}
		b.WriteRune(r)
	}
	return b.String()
}

func TestXMLParsesBack(t *testing.T) {
	t.Parallel()
	got, err := renderString(t, Options{Format: XML}, `<r a="{{ h }}">{{ h }}</r>`, map[string]any{"h": hostile})
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		A    string `xml:"a,attr"`
		Text string `xml:",chardata"`
	}
	if err := xml.Unmarshal([]byte(got), &v); err != nil {
		t.Fatal(err)
	}
	if v.A != xmlClean(hostile) || v.Text != xmlClean(hostile) {
		t.Errorf("attr %q\ntext %q\nwant %q", v.A, v.Text, xmlClean(hostile))
	}
}

func TestFormEscaping(t *testing.T) {
	t.Parallel()
	got, err := renderString(t, Options{Format: FORM}, `a={{ h }}&b={{ n }}&{{ k }}={{ v|e('url') }}`,
		map[string]any{"h": hostile, "n": 12, "k": "we&ird=key", "v": "x y"})
	if err != nil {
		t.Fatal(err)
	}
	q, err := url.ParseQuery(got)
	if err != nil {
		t.Fatal(err)
	}
	if q.Get("a") != string([]rune(hostile)) || q.Get("b") != "12" || q.Get("we&ird=key") != "x y" || len(q) != 3 {
		t.Errorf("got %s → %v", got, q)
	}
}

func TestURLEscaping(t *testing.T) {
	t.Parallel()
	vars := map[string]any{"id": "a/b c?d#e", "q": "x y&z=1#", "f": "s p", "u": "ü"}
	runRenderCases(t, Options{Format: URL}, "", nil)
	cases := []renderCase{
		{`https://api.example.com/contacts/{{ id }}?q={{ q }}&x=1#{{ f }}`, "https://api.example.com/contacts/a%2Fb%20c%3Fd%23e?q=x+y%26z%3D1%23&x=1#s%20p"},
		{`  https://api.example.com/{{ u }}/x  `, "https://api.example.com/%C3%BC/x"},
		{`http://h:8080?a={{ id }}`, "http://h:8080?a=a%2Fb+c%3Fd%23e"},
	}
	for _, c := range cases {
		got, err := renderString(t, Options{Format: URL}, c.src, vars)
		if err != nil {
			t.Errorf("%s: %v", c.src, err)
			continue
		}
		if got != c.want {
			t.Errorf("%s\n got: %s\nwant: %s", c.src, got, c.want)
		}
		u, err := url.Parse(got)
		if err != nil {
			t.Errorf("%s: %v", got, err)
			continue
		}
		if strings.Contains(c.src, "contacts") {
			if u.Host != "api.example.com" || u.Path != "/contacts/a/b c?d#e" || u.Query().Get("q") != "x y&z=1#" || u.Fragment != "s p" {
				t.Errorf("parsed %#v", u)
			}
		}
	}
}

func TestHeaderAndPlain(t *testing.T) {
	t.Parallel()
	runRenderCases(t, Options{Format: Header}, `{"t": "abc", "m": {"id": 1}}`, []renderCase{
		{`  Bearer {{ t }}  `, "Bearer abc"},
		{`{{ m.id }}`, "1"},
	})
	runRenderCases(t, Options{Format: PLAIN}, "", nil)
	got, err := renderString(t, Options{Format: PLAIN}, `{{ h }}`, map[string]any{"h": "a\xffb"})
	if err != nil || got != "a\ufffdb" {
		t.Errorf("got %q, %v", got, err)
	}
	if _, err := renderString(t, Options{Format: Header}, `x {{ v }}`, map[string]any{"v": "a\x00b"}); err == nil {
		t.Error("NUL accepted in a header")
	}
}

// TestInputTypes checks the Go types callers may pass besides JSON's.
func TestInputTypes(t *testing.T) {
	t.Parallel()
	vars := map[string]any{"f": 5.5, "i": 3, "i64": int64(1) << 40, "u": uint(7), "big": 1e21, "small": 1e-7, "f32": float32(0.5),
		"ss": []string{"a"}, "ms": map[string]string{"k": "v"}, "nested": []map[string]any{{"a": 1}}}
	runRenderCases(t, Options{Format: PLAIN}, "", nil)
	for src, want := range map[string]string{
		`{{ f }} {{ i }} {{ i64 }} {{ u }} {{ big }} {{ small }} {{ f32 }}`: "5.5 3 1099511627776 7 1.0E+21 1.0E-7 0.5",
		`{{ ss|join }} {{ ms.k }} {{ nested[0].a }} {{ ss|length }}`:        "a v 1 1",
		`{% for k, v in ms %}{{ k }}{{ v }}{% endfor %}`:                    "kv",
		`{{ f + i }} {{ i * 2 }}`:                                           "8.5 6",
	} {
		got, err := renderString(t, Options{}, src, vars)
		if err != nil || got != want {
			t.Errorf("%s: got %q, %v; want %q", src, got, err, want)
		}
	}
}

// nl2br's result is markup in XML text, as in Twig (its input escaped
// first), and data in an attribute; either way the XML stays well-formed.
func TestNl2brInXML(t *testing.T) {
	vars := decodeVars(t, `{"s": "a & b\nc"}`)
	got, err := renderString(t, Options{Format: XML}, `<r a="{{ s|nl2br }}">{{ s|nl2br }}</r>`, vars)
	if err != nil {
		t.Fatal(err)
	}
	if want := `<r a="a &amp;amp; b&lt;br /&gt;&#xA;c">a &amp; b<br />` + "\nc</r>"; got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}
