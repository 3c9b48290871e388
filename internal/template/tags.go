package template

import (
	"fmt"
	"strconv"
)

// The block tags that capture output or open a scope: set … endset,
// apply, with, and macros (macro, import, from).

// maxMacroDepth bounds macro calls inside macro calls (recursion).
const maxMacroDepth = 32

// setBlockNode is {% set name %}…{% endset %}: the body's output, as a
// string, is assigned.
type setBlockNode struct {
	name string
	slot int
	body []node
	pos  int
}

// applyNode is {% apply filters %}…{% endapply %}: the body's output goes
// through the filters, and the result is written like one {{ }} value.
type applyNode struct {
	slot int  // hidden local holding the captured body
	x    expr // the filter chain over the hidden local
	body []node
	pos  int
	esc  escCtx
	raw  bool
}

// withNode is {% with vars [only] %}…{% endwith %}: the hash's keys are
// variables inside the body; with only, nothing else is.
type withNode struct {
	vars expr // nil: {% with %} alone
	only bool
	keys []string // literal keys of a hash literal, for Paths
	body []node
	pos  int
}

// macroDef is {% macro name(params) %}…{% endmacro %}.
type macroDef struct {
	name     string
	params   []string
	slots    []int
	defaults []expr // nil where a parameter has no default
	body     []node
	pos      int
}

// macroCallExpr calls a macro: alias.name(args) after {% import _self as
// alias %}, or name(args) after {% from _self import name %}.
type macroCallExpr struct {
	name string
	m    *macroDef // resolved after parsing
	args []expr
	pos  int
}

func (n *setBlockNode) nodePos() int   { return n.pos }
func (n *applyNode) nodePos() int      { return n.pos }
func (n *withNode) nodePos() int       { return n.pos }
func (e *macroCallExpr) position() int { return e.pos }

// parseSetBlock parses the body of {% set name %} up to {% endset %}.
func (p *parser) parseSetBlock(pos int, names []string, namePos int) node {
	if len(names) != 1 {
		p.fail(namePos, "set with a body assigns one name, got %d", len(names))
	}
	p.expectTagClose("set")
	p.enter(pos)
	defer p.leave()
	body, _ := p.parseNodes(&openBlock{name: "set", pos: pos}, "endset")
	p.expectTagClose("endset")
	n := &setBlockNode{name: names[0], body: body, pos: pos}
	n.slot = p.slotFor(n.name)
	if len(p.setStack) > 0 {
		p.setStack[len(p.setStack)-1] = append(p.setStack[len(p.setStack)-1], n.slot)
	}
	return n
}

func (p *parser) parseApply(pos int) node {
	p.enter(pos)
	defer p.leave()
	p.hidden++
	slot := p.slotFor("\x00apply" + strconv.Itoa(p.hidden))
	n := &applyNode{slot: slot, pos: pos}
	if p.peek().kind != tkName {
		p.fail(p.peek().pos, "expected a filter name after \"apply\", found %s", p.peek())
	}
	// Parse "upper|lower(…)" as a filter chain over the hidden local.
	base := &nameExpr{name: "\x00", slot: slot, pos: p.peek().pos}
	p.toks = append(p.toks[:p.p], append([]token{{kind: tkOp, val: "|", pos: p.peek().pos}}, p.toks[p.p:]...)...)
	n.x = p.parsePostfix(base)
	if f, ok := n.x.(*filterExpr); ok && f.name == "raw" {
		n.raw = true
	}
	p.expectTagClose("apply")
	n.body, _ = p.parseNodes(&openBlock{name: "apply", pos: pos}, "endapply")
	p.expectTagClose("endapply")
	return n
}

