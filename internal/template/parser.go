package template

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// maxNesting bounds both tag nesting and expression nesting, so a hostile
// template cannot exhaust the stack.
const maxNesting = 200

// parseError stops parsing; Compile turns it into an *Error.
type parseError struct {
	pos int
	msg string
}

type parser struct {
	t     *Template
	toks  []token
	p     int
	depth int
	diags []Diagnostic // non-fatal problems (unknown filters), reported together
	slots map[string]int
	names []*nameExpr
	// setStack collects, per enclosing for loop, the slots set inside it.
	setStack  [][]int
	hidden    int // counter for hidden locals (apply)
	macros    map[string]*macroDef
	aliases   map[string]bool   // {% import _self as alias %}
	fromNames map[string]string // {% from _self import name as local %}: local → macro
	calls     []*macroCallExpr
}

// knownTags are the tags herald understands; unsupportedTags are Twig tags
// it refuses with an explanation rather than "unknown".
var knownTags = []string{"if", "elseif", "else", "endif", "for", "endfor", "set", "endset", "verbatim", "endverbatim",
	"apply", "endapply", "with", "endwith", "macro", "endmacro", "import", "from"}

var unsupportedTags = map[string]string{
	"include": "a payload template is self-contained", "extends": "a payload template is self-contained",
	"embed": "a payload template is self-contained", "use": "a payload template is self-contained",
	"block": "a payload template is self-contained", "filter": "use {% apply %} (Twig 3's name for it)",
	"autoescape": "escaping is decided by the payload type and position",
	"spaceless":  "use whitespace control ({{- -}}) instead", "do": "do is not supported", "flush": "flush is not supported",
	"sandbox": "templates always run sandboxed", "deprecated": "deprecated is not supported", "cache": "cache is not supported",
	"guard": "guard is not supported", "types": "types is not supported",
}

func (t *Template) parse() (err error) {
	toks, lerr := lex(t.src)
	if lerr != nil {
		return t.errorAt(lerr.pos, lerr.msg)
	}
	p := &parser{t: t, toks: toks, slots: map[string]int{}, macros: map[string]*macroDef{},
		aliases: map[string]bool{}, fromNames: map[string]string{}}
	defer func() {
		if r := recover(); r != nil {
			pe, ok := r.(*parseError)
			if !ok {
				panic(r)
			}
			diags := append(p.diags, t.diag(pe.pos, pe.msg))
			err = &Error{Diagnostics: sortDiags(diags)}
		}
	}()
	nodes, stop := p.parseNodes(nil)
	if stop.kind != tkEOF {
		p.fail(stop.pos, "unexpected tag")
	}
	p.resolveMacros()
	if len(p.diags) > 0 {
		return &Error{Diagnostics: sortDiags(p.diags)}
	}
	t.slotNames = p.slots
	for _, m := range p.macros {
		t.macros = append(t.macros, m)
	}
	sort.Slice(t.macros, func(i, j int) bool { return t.macros[i].pos < t.macros[j].pos })
	for _, n := range p.names {
		if s, ok := p.slots[n.name]; ok {
			n.slot = s
		}
	}
	t.root = nodes
	t.nslots = len(p.slots)
	if err := t.analyzeContexts(); err != nil {
		return err
	}
	t.paths = collectPaths(t)
	t.sizeHint = estimateSize(nodes)
	return nil
}

func sortDiags(d []Diagnostic) []Diagnostic {
	sort.SliceStable(d, func(i, j int) bool {
		return d[i].Line < d[j].Line || d[i].Line == d[j].Line && d[i].Column < d[j].Column
	})
	return d
}

// maxDiagnostics bounds how many non-fatal problems one Compile collects.
const maxDiagnostics = 20

func (p *parser) addDiag(pos int, msg string) {
	if len(p.diags) < maxDiagnostics {
		p.diags = append(p.diags, p.t.diag(pos, msg))
	}
}

// estimateSize guesses the output size: the literal text plus some room for
// each value, so most renders need no buffer growth.
func estimateSize(nodes []node) int {
	n := 0
	var walk func([]node)
	walk = func(ns []node) {
		for _, nd := range ns {
			switch x := nd.(type) {
			case *textNode:
				n += len(x.text)
			case *outputNode:
				n += 48
			case *ifNode:
				for _, b := range x.bodies {
					walk(b)
				}
				walk(x.els)
			case *forNode:
				walk(x.body)
				walk(x.body)
				walk(x.els)
			}
		}
	}
	walk(nodes)
	if n < 64 {
		n = 64
	}
	return n
}

