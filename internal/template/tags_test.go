package template

import (
	"strings"
	"testing"
	"time"
)

const tagVars = `{
  "items": [{"sku": "A-1", "qty": 2}, {"sku": "B-2", "qty": 1}, {"sku": "C-3", "qty": 5}],
  "m": {"b": 2, "a": 1, "c": 3}, "none": [], "x": 5, "nested": [[1, 2], [3]]
}`

func TestTags(t *testing.T) {
	t.Parallel()
	runRenderCases(t, Options{Format: PLAIN}, tagVars, []renderCase{
		// if / elseif / else
		{`{% if x > 3 %}big{% endif %}`, "big"},
		{`{% if x > 9 %}big{% endif %}`, ""},
		{`{% if x > 9 %}a{% elseif x > 4 %}b{% elseif x > 1 %}c{% else %}d{% endif %}`, "b"},
		{`{% if x > 9 %}a{% elseif x > 7 %}b{% else %}d{% endif %}`, "d"},
		{`{% if missing %}a{% else %}b{% endif %}`, "b"},
		{`{% if none %}a{% else %}b{% endif %}`, "b"},
		{`{% if items %}{% if x == 5 %}five{% endif %}{% endif %}`, "five"},
		// for over a list, with loop variables
		{`{% for i in items %}{{ loop.index }}{{ loop.index0 }}{{ loop.revindex }}{{ loop.revindex0 }}{{ loop.first ? 'F' }}{{ loop.last ? 'L' }}{{ loop.length }};{% endfor %}`,
			"1032F3;21213;3210L3;"},
		{`{% for i in items %}{{ i.sku }}x{{ i.qty }}{% if not loop.last %}, {% endif %}{% endfor %}`, "A-1x2, B-2x1, C-3x5"},
		{`{% for k, v in m %}{{ k }}={{ v }};{% endfor %}`, "a=1;b=2;c=3;"},
		{`{% for i, it in items %}{{ i }}:{{ it.sku }} {% endfor %}`, "0:A-1 1:B-2 2:C-3 "},
		{`{% for v in m %}{{ v }}{% endfor %}`, "123"},
		{`{% for i in none %}x{% else %}empty{% endfor %}`, "empty"},
		{`{% for i in missing %}x{% else %}empty{% endfor %}`, "empty"},
		{`{% for i in 1..3 %}{{ i }}{% endfor %}`, "123"},
		{`{% for row in nested %}{% for c in row %}{{ loop.parent.loop.index }}.{{ loop.index }}={{ c }} {% endfor %}{% endfor %}`, "1.1=1 1.2=2 2.1=3 "},
		{`{% for i in [] %}x{% endfor %}after`, "after"},
		// set and scoping (loops are scoped, as in Twig)
		{`{% set a = 'x' %}{{ a }}`, "x"},
		{`{% set a, b = 1, 2 %}{{ a }}{{ b }}`, "12"},
		{`{% set total = 0 %}{% for i in items %}{% set total = total + i.qty %}{% endfor %}{{ total }}`, "8"},
		{`{% for i in items %}{% set inner = i.sku %}{% endfor %}[{{ inner }}]`, "[]"},
		{`{% set item = 'outer' %}{% for item in [1, 2] %}{{ item }}{% endfor %}{{ item }}`, "12outer"},
		{`{% for item in [1, 2] %}{% endfor %}[{{ item }}]{{ loop.index }}`, "[]"},
		{`{{ x }}{% set x = 7 %}{{ x }}`, "57"},
		{`{% if true %}{% set y = 'set in if' %}{% endif %}{{ y }}`, "set in if"},
		{`{% set p = items[0] %}{{ p.sku }}`, "A-1"},
		{`{% set list = [] %}{% for i in items %}{% set list = list|merge([i.sku]) %}{% endfor %}{{ list|join('+') }}`, "A-1+B-2+C-3"},
		// whitespace control, comments, verbatim
		{"a  {{- 'b' -}}  c", "abc"},
		{"a\n  {%- if true -%}\n  b\n  {%- endif -%}\n  c", "abc"},
		{"a {{- 'b' }} c", "ab c"},
		{"a {{ 'b' -}} c", "a bc"},
		{"a{# a comment {{ x }} #}b", "ab"},
		{"a {#- c -#} b", "ab"},
		{`{% verbatim %}{{ x }}{% if %}{% endverbatim %}`, "{{ x }}{% if %}"},
		{"x {%- verbatim -%} {{ y }} {%- endverbatim -%} z", "x{{ y }}z"},
		{"{ not a tag } {x} %}", "{ not a tag } {x} %}"},
		{"", ""},
	})
}

