package template

import (
	"encoding/json"
	"math/rand/v2"
	"strconv"
	"strings"
)

// twigGen generates random templates over the grammar herald supports, for
// the differential test against real Twig (twig_diff_test.go). It is
// seeded, so a run is reproducible; it writes only what Twig accepts as
// well (Twig's number syntax, its string escapes) so that a difference is
// a difference of meaning, not of syntax.
type twigGen struct {
	r      *rand.Rand
	depth  int
	locals []string // names set or bound by for at this point
	// kept collects the kept differences (documented in doc.go) the
	// current template can run into.
	kept map[string]bool
}

func newTwigGen(seed uint64) *twigGen {
	return &twigGen{r: rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))}
}

func (g *twigGen) pick(xs ...string) string { return xs[g.r.IntN(len(xs))] }
func (g *twigGen) chance(p float64) bool    { return g.r.Float64() < p }

// diffContexts are the event data the generated templates render against.
// All share the same names, with different values: ordinary, unicode,
// numeric edge cases, and empties. Keys are written in sorted order, so
// Twig (insertion order) and herald (key order) iterate hashes alike.
func diffContexts() []string {
	base := []map[string]any{
		{ // ordinary
			"name": "Ana Frog", "word": "hello world", "n": json.Number("42"), "neg": json.Number("-7"),
			"f": json.Number("12.50"), "g": json.Number("0.1"), "e3": json.Number("1e3"), "zero": json.Number("0"),
			"big": json.Number("9007199254740993"), "huge": json.Number("12345678901234567890"),
			"t": true, "no": false, "nul": nil, "empty": "", "numstr": "17", "fstr": "3.50", "lead": "5 apples",
			"d": "1990-04-15", "dt": "2025-05-12T12:34:56Z", "dts": "2025-05-12 12:34:56", "dtz": "2025-05-12T23:30:00+02:00",
			"ts": json.Number("1747053296"), "tss": "1747053296",
			"list": []any{json.Number("3"), json.Number("1"), json.Number("2")}, "words": []any{"pear", "apple", "fig"},
			"prices": []any{json.Number("9.99"), json.Number("12.50"), json.Number("0.5")},
			"items": []any{
				map[string]any{"name": "Latte", "price": json.Number("3.20"), "qty": json.Number("2"), "sku": "L-1"},
				map[string]any{"name": "Bagel", "price": json.Number("2.5"), "qty": json.Number("1"), "sku": "B-7"},
			},
			"user": map[string]any{"email": "ana@example.com", "id": "bf428af0", "name": "ana frog",
				"param": map[string]any{"birth_date": "1990-04-15", "first_name": "Ana", "points": json.Number("1250")}},
			"html": "<b>Tom & \"Jerry\"</b>\nnext line", "csv": "a,b,,c", "pad": "  padded\t\n",
		},
		{ // unicode and markup
			"name": "Zoë Straße", "word": "ǆungla éclair o'neil mcdonald-smith", "n": json.Number("0"), "neg": json.Number("-0"),
			"f": json.Number("-0.0"), "g": json.Number("1.5e-7"), "e3": json.Number("2.5E+3"), "zero": json.Number("0.0"),
			"big": json.Number("-9223372036854775808"), "huge": json.Number("1.0E+20"),
			"t": false, "no": true, "nul": nil, "empty": "0", "numstr": "1e3", "fstr": " 4.5", "lead": "12abc",
			"d": "2024-02-29", "dt": "2024-12-31T23:59:59.5Z", "dts": "2024-01-01 00:00:00", "dtz": "2024-07-04T09:05:03-05:00",
			"ts": json.Number("0"), "tss": "86400",
			"list": []any{}, "words": []any{"ß", "Ärger", "été"},
			"prices": []any{json.Number("1e2"), json.Number("-3.75")},
			"items":  []any{map[string]any{"name": "Crème brûlée", "price": json.Number("7"), "qty": json.Number("3"), "sku": "C/1"}},
			"user": map[string]any{"email": "zoë@example.com", "id": "x\"y", "name": "ÉLODIE o'hara",
				"param": map[string]any{"birth_date": "2000-01-01", "first_name": "Élodie", "points": json.Number("0.5")}},
			"html": "a<br/>b &amp; c\r\nd", "csv": "x", "pad": "xx",
		},
		{ // numbers
			"name": "O'Brien", "word": "The QUICK brown-fox", "n": json.Number("7"), "neg": json.Number("-2"),
			"f": json.Number("0.333333333333333314"), "g": json.Number("100.0"), "e3": json.Number("1E-3"), "zero": json.Number("-0"),
			"big": json.Number("18446744073709551615"), "huge": json.Number("123456789012345678901234567890"),
			"t": true, "no": false, "nul": nil, "empty": "", "numstr": "-12", "fstr": "0.10", "lead": "3.5kg",
			"d": "1969-12-31", "dt": "1999-12-31T23:59:59+14:00", "dts": "2030-06-15 12:00:00", "dtz": "2025-03-30T01:30:00+01:00",
			"ts": json.Number("1700000000.75"), "tss": "-86400",
			"list": []any{json.Number("10"), json.Number("-2.5"), json.Number("3")}, "words": []any{"b"},
			"prices": []any{json.Number("1.005"), json.Number("2.675"), json.Number("1e21")},
			"items":  []any{},
			"user": map[string]any{"email": "", "id": json.Number("17"), "name": "",
				"param": map[string]any{"birth_date": "1985-10-26", "first_name": "", "points": json.Number("-40")}},
			"html": "<p>1 < 2 > 0</p>", "csv": ",", "pad": "\u00a0nbsp\u00a0",
		},
	}
	out := make([]string, len(base))
	for i, m := range base {
		b, err := json.Marshal(m)
		if err != nil {
			panic(err)
		}
		out[i] = string(b)
	}
	return out
}