func (p *parser) fail(pos int, format string, args ...any) {
	panic(&parseError{pos: pos, msg: fmt.Sprintf(format, args...)})
}

func (p *parser) peek() token { return p.toks[p.p] }
func (p *parser) peekAt(k int) token {
	if p.p+k < len(p.toks) {
		return p.toks[p.p+k]
	}
	return p.toks[len(p.toks)-1]
}
func (p *parser) next() token {
	t := p.toks[p.p]
	if t.kind != tkEOF {
		p.p++
	}
	return t
}

func (p *parser) isOp(val string) bool {
	t := p.peek()
	return t.kind == tkOp && t.val == val
}

func (p *parser) isName(val string) bool {
	t := p.peek()
	return t.kind == tkName && t.val == val
}

func (p *parser) expectOp(val string) token {
	t := p.next()
	if t.kind != tkOp || t.val != val {
		p.fail(t.pos, "expected %q, found %s", val, t)
	}
	return t
}

func (p *parser) expectTagClose(tag string) {
	t := p.next()
	if t.kind != tkTagClose {
		p.fail(t.pos, "unexpected %s in {%% %s %%}: expected \"%%}\"", t, tag)
	}
}

func (p *parser) enter(pos int) {
	p.depth++
	if p.depth > maxNesting {
		p.fail(pos, "template is nested too deeply (more than %d levels)", maxNesting)
	}
}

func (p *parser) leave() { p.depth-- }

// openBlock describes the tag whose body is being parsed.
type openBlock struct {
	name string
	pos  int
}

var closerOf = map[string]string{"if": "endif", "for": "endfor", "set": "endset", "apply": "endapply", "with": "endwith", "macro": "endmacro"}

// parseNodes parses until one of the stop tags of open (or EOF at the top
// level). It returns the stop tag's name token, the tag open delimiter
// already consumed.
func (p *parser) parseNodes(open *openBlock, stops ...string) ([]node, token) {
	var nodes []node
	for {
		tok := p.next()
		switch tok.kind {
		case tkEOF:
			if open != nil {
				p.fail(open.pos, "{%% %s %%} is never closed: expected {%% %s %%}", open.name, closerOf[open.name])
			}
			return nodes, tok
		case tkText:
			nodes = append(nodes, &textNode{text: tok.val, pos: tok.pos})
		case tkVarOpen:
			if p.peek().kind == tkVarClose {
				p.fail(p.peek().pos, "empty {{ }}: expected an expression")
			}
			exprPos := p.peek().pos
			x := p.parseExpression(0)
			closeTok := p.next()
			if closeTok.kind != tkVarClose {
				p.fail(closeTok.pos, "unexpected %s: expected \"}}\"", closeTok)
			}
			out := &outputNode{x: x, pos: tok.pos, exprPos: exprPos}
			if f, ok := x.(*filterExpr); ok && f.name == "raw" {
				out.raw = true
			}
			nodes = append(nodes, out)
		case tkTagOpen:
			nameTok := p.next()
			if nameTok.kind != tkName {
				p.fail(nameTok.pos, "expected a tag name after \"{%%\", found %s", nameTok)
			}
			name := nameTok.val
			for _, s := range stops {
				if name == s {
					return nodes, nameTok
				}
			}
			switch name {
			case "if":
				nodes = append(nodes, p.parseIf(tok.pos))
			case "for":
				nodes = append(nodes, p.parseFor(tok.pos))
			case "set":
				nodes = append(nodes, p.parseSet(tok.pos))
			case "apply":
				nodes = append(nodes, p.parseApply(tok.pos))
			case "with":
				nodes = append(nodes, p.parseWith(tok.pos))
			case "macro":
				p.parseMacro(tok.pos)
			case "import":
				p.parseImport(tok.pos)
			case "from":
				p.parseFrom(tok.pos)
			case "elseif", "else", "endif", "endfor", "endverbatim", "endset", "endapply", "endwith", "endmacro":
				p.unexpectedTag(nameTok, open)
			default:
				if why, ok := unsupportedTags[name]; ok {
					p.fail(nameTok.pos, "tag %q is not supported: %s", name, why)
				}
				if s := suggest(name, knownTags); s != "" {
					p.fail(nameTok.pos, "unknown tag %q — did you mean %q?", name, s)
				}
				p.fail(nameTok.pos, "unknown tag %q", name)
			}
		default:
			p.fail(tok.pos, "unexpected %s", tok)
		}
	}
}

