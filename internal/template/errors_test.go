package template

import (
	"strings"
	"testing"
)

// TestCompileErrors checks position and wording of every kind of compile
// error.
func TestCompileErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		format Format
		src    string
		want   string // the whole Error() text
	}{
		{"filter typo (spec example)", JSON, "{\n\"a\": 1,\n\"ts\":\"{{ event.x | dat('U') }}\"}",
			`line 3, column 20: unknown filter "dat" — did you mean "date"?`},
		{"unknown filter without suggestion", PLAIN, `{{ x|frobnicate }}`, `line 1, column 6: unknown filter "frobnicate"`},
		{"two unknown filters", PLAIN, "{{ x|uper }}\n{{ y|lowr }}",
			`line 1, column 6: unknown filter "uper" — did you mean "upper"?; line 2, column 6: unknown filter "lowr" — did you mean "lower"?`},
		{"columns count characters", PLAIN, `čšž {{ "ž" ~ x|titel }}`, `line 1, column 16: unknown filter "titel" — did you mean "title"?`},
		{"tag typo", PLAIN, `{% for x in xs %}{% endfo %}`, `line 1, column 21: unknown tag "endfo" — did you mean "endfor"?`},
		{"tag typo if", PLAIN, "a\n{% iff x %}", `line 2, column 4: unknown tag "iff" — did you mean "if"?`},
		{"unsupported tag", PLAIN, `{% include 'x.twig' %}`, `line 1, column 4: tag "include" is not supported: a payload template is self-contained`},
		{"unclosed if", PLAIN, "ab\n  {% if x %}c", `line 2, column 3: {% if %} is never closed: expected {% endif %}`},
		{"unclosed for", PLAIN, `{% for x in y %}`, `line 1, column 1: {% for %} is never closed: expected {% endfor %}`},
		{"stray endif", PLAIN, `a{% endif %}`, `line 1, column 5: unexpected {% endif %}: no {% if %} is open`},
		{"wrong closer", PLAIN, "{% if x %}\n{% endfor %}", `line 2, column 4: unexpected {% endfor %}: the {% if %} at line 1, column 1 must be closed first with {% endif %}`},
		{"unclosed output", PLAIN, "a {{ x ", `line 1, column 3: "{{" is never closed: expected "}}"`},
		{"single brace", PLAIN, "{{ x }", `line 1, column 6: unexpected "}": expected "}}"`},
		{"unclosed tag", PLAIN, "{% if x", `line 1, column 1: "{%" is never closed: expected "%}"`},
		{"unclosed comment", PLAIN, "a {# x", `line 1, column 3: comment "{#" is never closed: expected "#}"`},
		{"unclosed string", PLAIN, `{{ 'abc }}`, `line 1, column 4: string is never closed: expected '`},
		{"unclosed paren", PLAIN, `{{ (a }}`, `line 1, column 7: unexpected "}": "(" is still open`},
		{"unclosed paren at end", PLAIN, `{{ (a`, `line 1, column 4: "(" is never closed`},
		{"mismatched bracket", PLAIN, `{{ (a] }}`, `line 1, column 6: unexpected "]": "(" is still open`},
		{"empty output", PLAIN, `{{ }}`, `line 1, column 4: empty {{ }}: expected an expression`},
		{"missing operand", PLAIN, `{{ 1 + }}`, `line 1, column 8: unexpected "}}": expected a value`},
		{"unknown test", PLAIN, `{% if x is defind %}{% endif %}`, `line 1, column 12: unknown test "defind" — did you mean "defined"?`},
		{"filter arity", PLAIN, `{{ x|upper(1) }}`, `line 1, column 6: filter "upper" takes no arguments, got 1`},
		{"filter needs args", PLAIN, `{{ x|replace }}`, `line 1, column 6: filter "replace" takes 1 argument(s), got 0`},
		{"bad escape strategy", PLAIN, `{{ x|e('htm') }}`, `line 1, column 6: escape: unknown strategy "htm" — did you mean "html"?`},
		{"bad round method", PLAIN, `{{ x|round(2, 'up') }}`, `line 1, column 6: round: unknown method "up" (want common, floor, ceil)`},
		{"function call", PLAIN, `{{ rnage(1, 3) }}`, `line 1, column 4: unknown function "rnage" — did you mean "range"?`},
		{"filter as function", PLAIN, `{{ upper(x) }}`, `line 1, column 4: unknown function "upper": upper is a filter, written x | upper`},
		{"literals end apart", JSON, `{"a": {{ x ? '"yes' : 'no' }}}`, `line 1, column 7: the values of this expression leave the output in different places (inside a JSON string after "\"yes", outside a JSON string after "no"); each must leave it in the same place`},
		{"method call", PLAIN, `{{ x.y() }}`, `line 1, column 6: method calls are not supported: use a filter, as in x | y`},
		{"for without in", PLAIN, `{% for x of y %}{% endfor %}`, `line 1, column 10: expected "in" in {% for %}, found "of"`},
		{"set with body", PLAIN, `{% set x %}a`, `line 1, column 1: {% set %} is never closed: expected {% endset %}`},
		{"unknown macro", PLAIN, `{% macro hello(n) %}hi {{ n }}{% endmacro %}{% import _self as m %}{{ m.helo(1) }}`, `line 1, column 73: unknown macro "helo" — did you mean "hello"?`},
		{"bad regexp", PLAIN, `{{ x matches '/(?<=a)b/' }}`, "line 1, column 14: matches: the pattern \"/(?<=a)b/\" is not supported: invalid named capture: `(?<=a)b`"},
		{"set count", PLAIN, `{% set a, b = 1 %}`, `line 1, column 1: set assigns 1 values to 2 names`},
		{"trailing tokens", PLAIN, `{{ x y }}`, `line 1, column 6: unexpected "y": expected "}}"`},
		{"bad character", PLAIN, `{{ x & y }}`, `line 1, column 6: unexpected character '&'`},
		{"unknown format", "YAML", `x`, `line 1, column 1: unknown format "YAML" (want JSON, XML, PLAIN, FORM, URL or HEADER)`},
		{"reserved name", PLAIN, `{% set in = 1 %}`, `line 1, column 8: "in" cannot be used as a variable name`},
		// Context errors: where escaping cannot make a value safe.
		{"json backslash", JSON, `{"a": "\{{ x }}"}`, `line 1, column 9: an expression cannot follow a backslash inside a JSON string`},
		{"json if branches", JSON, "{\"a\": {% if x %}\"{% endif %}1}", `line 1, column 7: the branches of this {% if %} end in different places (inside a JSON string in one, outside a JSON string in another); each branch must leave the output in the same place`},
		{"json loop body", JSON, `[{% for x in xs %}"{% endfor %}]`, `line 1, column 2: the body of this {% for %} starts outside a JSON string but ends inside a JSON string; a loop body must end where it starts`},
		{"xml tag", XML, `<a {{ x }}="1"/>`, `line 1, column 4: an expression inside an XML tag must stand in a quoted attribute value (name="{{ … }}")`},
		{"xml element name", XML, `<{{ x }}/>`, `line 1, column 2: an expression inside an XML tag must stand in a quoted attribute value (name="{{ … }}")`},
		{"xml pi", XML, `<?xml version="{{ v }}"?><a/>`, `line 1, column 16: expressions are not allowed inside an XML declaration, processing instruction or DOCTYPE`},
		{"url host", URL, `https://{{ host }}/x`, `line 1, column 9: a value cannot stand in the URL's scheme or host: write the scheme and host literally and put values in the path or the query`},
		{"url whole", URL, `{{ url }}`, `line 1, column 1: a value cannot stand in the URL's scheme or host: write the scheme and host literally and put values in the path or the query`},
		{"nesting", PLAIN, "{{ " + strings.Repeat("(", 300) + "1" + strings.Repeat(")", 300) + " }}", `line 1, column 204: template is nested too deeply (more than 200 levels)`},
		{"invalid utf8", PLAIN, "ab\xffc", `line 1, column 3: template is not valid UTF-8`},
	}
	for _, c := range cases {
		_, err := Compile(c.src, Options{Format: c.format})
		if err == nil {
			t.Errorf("%s: compiled", c.name)
			continue
		}
		e := asError(t, err)
		if e.Error() != c.want {
			t.Errorf("%s:\n got: %s\nwant: %s", c.name, e.Error(), c.want)
		}
	}
}