var (
	genStrNames  = []string{"name", "word", "empty", "numstr", "fstr", "lead", "html", "csv", "pad", "user.name", "user.email", "user.param.first_name", "items[0].name", "user['param']['first_name']"}
	genNumNames  = []string{"n", "neg", "f", "g", "e3", "zero", "big", "huge", "user.param.points", "items[0].price", "items[0].qty", "prices[1]"}
	genDateNames = []string{"d", "dt", "dts", "dtz", "ts", "tss", "user.param.birth_date"}
	genListNames = []string{"list", "words", "prices", "items", "user.param"}
	genAnyNames  = []string{"t", "no", "nul", "missing", "user.missing", "user.param.nope"}
)

// template generates a whole template.
func (g *twigGen) template() string {
	g.locals = nil
	g.kept = map[string]bool{}
	var b strings.Builder
	n := 1 + g.r.IntN(4)
	for i := 0; i < n; i++ {
		g.item(&b)
	}
	return b.String()
}

func (g *twigGen) text() string {
	return g.pick("", "", " ", "\n", "x", "a b", "\n\n", " \n", "\t", "é", ": ", ",", "\r\n", "line\n", "  ", "-", "~", "}", "#", "%", "\n  ")
}

func (g *twigGen) item(b *strings.Builder) {
	b.WriteString(g.text())
	if g.depth > 2 {
		g.output(b)
		b.WriteString(g.text())
		return
	}
	g.depth++
	defer func() { g.depth-- }()
	switch k := g.r.IntN(20); {
	case k < 8:
		g.output(b)
	case k < 10:
		b.WriteString("{%" + g.openTrim() + " if " + g.cond() + " " + g.closeTrim() + "%}")
		g.item(b)
		if g.chance(0.3) {
			b.WriteString("{%" + g.openTrim() + " elseif " + g.cond() + " " + g.closeTrim() + "%}")
			g.item(b)
		}
		if g.chance(0.5) {
			b.WriteString("{%" + g.openTrim() + " else " + g.closeTrim() + "%}")
			g.item(b)
		}
		b.WriteString("{%" + g.openTrim() + " endif " + g.closeTrim() + "%}")
	case k < 12:
		v := g.pick("x", "item", "v")
		head := v
		if g.chance(0.3) {
			head = "k, " + v
		}
		b.WriteString("{%" + g.openTrim() + " for " + head + " in " + g.seq() + " " + g.closeTrim() + "%}")
		saved := g.locals
		g.locals = append(append([]string(nil), g.locals...), v, "loop."+g.pick("index", "index0", "first", "last", "length", "revindex"))
		if strings.HasPrefix(head, "k,") {
			g.locals = append(g.locals, "k")
		}
		g.item(b)
		if g.chance(0.3) {
			b.WriteString(g.pick("", ",", "{{ loop.last ? '' : ', ' }}", "{% if not loop.last %};{% endif %}"))
		}
		g.locals = saved
		if g.chance(0.3) {
			b.WriteString("{% else %}")
			g.item(b)
		}
		b.WriteString("{%" + g.openTrim() + " endfor " + g.closeTrim() + "%}")
	case k < 14:
		name := g.pick("a", "b", "total")
		b.WriteString("{%" + g.openTrim() + " set " + name + " = " + g.expr(0) + " " + g.closeTrim() + "%}")
		g.locals = append(g.locals, name)
		g.item(b)
	case k < 15:
		b.WriteString("{#" + g.pick("", "-") + " " + g.pick("note", "{{ x }}", "a\nb") + " " + g.pick("", "-") + "#}")
	case k < 16:
		name := g.pick("blk", "msg")
		b.WriteString("{% set " + name + " %}")
		g.item(b)
		b.WriteString("{% endset %}")
		g.locals = append(g.locals, name)
		g.item(b)
	case k < 17:
		b.WriteString("{% apply " + g.pick("upper", "lower", "trim", "title", "striptags", "replace({'a': 'o'})") + " %}")
		g.item(b)
		b.WriteString("{% endapply %}")
	case k < 18:
		b.WriteString("{% with {'w': " + g.expr(1) + "} " + g.pick("", "only") + " %}{{ w }}")
		if g.chance(0.5) {
			b.WriteString("{{ name }}")
		}
		b.WriteString("{% endwith %}")
	case k < 19:
		b.WriteString("{% verbatim %}{{ not " + g.pick("parsed", "x") + " }}{% endverbatim %}" + g.pick("", "\n"))
	default:
		b.WriteString("{% macro m(a, b) %}[{{ a }}|{{ b|default('d') }}]{% endmacro %}")
		b.WriteString(g.pick("", "\n"))
		b.WriteString("{% import _self as mac %}{{ mac.m(" + g.expr(1) + ") }}")
	}
	b.WriteString(g.text())
}