func (p *parser) unexpectedTag(nameTok token, open *openBlock) {
	name := nameTok.val
	opener := map[string]string{"elseif": "if", "else": "if or for", "endif": "if", "endfor": "for", "endverbatim": "verbatim",
		"endset": "set", "endapply": "apply", "endwith": "with", "endmacro": "macro"}[name]
	if open == nil {
		p.fail(nameTok.pos, "unexpected {%% %s %%}: no {%% %s %%} is open", name, opener)
	}
	line, col := p.t.position(open.pos)
	p.fail(nameTok.pos, "unexpected {%% %s %%}: the {%% %s %%} at line %d, column %d must be closed first with {%% %s %%}",
		name, open.name, line, col, closerOf[open.name])
}

func (p *parser) parseIf(pos int) node {
	p.enter(pos)
	defer p.leave()
	n := &ifNode{pos: pos}
	open := &openBlock{name: "if", pos: pos}
	cond := p.parseExpression(0)
	p.expectTagClose("if")
	for {
		body, stop := p.parseNodes(open, "elseif", "else", "endif")
		n.conds = append(n.conds, cond)
		n.bodies = append(n.bodies, body)
		switch stop.val {
		case "elseif":
			cond = p.parseExpression(0)
			p.expectTagClose("elseif")
			continue
		case "else":
			p.expectTagClose("else")
			els, _ := p.parseNodes(open, "endif")
			n.els = els
			p.expectTagClose("endif")
		case "endif":
			p.expectTagClose("endif")
		}
		return n
	}
}

func (p *parser) slotFor(name string) int {
	if s, ok := p.slots[name]; ok {
		return s
	}
	s := len(p.slots)
	p.slots[name] = s
	return s
}

func (p *parser) expectName(what string) token {
	t := p.next()
	if t.kind != tkName {
		p.fail(t.pos, "expected %s, found %s", what, t)
	}
	if isReserved(t.val) {
		p.fail(t.pos, "%q cannot be used as a variable name", t.val)
	}
	return t
}

func isReserved(name string) bool {
	switch strings.ToLower(name) {
	case "true", "false", "null", "none", "and", "or", "not", "in", "is":
		return true
	}
	return false
}

func (p *parser) parseFor(pos int) node {
	p.enter(pos)
	defer p.leave()
	n := &forNode{pos: pos, keySlot: -1}
	first := p.expectName("a loop variable name")
	if p.isOp(",") {
		p.next()
		second := p.expectName("a loop variable name")
		n.keyName, n.valName = first.val, second.val
	} else {
		n.valName = first.val
	}
	if !p.isName("in") {
		p.fail(p.peek().pos, "expected \"in\" in {%% for %%}, found %s", p.peek())
	}
	p.next()
	n.seq = p.parseExpression(0)
	p.expectTagClose("for")
	if n.keyName != "" {
		n.keySlot = p.slotFor(n.keyName)
	}
	n.valSlot = p.slotFor(n.valName)
	n.loopSlot = p.slotFor("loop")
	open := &openBlock{name: "for", pos: pos}
	p.setStack = append(p.setStack, nil)
	body, stop := p.parseNodes(open, "else", "endfor")
	n.body = body
	if stop.val == "else" {
		// The else branch is inside the loop's scope too, as in Twig.
		p.expectTagClose("else")
		n.els, _ = p.parseNodes(open, "endfor")
	}
	n.bodySets = p.setStack[len(p.setStack)-1]
	p.setStack = p.setStack[:len(p.setStack)-1]
	// Sets inside a nested loop are also sets inside this one.
	if len(p.setStack) > 0 {
		p.setStack[len(p.setStack)-1] = append(p.setStack[len(p.setStack)-1], n.bodySets...)
	}
	p.expectTagClose("endfor")
	return n
}