func (p *parser) parseWith(pos int) node {
	p.enter(pos)
	defer p.leave()
	n := &withNode{pos: pos}
	if p.peek().kind != tkTagClose && !p.isName("only") {
		n.vars = p.parseExpression(0)
		if h, ok := n.vars.(*hashExpr); ok {
			for _, k := range h.keys {
				if lit, ok := k.(*literal); ok {
					n.keys = append(n.keys, toString(lit.v))
				}
			}
		}
	}
	if p.isName("only") {
		p.next()
		n.only = true
	}
	p.expectTagClose("with")
	n.body, _ = p.parseNodes(&openBlock{name: "with", pos: pos}, "endwith")
	p.expectTagClose("endwith")
	return n
}

func (p *parser) parseMacro(pos int) {
	p.enter(pos)
	defer p.leave()
	nameTok := p.expectName("a macro name")
	// Wherever it stands, a macro is defined for the whole template; when
	// a name is defined twice, the last definition counts, as in Twig.
	m := &macroDef{name: nameTok.val, pos: pos}
	p.expectOp("(")
	for !p.isOp(")") {
		t := p.expectName("a parameter name")
		m.params = append(m.params, t.val)
		m.slots = append(m.slots, p.slotFor(t.val))
		var def expr
		if p.isOp("=") {
			p.next()
			def = p.parseExpression(0)
		}
		m.defaults = append(m.defaults, def)
		if !p.isOp(",") {
			break
		}
		p.next()
	}
	p.expectOp(")")
	p.expectTagClose("macro")
	m.body, _ = p.parseNodes(&openBlock{name: "macro", pos: pos}, "endmacro")
	if p.peek().kind == tkName && p.peek().val == m.name {
		p.next() // {% endmacro name %}
	}
	p.expectTagClose("endmacro")
	p.macros[m.name] = m
}

// parseImport parses {% import _self as alias %}.
func (p *parser) parseImport(pos int) {
	src := p.next()
	if src.kind != tkName || src.val != "_self" {
		p.fail(src.pos, "only {%% import _self as name %%} is supported: a payload template is self-contained")
	}
	if !p.isName("as") {
		p.fail(p.peek().pos, "expected \"as\" in {%% import %%}, found %s", p.peek())
	}
	p.next()
	alias := p.expectName("a name for the imported macros")
	p.aliases[alias.val] = true
	p.expectTagClose("import")
}

// parseFrom parses {% from _self import a, b as c %}.
func (p *parser) parseFrom(pos int) {
	src := p.next()
	if src.kind != tkName || src.val != "_self" {
		p.fail(src.pos, "only {%% from _self import … %%} is supported: a payload template is self-contained")
	}
	if !p.isName("import") {
		p.fail(p.peek().pos, "expected \"import\" in {%% from %%}, found %s", p.peek())
	}
	p.next()
	for {
		name := p.expectName("a macro name")
		local := name.val
		if p.isName("as") {
			p.next()
			local = p.expectName("a name for the macro").val
		}
		p.fromNames[local] = name.val
		if !p.isOp(",") {
			break
		}
		p.next()
	}
	p.expectTagClose("from")
}

// parseMacroCall parses the arguments of a macro call.
func (p *parser) parseMacroCall(name string, pos int) expr {
	c := &macroCallExpr{name: name, pos: pos}
	c.args = p.parseArgs()
	p.calls = append(p.calls, c)
	return c
}

// resolveMacros binds every call to its macro, once all are parsed.
func (p *parser) resolveMacros() {
	for _, c := range p.calls {
		m, ok := p.macros[c.name]
		if !ok {
			names := make([]string, 0, len(p.macros))
			for n := range p.macros {
				names = append(names, n)
			}
			if s := suggest(c.name, names); s != "" {
				p.fail(c.pos, "unknown macro %q — did you mean %q?", c.name, s)
			}
			p.fail(c.pos, "unknown macro %q", c.name)
		}
		c.m = m
	}
}