func (g *twigGen) openTrim() string  { return g.pick("", "", "", "-", "~") }
func (g *twigGen) closeTrim() string { return g.pick("", "", "", "-", "~") }

func (g *twigGen) output(b *strings.Builder) {
	b.WriteString("{{" + g.pick("", "", "", "-", "~") + " " + g.expr(0) + " " + g.pick("", "", "", "-", "~") + "}}")
}

// cond generates a condition.
func (g *twigGen) cond() string {
	switch g.r.IntN(9) {
	case 0:
		return g.name()
	case 1:
		return g.expr(2) + " " + g.pick("==", "!=", "<", ">", "<=", ">=") + " " + g.expr(2)
	case 2:
		return g.name() + " is " + g.pick("", "not ") + g.pick("defined", "null", "empty", "even", "odd", "iterable", "divisible by(3)", "same as(0)")
	case 3:
		return g.expr(2) + " " + g.pick("in", "not in") + " " + g.pick("words", "list", "name", "'hello world'", "[1, 2, '3']")
	case 4:
		return g.cond() + " " + g.pick("and", "or") + " " + g.cond()
	case 5:
		return "not " + g.name()
	case 6:
		return g.strAtom() + " " + g.pick("starts with", "ends with") + " " + g.pick("'A'", "'a'", "'d'", "''")
	case 7:
		return "(" + g.pick("list", "words", "prices", "items", "[]") + " " + g.pick("has some", "has every") + " x => " + g.pick("x > 1", "x is not empty", "x.name is defined") + ")"
	}
	return g.name() + " matches '/^[a-z]/i'"
}

func (g *twigGen) seq() string {
	return g.pick("list", "words", "prices", "items", "user.param", "user", "missing", "[1, 2, 3]", "1..3", "'a'..'c'",
		"range(1, 3)", "{'b': 1, 'a': 2}", "words|sort", "list|reverse", "items|column('name')", "words|batch(2)", "[]", "nul")
}

// name is a variable path, sometimes a local.
func (g *twigGen) name() string {
	if len(g.locals) > 0 && g.chance(0.35) {
		l := g.locals[g.r.IntN(len(g.locals))]
		if l == "item" && g.chance(0.5) {
			return "item." + g.pick("name", "price", "qty")
		}
		return l
	}
	switch g.r.IntN(5) {
	case 0:
		return g.pick(genStrNames...)
	case 1:
		return g.pick(genNumNames...)
	case 2:
		return g.pick(genDateNames...)
	case 3:
		return g.pick(genListNames...)
	}
	return g.pick(genAnyNames...)
}

func (g *twigGen) strLit() string {
	return g.pick("'abc'", "'Hello'", "''", "' x '", "'a\\tb'", `"q\"uote"`, `"line\nnext"`, "'it\\'s'", "'back\\\\slash'",
		"'Y-m-d\\TH:i'", "'\\d'", `"tab\tend"`, "'ß'", "'Ünïcødé'", "'42'", "'3.14'", "'0'", "' 7 '", "'1e3'", "'a,b,c'", "'%s-%d'",
		`"#{name}!"`, `"x#{1 + 2}y"`, `"# not interp"`, "'{{ not a tag }}'", "'<i>'", "'o\\x41k'", "'\\101'")
}