func (p *parser) parseSet(pos int) node {
	n := &setNode{pos: pos}
	for {
		t := p.expectName("a variable name")
		if t.val == "loop" || t.val == "_self" || t.val == "_context" {
			p.fail(t.pos, "%q cannot be set", t.val)
		}
		n.names = append(n.names, t.val)
		if !p.isOp(",") {
			break
		}
		p.next()
	}
	if p.peek().kind == tkTagClose {
		return p.parseSetBlock(pos, n.names, p.peek().pos)
	}
	p.expectOp("=")
	for {
		n.vals = append(n.vals, p.parseExpression(0))
		if !p.isOp(",") {
			break
		}
		p.next()
	}
	if len(n.vals) != len(n.names) {
		p.fail(pos, "set assigns %d values to %d names", len(n.vals), len(n.names))
	}
	p.expectTagClose("set")
	for _, name := range n.names {
		s := p.slotFor(name)
		n.slots = append(n.slots, s)
		if len(p.setStack) > 0 {
			p.setStack[len(p.setStack)-1] = append(p.setStack[len(p.setStack)-1], s)
		}
	}
	return n
}

// binaryOp returns the binary operator at the current token (which may be
// two words) and how many tokens it spans.
func (p *parser) binaryOp() (string, int) {
	t := p.peek()
	switch t.kind {
	case tkOp:
		if _, ok := binaryOps[t.val]; ok {
			return t.val, 1
		}
	case tkName:
		n := p.peekAt(1)
		switch t.val {
		case "not":
			if n.kind == tkName && n.val == "in" {
				return "not in", 2
			}
		case "is":
			if n.kind == tkName && n.val == "not" {
				return "is not", 2
			}
			return "is", 1
		case "starts", "ends":
			if n.kind == tkName && n.val == "with" {
				return t.val + " with", 2
			}
		case "has":
			if n.kind == tkName && (n.val == "some" || n.val == "every") {
				return "has " + n.val, 2
			}
		case "b":
			// b-and, b-or, b-xor: three tokens written without spaces
			n2 := p.peekAt(2)
			if n.kind == tkOp && n.val == "-" && n.pos == t.pos+1 && n2.kind == tkName && n2.pos == n.pos+1 {
				switch n2.val {
				case "and", "or", "xor":
					return "b-" + n2.val, 3
				}
			}
		case "or", "and", "in", "matches":
			return t.val, 1
		}
	}
	return "", 0
}

// parseExpression parses an expression whose binary operators bind at
// least as tightly as minPrec (precedence climbing, as in Twig).
func (p *parser) parseExpression(minPrec int) expr {
	start := p.peek()
	p.enter(start.pos)
	defer p.leave()
	var left expr
	if u, ok := unaryOps[start.val]; ok && (start.kind == tkOp || start.kind == tkName && start.val == "not") {
		p.next()
		operand := p.parseExpression(u.prec)
		left = p.parsePostfix(&unaryExpr{op: u.op, x: operand, pos: start.pos})
	} else {
		left = p.parsePrimary()
	}
	for {
		opText, width := p.binaryOp()
		if opText == "" {
			break
		}
		op := binaryOps[opText]
		if op.prec < minPrec {
			break
		}
		opTok := p.peek()
		p.p += width
		if op.op == opIs || op.op == opIsNot {
			left = p.parseTest(left, op.op == opIsNot, opTok.pos)
			continue
		}
		nextPrec := op.prec + 1
		if op.right {
			nextPrec = op.prec
		}
		if op.op == opHasSome || op.op == opHasEvery {
			a := p.parseArrow()
			if a == nil {
				p.fail(p.peek().pos, "%q needs an arrow function, as in xs %s x => x > 1", opText, opText)
			}
			left = &binaryExpr{op: op.op, l: left, r: a, pos: opTok.pos}
			continue
		}
		right := p.parseExpression(nextPrec)
		if u, ok := left.(*unaryExpr); ok && op.op == opPow && (u.op == opNeg || u.op == opPos) {
			// Twig compiles -a ** b to PHP's -a ** b, which is -(a ** b).
			u.x = &binaryExpr{op: op.op, l: u.x, r: right, pos: opTok.pos}
			continue
		}
		if op.op == opMatches {
			p.checkRegex(right)
		}
		left = &binaryExpr{op: op.op, l: left, r: right, pos: opTok.pos}
	}
	if minPrec == 0 {
		for p.isOp("?") || p.isOp("?:") {
			q := p.next()
			if q.val == "?:" {
				b := p.parseExpression(0)
				left = &condExpr{cond: left, b: b, pos: q.pos}
				continue
			}
			a := p.parseExpression(0)
			var b expr
			if p.isOp(":") {
				p.next()
				b = p.parseExpression(0)
			}
			left = &condExpr{cond: left, a: a, b: b, pos: q.pos}
		}
	}
	return left
}