func TestLoopStepsBounded(t *testing.T) {
	t.Parallel()
	vars := decodeVars(t, `{"xs": [1,2,3,4,5,6,7,8,9,10]}`)
	src := `{% for a in xs %}{% for b in xs %}{% for c in xs %}{% for d in xs %}{% for e in xs %}{% endfor %}{% endfor %}{% endfor %}{% endfor %}{% endfor %}`
	tpl, err := Compile(src, Options{MaxSteps: 10000})
	if err != nil {
		t.Fatal(err)
	}
	_, err = tpl.Render(vars)
	e := asError(t, err)
	if d := e.Diagnostics[0]; d.Message != "template does too much work: more than 10000 steps (a loop over data is bounded)" {
		t.Errorf("got %v", e)
	}
	// The default limit stops a billion iterations quickly.
	tpl, _ = Compile(`{% for a in 1..1000 %}{% for b in 1..1000 %}{% for c in 1..1000 %}{% endfor %}{% endfor %}{% endfor %}`, Options{})
	if _, err := tpl.Render(nil); err == nil {
		t.Error("a billion iterations rendered")
	}
	if _, err := renderString(t, Options{}, `{{ (1..100000000)|length }}`, nil); err == nil {
		t.Error("a huge range was built")
	}
}

func TestOutputAndValueLimits(t *testing.T) {
	t.Parallel()
	_, err := renderString(t, Options{MaxOutputBytes: 100}, `{% for i in 1..50 %}abc{% endfor %}`, nil)
	if e := asError(t, err); e.Diagnostics[0].Message != "output is larger than the limit of 100 bytes" {
		t.Errorf("got %v", e)
	}
	// Doubling a string is stopped by the value size limit, not memory.
	_, err = renderString(t, Options{MaxOutputBytes: 1 << 20}, `{% set s = 'xxxxxxxxxxxxxxxx' %}{% for i in 1..40 %}{% set s = s ~ s %}{% endfor %}{{ s|length }}`, nil)
	if e := asError(t, err); e.Diagnostics[0].Message != "a value is larger than the output limit of 1048576 bytes" {
		t.Errorf("got %v", e)
	}
	_, err = Compile(string(make([]byte, 100)), Options{MaxSourceBytes: 99})
	if e := asError(t, err); e.Error() != "line 1, column 1: template is 100 bytes, more than the limit of 99 bytes" {
		t.Errorf("got %v", e)
	}
	_, err = renderString(t, Options{}, `{{ "%99999999d"|format(1) }}`, nil)
	if err == nil {
		t.Error("huge width accepted")
	}
}

// TestLargeTemplates compiles sources near the size limit that stress the
// lexer, the parser and position lookups; each must stay fast.
func TestLargeTemplates(t *testing.T) {
	t.Parallel()
	cases := map[string]string{
		"many paths on one line": strings.Repeat("{{ a.b }}", 7000),
		"many unknown filters":   strings.Repeat("{{ a|zz }}", 6000),
		"deep ifs":               strings.Repeat("{% if a %}", 190) + strings.Repeat("{% endif %}", 190),
		"many JSON outputs":      "[" + strings.Repeat(`"{{ a }}",`, 6000) + "1]",
		"long non-ASCII line":    strings.Repeat("ž{{ a }}", 6000),
	}
	for name, src := range cases {
		start := time.Now()
		tpl, err := Compile(src[:min(len(src), DefaultMaxSourceBytes)], Options{Format: PLAIN})
		if err == nil {
			_, _ = tpl.Render(map[string]any{"a": "x"})
		} else if d := asError(t, err).Diagnostics; len(d) > maxDiagnostics {
			t.Errorf("%s: %d diagnostics", name, len(d))
		}
		if el := time.Since(start); el > 2*time.Second {
			t.Errorf("%s took %v", name, el)
		}
	}
}

// A set in a loop, its else branch included, is local to the loop, as in
// Twig (outputs recorded from Twig 3.5).
func TestLoopScopeOfSet(t *testing.T) {
	runRenderCases(t, Options{}, "", []renderCase{
		{"{% for x in [1] %}a{% else %}{% set blk %}B{% endset %}{% endfor %}{{ blk is defined ? 'def' : 'undef' }}", "aundef"},
		{"{% for x in [] %}a{% else %}{% set blk %}B{% endset %}{% endfor %}{{ blk is defined ? 'def' : 'undef' }}", "undef"},
		{"{% for x in [] %}{% else %}{% set v = 1 %}{{ v }}{% endfor %}{{ v is defined ? 'def' : 'undef' }}", "1undef"},
		{"{% for x in [1, 2] %}{% if blk is defined %}D{% endif %}{% set blk %}B{% endset %}{% endfor %}", "D"},
	})
}