func TestDiagnosticFields(t *testing.T) {
	t.Parallel()
	_, err := Compile("{\n\"a\": 1,\n\"ts\":\"{{ event.x | dat('U') }}\"}", Options{Format: JSON})
	d := asError(t, err).Diagnostics
	if len(d) != 1 || d[0].Line != 3 || d[0].Column != 20 || d[0].Message != `unknown filter "dat" — did you mean "date"?` {
		t.Errorf("got %+v", d)
	}
}

// TestRenderErrors checks that malformed output is reported at the
// template position that produced it.
func TestRenderErrors(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name   string
		format Format
		src    string
		vars   string
		want   string
	}{
		{"json trailing comma", JSON, "{\"a\": 1,\n \"b\": 2,}", "",
			`line 2, column 9: rendered JSON is not valid: invalid character '}' looking for beginning of object key string`},
		{"json raw value", JSON, `{"a": {{ v|raw }}}`, `{"v": "not json"}`,
			`line 1, column 10: rendered JSON is not valid: invalid character 'o' in literal null (expecting 'u')`},
		{"json empty", JSON, ``, ``, `line 1, column 1: rendered JSON is not valid: unexpected end of JSON input`},
		{"xml unclosed", XML, "<a>\n<b>{{ v }}</a>", `{"v": "x"}`, `line 2, column 14: rendered XML is not well-formed: element <b> closed by </a>`},
		{"xml two roots", XML, "<a/><b/>", ``, `line 1, column 8: rendered XML is not well-formed: more than one root element`},
		{"xml empty", XML, "  ", ``, `line 1, column 1: rendered XML is not well-formed: no root element`},
		{"form semicolon", FORM, "a=1;b={{ v }}", `{"v": "x"}`, `line 1, column 4: rendered form body does not parse: invalid semicolon separator in query`},
		{"url not absolute", URL, "/path/{{ v }}", `{"v": "x"}`, `line 1, column 1: rendered URL is not valid: not an absolute URL (want http:// or https://)`},
		{"url scheme", URL, "ftp://example.com/{{ v }}", `{"v": "x"}`, `line 1, column 1: rendered URL is not valid: scheme ftp is not http or https`},
		{"header crlf", Header, "Bearer {{ v }}", `{"v": "abc\r\nX-Evil: 1"}`, `line 1, column 11: rendered header value contains a carriage return (CR), which would split the header`},
		{"header literal lf", Header, "a\nb", ``, `line 1, column 2: rendered header value contains a line feed (LF), which would split the header`},
		{"division by zero", PLAIN, "{{ 1 / zero }}", `{"zero": 0}`, `line 1, column 6: division by zero`},
		{"replace needs hash", PLAIN, "{{ 'a'|replace('b') }}", ``, `line 1, column 8: replace expects a hash of replacements, like replace({'from': 'to'})`},
		{"format args", PLAIN, "{{ '%s %s'|format(1) }}", ``, `line 1, column 12: format: not enough arguments: 1 given`},
	}
	for _, c := range cases {
		_, err := renderString(t, Options{Format: c.format}, c.src, decodeVars(t, c.vars))
		if err == nil {
			t.Errorf("%s: rendered", c.name)
			continue
		}
		if e := asError(t, err); e.Error() != c.want {
			t.Errorf("%s:\n got: %s\nwant: %s", c.name, e.Error(), c.want)
		}
	}
}