func (p *parser) parseTest(x expr, neg bool, pos int) expr {
	nameTok := p.next()
	if nameTok.kind != tkName {
		p.fail(nameTok.pos, "expected a test name after \"is\", found %s", nameTok)
	}
	name := nameTok.val
	// Two-word tests.
	if (name == "same" && p.isName("as")) || (name == "divisible" && p.isName("by")) {
		name += " " + p.next().val
	}
	def, ok := testTable[name]
	if !ok {
		if s := suggest(name, testNames()); s != "" {
			p.fail(nameTok.pos, "unknown test %q — did you mean %q?", name, s)
		}
		p.fail(nameTok.pos, "unknown test %q", name)
	}
	te := &testExpr{name: name, def: def, x: x, neg: neg, pos: nameTok.pos}
	if p.isOp("(") {
		te.args = p.parseArgs()
	} else if def.args > 0 && p.peek().kind != tkTagClose && p.peek().kind != tkVarClose {
		// `is divisible by 3` without parentheses
		te.args = []expr{p.parsePrimary()}
	}
	if len(te.args) != def.args {
		p.fail(nameTok.pos, "test %q takes %d argument(s), got %d", name, def.args, len(te.args))
	}
	return te
}

func (p *parser) parseArgs() []expr {
	p.expectOp("(")
	var args []expr
	for !p.isOp(")") {
		if p.peek().kind == tkName && p.peekAt(1).kind == tkOp && p.peekAt(1).val == "=" {
			p.fail(p.peek().pos, "named arguments are not supported: pass %q by position", p.peek().val)
		}
		if a := p.parseArrow(); a != nil {
			args = append(args, a)
		} else {
			args = append(args, p.parseExpression(0))
		}
		if !p.isOp(",") {
			break
		}
		p.next()
	}
	p.expectOp(")")
	return args
}

func (p *parser) parsePrimary() expr {
	t := p.next()
	var e expr
	switch t.kind {
	case tkName:
		switch strings.ToLower(t.val) {
		case "true":
			e = &literal{v: true, pos: t.pos}
		case "false":
			e = &literal{v: false, pos: t.pos}
		case "null", "none":
			e = &literal{v: nil, pos: t.pos}
		default:
			if p.isOp("(") {
				if m, ok := p.fromNames[t.val]; ok {
					e = p.parseMacroCall(m, t.pos)
					break
				}
				def, ok := funcTable[t.val]
				if !ok {
					if _, isFilter := filterTable[t.val]; isFilter {
						p.fail(t.pos, "unknown function %q: %s is a filter, written x | %s", t.val, t.val, t.val)
					}
					if s := suggest(t.val, funcNames()); s != "" {
						p.fail(t.pos, "unknown function %q — did you mean %q?", t.val, s)
					}
					p.fail(t.pos, "unknown function %q", t.val)
				}
				f := &funcExpr{name: t.val, def: def, pos: t.pos}
				f.args = p.parseArgs()
				if len(f.args) < def.minArgs || def.maxArgs >= 0 && len(f.args) > def.maxArgs {
					p.fail(t.pos, "function %q takes %s, got %d", t.val, arityText(def.minArgs, def.maxArgs), len(f.args))
				}
				e = f
				break
			}
			if isReserved(t.val) {
				p.fail(t.pos, "unexpected %q: expected a value", t.val)
			}
			n := &nameExpr{name: t.val, slot: -1, pos: t.pos}
			p.names = append(p.names, n)
			e = n
		}
	case tkNumber:
		e = &literal{v: parseNumberLiteral(t.val), pos: t.pos}
	case tkString:
		e = &literal{v: t.val, pos: t.pos}
	case tkOp:
		switch t.val {
		case "(":
			e = p.parseExpression(0)
			p.expectOp(")")
		case "[":
			a := &arrayExpr{pos: t.pos}
			for !p.isOp("]") {
				a.elems = append(a.elems, p.parseExpression(0))
				if !p.isOp(",") {
					break
				}
				p.next()
			}
			p.expectOp("]")
			e = a
		case "{":
			e = p.parseHash(t.pos)
		default:
			p.fail(t.pos, "unexpected %s: expected a value", t)
		}
	case tkVarClose, tkTagClose:
		p.fail(t.pos, "unexpected %s: expected a value", t)
	default:
		p.fail(t.pos, "unexpected %s: expected a value", t)
	}
	return p.parsePostfix(e)
}