// capture renders body into a string, for set … endset, apply and
// macros. Output limits still apply to the captured text.
func (r *renderer) capture(body []node, pos int) (string, error) {
	savedStart, savedTracing := r.start, r.tracing
	r.start, r.tracing = 0, false
	buf, err := r.nodes(make([]byte, 0, 64), body)
	r.start, r.tracing = savedStart, savedTracing
	if err != nil {
		return "", err
	}
	if err := r.chargeBytes(pos, len(buf)); err != nil {
		return "", err
	}
	return string(buf), nil
}

// scope saves the locals and the variables, for with and macros.
type scope struct {
	locals []any
	vars   map[string]any
}

func (r *renderer) saveScope() scope {
	return scope{locals: append([]any(nil), r.locals...), vars: r.vars}
}

func (r *renderer) restoreScope(s scope) {
	copy(r.locals, s.locals)
	r.vars = s.vars
}

func (r *renderer) with(dst []byte, n *withNode) ([]byte, error) {
	var vars map[string]any
	if n.vars != nil {
		v, err := n.vars.eval(r)
		if err != nil {
			return dst, err
		}
		m, ok := asMap(v)
		if !ok {
			if l, isList := asList(v); isList && len(l) == 0 {
				m = map[string]any{}
			} else {
				return dst, r.errorf(n.pos, "with: variables must be a hash, got %s", typeName(v))
			}
		}
		vars = m
	}
	saved := r.saveScope()
	if n.only {
		for i := range r.locals {
			r.locals[i] = undef
		}
		r.vars = vars
	} else if len(vars) > 0 {
		if err := r.step(n.pos, len(r.vars)+len(vars)); err != nil {
			return dst, err
		}
		merged := make(map[string]any, len(r.vars)+len(vars))
		for k, v := range r.vars {
			merged[k] = v
		}
		for k, v := range vars {
			merged[k] = v
		}
		r.vars = merged
	}
	for k, v := range vars {
		if s, ok := r.t.slotNames[k]; ok {
			r.locals[s] = v
		}
	}
	dst, err := r.nodes(dst, n.body)
	r.restoreScope(saved)
	return dst, err
}

func (e *macroCallExpr) eval(r *renderer) (any, error) {
	m := e.m
	if len(e.args) > len(m.params) {
		// Twig passes extra arguments in varargs; herald has no use for them.
		return nil, r.errorf(e.pos, "macro %q takes %d argument(s), got %d", m.name, len(m.params), len(e.args))
	}
	args := make([]any, len(m.params))
	for i := range m.params {
		if i < len(e.args) {
			v, err := e.args[i].eval(r)
			if err != nil {
				return nil, err
			}
			args[i] = nullIfUndef(v)
		}
	}
	if r.macroDepth >= maxMacroDepth {
		return nil, r.errorf(e.pos, "macro %q calls macros more than %d deep", m.name, maxMacroDepth)
	}
	if err := r.step(e.pos, 1); err != nil {
		return nil, err
	}
	saved := r.saveScope()
	for i := range r.locals {
		r.locals[i] = undef
	}
	// A macro sees its arguments only, not the template's variables.
	r.vars = nil
	for i, s := range m.slots {
		if i >= len(e.args) && m.defaults[i] != nil {
			v, err := m.defaults[i].eval(r)
			if err != nil {
				r.restoreScope(saved)
				return nil, err
			}
			args[i] = nullIfUndef(v)
		}
		r.locals[s] = args[i]
	}
	r.macroDepth++
	out, err := r.capture(m.body, e.pos)
	r.macroDepth--
	r.restoreScope(saved)
	if err != nil {
		return nil, err
	}
	if out == "" {
		return "", nil
	}
	return capturedText(out), nil
}

// typeName names a value's type for messages.
func typeName(v any) string {
	switch kindOf(v) {
	case kNull:
		return "null"
	case kBool:
		return "a boolean"
	case kNum:
		return "a number"
	case kStr:
		return "a string"
	case kList:
		return "a list"
	case kMap:
		return "a hash"
	}
	return fmt.Sprintf("%T", v)
}