func (g *twigGen) numLit() string {
	return g.pick("0", "1", "2", "3", "7", "10", "42", "100", "1.5", "0.1", "2.50", "1.0", "3.14159", "1e+3", "2.5E-2", "1.0e+20",
		"9007199254740993", "9223372036854775807", "99999999999999999999", "0.5", "12.345")
}

func (g *twigGen) strAtom() string {
	if g.chance(0.5) {
		return g.strLit()
	}
	return g.pick(genStrNames...)
}

// expr generates an expression; level limits the recursion.
func (g *twigGen) expr(level int) string {
	if level > 3 {
		return g.atom()
	}
	switch k := g.r.IntN(24); {
	case k < 6:
		return g.atom()
	case k < 12:
		return g.filtered(level)
	case k < 14:
		return g.expr(level+1) + " " + g.pick("+", "-", "*", "/", "//", "%", "**", "~", "~", "b-and", "b-or", "b-xor") + " " + g.expr(level+1)
	case k < 15:
		return "(" + g.expr(level+1) + " " + g.pick("+", "-", "*", "~") + " " + g.expr(level+1) + ")"
	case k < 16:
		return g.pick("-", "not ", "- ", "+") + g.atom()
	case k < 17:
		return "-" + g.numLit() + " ** " + g.pick("2", "0.5", "3")
	case k < 19:
		return g.cond() + " ? " + g.expr(level+1) + " : " + g.expr(level+1)
	case k < 20:
		return g.name() + " " + g.pick("??", "?:") + " " + g.expr(level+1)
	case k < 21:
		return "(" + g.cond() + ")"
	case k < 23:
		return g.function(level)
	}
	return g.pick("[1, 'a', null]", "{'k': 'v', 'a': 1}", "["+g.expr(level+1)+", "+g.expr(level+1)+"]")
}

func (g *twigGen) atom() string {
	switch g.r.IntN(6) {
	case 0:
		return g.strLit()
	case 1:
		return g.numLit()
	case 2:
		return g.pick("true", "false", "null")
	}
	return g.name()
}

func (g *twigGen) function(level int) string {
	switch g.r.IntN(7) {
	case 0:
		return "max(" + g.pick("list", "prices", "1, 5, 3", "[2, 10]", "'apple', 'pear'", "n, 3") + ")"
	case 1:
		return "min(" + g.pick("list", "prices", "1, 5, 3", "[2, 10]", "'apple', 'pear'", "n, 3") + ")"
	case 2:
		return "range(" + g.pick("1, 5", "0, 10, 3", "'a', 'e'", "5, 1", "0, 1, 0.25") + ")|join(',')"
	case 3:
		return "cycle(" + g.pick("['odd', 'even']", "words") + ", " + g.pick("0", "1", "5", "n") + ")"
	case 4:
		return "attribute(" + g.pick("user", "items[0]", "user.param") + ", " + g.pick("'name'", "'email'", "'first_name'", "'nope'") + ")"
	case 5:
		return "date(" + g.pick(genDateNames...) + ")|date(" + g.dateFormat() + ")"
	}
	return "date(" + g.pick(genDateNames...) + ", " + g.zone() + ")|date(" + g.dateFormat() + ")"
}

func (g *twigGen) dateFormat() string {
	return g.pick("'Y-m-d'", "'U'", "'c'", "'r'", "'Y-m-d\\\\TH:i:sP'", "'Y-m-d\\TH:i'", "'D, d M Y H:i:s O'", "'l jS \\\\of F Y h:i:s A'",
		"'N w z t L o W'", "'g G h H i s u v'", "'e T P O'", "'y n j a'", "'M'", "'S'", "\"H\\\\hi\"")
}

func (g *twigGen) zone() string {
	return g.pick("'UTC'", "'Europe/Berlin'", "'America/New_York'", "'Asia/Kolkata'", "'+02:00'", "'-0530'", "'Australia/Sydney'", "false")
}

// filtered is a value followed by one or two filters.
func (g *twigGen) filtered(level int) string {
	in := g.atom()
	if g.chance(0.3) {
		in = "(" + g.expr(level+1) + ")"
	}
	s := in + "|" + g.filter(level)
	if g.chance(0.3) {
		s += "|" + g.filter(level)
	}
	return s
}