func parseNumberLiteral(s string) any {
	if !strings.ContainsAny(s, ".eE") {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return i
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return f // ±Inf for huge literals
	}
	return f
}

func (p *parser) parseHash(pos int) expr {
	h := &hashExpr{pos: pos}
	for !p.isOp("}") {
		k := p.next()
		var key expr
		switch {
		case k.kind == tkString:
			key = &literal{v: k.val, pos: k.pos}
		case k.kind == tkNumber:
			key = &literal{v: k.val, pos: k.pos}
		case k.kind == tkName:
			key = &literal{v: k.val, pos: k.pos}
		case k.kind == tkOp && k.val == "(":
			key = p.parseExpression(0)
			p.expectOp(")")
		default:
			p.fail(k.pos, "unexpected %s: expected a hash key", k)
		}
		p.expectOp(":")
		h.keys = append(h.keys, key)
		h.vals = append(h.vals, p.parseExpression(0))
		if !p.isOp(",") {
			break
		}
		p.next()
	}
	p.expectOp("}")
	return h
}

// parsePostfix parses .attr, [index], [start:length] and | filter.
func (p *parser) parsePostfix(e expr) expr {
	for {
		t := p.peek()
		if t.kind != tkOp {
			return e
		}
		switch t.val {
		case ".":
			p.next()
			k := p.next()
			var key pathKey
			switch k.kind {
			case tkName:
				key = pathKey{s: k.val}
			case tkNumber:
				i, err := strconv.Atoi(k.val)
				if err != nil {
					p.fail(k.pos, "expected an attribute name after \".\", found %s", k)
				}
				key = pathKey{s: k.val, i: i, isInt: true}
			default:
				p.fail(k.pos, "expected an attribute name after \".\", found %s", k)
			}
			if p.isOp("(") {
				if n, ok := e.(*nameExpr); ok && p.aliases[n.name] && k.kind == tkName {
					e = p.parseMacroCall(k.val, k.pos)
					continue
				}
				p.fail(k.pos, "method calls are not supported: use a filter, as in x | %s", k.val)
			}
			e = appendPath(e, key, t.pos)
		case "[":
			p.next()
			var start expr
			if !p.isOp(":") {
				start = p.parseExpression(0)
			}
			if p.isOp(":") {
				colon := p.next()
				var length expr
				if !p.isOp("]") {
					length = p.parseExpression(0)
				}
				p.expectOp("]")
				if start == nil {
					start = &literal{v: int64(0), pos: colon.pos}
				}
				args := []expr{start}
				if length != nil {
					args = append(args, length)
				}
				e = &filterExpr{name: "slice", def: filterTable["slice"], in: e, args: args, pos: t.pos}
				continue
			}
			p.expectOp("]")
			if lit, ok := start.(*literal); ok {
				switch v := lit.v.(type) {
				case string:
					e = appendPath(e, pathKey{s: v}, t.pos)
					continue
				case int64:
					e = appendPath(e, pathKey{s: strconv.FormatInt(v, 10), i: int(v), isInt: v >= 0 && v <= 1<<31}, t.pos)
					continue
				}
			}
			e = &indexExpr{obj: e, idx: start, pos: t.pos}
		case "|":
			p.next()
			nameTok := p.next()
			if nameTok.kind != tkName {
				p.fail(nameTok.pos, "expected a filter name after \"|\", found %s", nameTok)
			}
			f := &filterExpr{name: nameTok.val, in: e, pos: nameTok.pos}
			if p.isOp("(") {
				f.args = p.parseArgs()
			}
			def, ok := filterTable[nameTok.val]
			if !ok {
				if len(p.diags) < maxDiagnostics {
					msg := fmt.Sprintf("unknown filter %q", nameTok.val)
					if s := suggest(nameTok.val, filterNames()); s != "" {
						msg += fmt.Sprintf(" — did you mean %q?", s)
					}
					p.addDiag(nameTok.pos, msg)
				}
				def = filterTable["raw"]
			} else if len(f.args) < def.minArgs || (def.maxArgs >= 0 && len(f.args) > def.maxArgs) {
				p.addDiag(nameTok.pos, arityMessage(nameTok.val, def, len(f.args)))
			} else if def.check != nil {
				if msg := def.check(f.args); msg != "" {
					p.addDiag(nameTok.pos, msg)
				}
			}
			f.def = def
			e = f
		default:
			return e
		}
	}
}

func arityMessage(name string, def *filterDef, got int) string {
	switch {
	case def.maxArgs == 0:
		return fmt.Sprintf("filter %q takes no arguments, got %d", name, got)
	case got < def.minArgs && def.minArgs == def.maxArgs:
		return fmt.Sprintf("filter %q takes %d argument(s), got %d", name, def.minArgs, got)
	case got < def.minArgs:
		return fmt.Sprintf("filter %q needs at least %d argument(s), got %d", name, def.minArgs, got)
	default:
		return fmt.Sprintf("filter %q takes at most %d argument(s), got %d", name, def.maxArgs, got)
	}
}

// appendPath extends a path expression with a constant key, or starts one.
func appendPath(e expr, key pathKey, pos int) expr {
	if pe, ok := e.(*pathExpr); ok {
		pe.keys = append(pe.keys, key)
		return pe
	}
	return &pathExpr{base: e, keys: []pathKey{key}, pos: e.position()}
}

// suggest returns the candidate closest to name, if it is close enough to
// be a likely typo.
func suggest(name string, candidates []string) string {
	best, bestD := "", 1<<30
	for _, c := range candidates {
		d := editDistance(strings.ToLower(name), c)
		if d < bestD {
			best, bestD = c, d
		}
	}
	limit := 2
	if len(name) <= 3 {
		limit = 1
	}
	if bestD <= limit && bestD < len(name) {
		return best
	}
	return ""
}

// editDistance is the Levenshtein distance, with an adjacent transposition
// counting as one edit.
func editDistance(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	if len(ra) > 64 || len(rb) > 64 {
		return 1 << 20
	}
	d := make([][]int, len(ra)+1)
	for i := range d {
		d[i] = make([]int, len(rb)+1)
		d[i][0] = i
	}
	for j := range d[0] {
		d[0][j] = j
	}
	for i := 1; i <= len(ra); i++ {
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			d[i][j] = min(d[i-1][j]+1, d[i][j-1]+1, d[i-1][j-1]+cost)
			if i > 1 && j > 1 && ra[i-1] == rb[j-2] && ra[i-2] == rb[j-1] {
				d[i][j] = min(d[i][j], d[i-2][j-2]+1)
			}
		}
	}
	return d[len(ra)][len(rb)]
}

// parseArrow parses an arrow function, x => body or (a, b) => body, if one
// starts here.
func (p *parser) parseArrow() expr {
	start := p.peek()
	var params []token
	switch {
	case start.kind == tkName && p.peekAt(1).kind == tkOp && p.peekAt(1).val == "=>":
		params = []token{start}
		p.p += 2
	case start.kind == tkOp && start.val == "(":
		k := 1
		for {
			t := p.peekAt(k)
			if t.kind != tkName {
				return nil
			}
			params = append(params, t)
			k++
			if sep := p.peekAt(k); sep.kind == tkOp && sep.val == "," {
				k++
				continue
			}
			break
		}
		if t := p.peekAt(k); t.kind != tkOp || t.val != ")" {
			return nil
		}
		if t := p.peekAt(k + 1); t.kind != tkOp || t.val != "=>" {
			return nil
		}
		p.p += k + 2
	default:
		return nil
	}
	if len(params) > 4 {
		p.fail(start.pos, "an arrow function takes at most 4 parameters")
	}
	a := &arrowExpr{pos: start.pos}
	for _, t := range params {
		if isReserved(t.val) || t.val == "loop" {
			p.fail(t.pos, "%q cannot be used as a parameter name", t.val)
		}
		a.params = append(a.params, t.val)
		a.slots = append(a.slots, p.slotFor(t.val))
	}
	a.body = p.parseExpression(0)
	return a
}

// checkRegex refuses, at compile time, a literal pattern for matches that
// herald cannot run.
func (p *parser) checkRegex(e expr) {
	lit, ok := e.(*literal)
	if !ok {
		return
	}
	s, ok := lit.v.(string)
	if !ok {
		return
	}
	if _, err := compilePCRE(s); err != nil {
		p.fail(lit.pos, "matches: %v", err)
	}
}

func arityText(min, max int) string {
	switch {
	case max < 0:
		return fmt.Sprintf("at least %d argument(s)", min)
	case min == max:
		return fmt.Sprintf("%d argument(s)", min)
	}
	return fmt.Sprintf("%d to %d arguments", min, max)
}