func (g *twigGen) filter(level int) string {
	switch g.r.IntN(46) {
	case 0:
		return "upper"
	case 1:
		return "lower"
	case 2:
		return "capitalize"
	case 3:
		return "title"
	case 4:
		return g.pick("trim", "trim('x')", "trim(' ', 'left')", "trim(null, 'right')", "trim('\\n ', 'both')")
	case 5:
		return "length"
	case 6:
		return g.pick("join", "join(', ')", "join(', ', ' and ')", "join('')")
	case 7:
		return g.pick("split(',')", "split('')", "split(' ', 2)", "split('', 2)", "split(',', -1)")
	case 8:
		return "first"
	case 9:
		return "last"
	case 10:
		return "keys|join(',')"
	case 11:
		return g.pick("slice(1, 2)", "slice(0, 1)", "slice(-2)", "slice(1)", "slice(-3, 2)")
	case 12:
		return g.pick("replace({'a': 'o'})", "replace({'o': '0', 'l': '1'})", "replace({'%name%': name})", "replace({' ': ''})")
	case 13:
		return g.pick("round", "round(1)", "round(2, 'floor')", "round(0, 'ceil')", "round(-1)", "round(1, 'common')")
	case 14:
		return g.pick("number_format", "number_format(2)", "number_format(2, ',', '.')", "number_format(1, '.', ' ')", "number_format(0, '', '')")
	case 15:
		return "abs"
	case 16:
		return g.pick("format(1, 'x')", "format(name)", "format(f)", "format(3.5, 2)")
	case 17:
		return "json_encode"
	case 18:
		return "url_encode"
	case 19:
		return g.pick("e", "escape", "e('html')", "e('js')", "e('url')", "e('css')", "e('html_attr')")
	case 20:
		return g.pick("default('none')", "default", "default(0)", "default(name)")
	case 21:
		return "date(" + g.dateFormat() + ")"
	case 22:
		return "date(" + g.dateFormat() + ", " + g.zone() + ")"
	case 23:
		return "reverse"
	case 24:
		return "sort|join(' ')"
	case 25:
		return "merge(" + g.pick("[1, 2]", "['z']", "{'x': 1}", "words") + ")|json_encode"
	case 26:
		return "striptags"
	case 27:
		return "nl2br"
	case 28:
		return "column('name')|join('/')"
	case 29:
		return g.pick("batch(2)|map(b => b|join('+'))|join(',')", "batch(2, 'x')|last|join('+')", "batch(3)|length")
	case 30:
		return "date_modify('" + g.pick("+1 day", "-2 hours", "+1 month", "last day of this month", "+30 minutes") + "')|date('Y-m-d H:i')"
	case 31:
		return "map(x => " + g.pick("x ~ '!'", "x * 2", "x|upper", "x.name ?? x") + ")|join(',')"
	case 32:
		return "filter(x => " + g.pick("x > 1", "x is not empty", "x != 'fig'") + ")|join(',')"
	case 33:
		return "reduce((c, x) => c + x, " + g.pick("0", "10") + ")"
	case 34:
		return "sort((a, b) => " + g.pick("a < b ? -1 : 1", "b > a ? 1 : -1") + ")|join(',')"
	case 35:
		return g.pick("raw", "e|raw")
	case 36:
		return "first|default('-')"
	case 37:
		return "length > 2 ? 'long' : 'short'"
	case 38:
		return "upper|lower"
	case 39:
		return "format"
	case 40:
		return "keys|first"
	case 41:
		return "json_encode|json_encode"
	case 42:
		return g.pick("spaceless", "nl2br|striptags")
	case 43:
		return "split(',')|first"
	case 44:
		return "abs|round(1)"
	}
	return "lower|capitalize"
}

// fmtSprintf builds a format() case; kept separate so the format strings
// cover PHP's sprintf conversions.
func (g *twigGen) sprintf() string {
	f := g.pick("'%d'", "'%05.2f'", "'%s|%5s|%-5s|'", "'%x %X %o %b'", "'%e'", "'%+d'", "'%.3e'", "'%u'", "'%c'", "'%%'", "'%10.4f'", "'%'\\''*10s'")
	return "{{ " + f + "|format(" + g.pick(genNumNames...) + ", " + g.pick(genNumNames...) + ") }}"
}

// caseCount is how many generated cases the differential test renders.
func genCases(seed uint64, n int) []string {
	g := newTwigGen(seed)
	out := make([]string, 0, n)
	for i := 0; i < n; i++ {
		if i%25 == 0 {
			out = append(out, g.sprintf())
			continue
		}
		out = append(out, g.template())
	}
	return out
}

var _ = strconv.Itoa
