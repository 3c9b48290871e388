package template

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"sync"
	"time"
)

// renderer holds the state of one render.
type renderer struct {
	t        *Template
	vars     map[string]any
	locals   []any
	args     []any // filter argument stack
	steps    int
	start    int // where this render's output starts in dst
	now      time.Time
	tracing  bool
	trace    []span
	hasNow   bool
	maxSteps int
	// macroDepth counts macro calls in progress.
	macroDepth int
}

// span maps a piece of output back to the template: literal text byte for
// byte, or the expression that produced it.
type span struct {
	out     int // offset in the output where the piece starts
	src     int // offset in the source
	literal bool
}

var rendererPool = sync.Pool{New: func() any { return new(renderer) }}

// panicSafety turns a panic inside Render into an *Error, so one bad
// template cannot take a delivery worker down. Tests switch it off so
// fuzzing sees the panic.
var panicSafety = true

// AppendRender renders into dst and returns the extended slice, so a
// caller can reuse one buffer across renders. On error dst is returned
// unchanged (its length; bytes past it may have been written).
func (t *Template) AppendRender(dst []byte, vars map[string]any) (out []byte, err error) {
	start := len(dst)
	if panicSafety {
		defer func() {
			if p := recover(); p != nil {
				out, err = dst[:start], t.errorAt(0, fmt.Sprintf("internal error while rendering: %v", p))
			}
		}()
	}
	r := rendererPool.Get().(*renderer)
	r.reset(t, vars, start)
	out, err = r.nodes(dst, t.root)
	r.release()
	if err != nil {
		return dst[:start], err
	}
	out, err = t.finish(out, start, vars)
	if err != nil {
		return dst[:start], err
	}
	return out, nil
}

func (r *renderer) reset(t *Template, vars map[string]any, start int) {
	r.t, r.vars, r.start = t, vars, start
	r.steps, r.maxSteps = 0, t.maxSteps
	r.hasNow = false
	r.macroDepth = 0
	if cap(r.locals) < t.nslots {
		r.locals = make([]any, t.nslots)
	}
	r.locals = r.locals[:t.nslots]
	for i := range r.locals {
		r.locals[i] = undef
	}
	r.args = r.args[:0]
	r.tracing = false
	r.trace = r.trace[:0]
}

func (r *renderer) release() {
	r.t, r.vars = nil, nil
	for i := range r.locals {
		r.locals[i] = nil
	}
	clear(r.args[:cap(r.args)])
	r.args = r.args[:0]
	if cap(r.trace) > 1024 {
		r.trace = nil
	}
	rendererPool.Put(r)
}

// errorf is a render error at a source offset.
func (r *renderer) errorf(pos int, format string, args ...any) error {
	return r.t.errorAt(pos, fmt.Sprintf(format, args...))
}

// step charges n units of work against MaxSteps.
func (r *renderer) step(pos, n int) error {
	r.steps += n
	if r.steps > r.maxSteps {
		return r.errorf(pos, "template does too much work: more than %d steps (a loop over data is bounded)", r.maxSteps)
	}
	return nil
}

// chargeBytes charges work for producing n bytes, and refuses values
// larger than the output limit.
func (r *renderer) chargeBytes(pos, n int) error {
	if n > r.t.maxOut {
		return r.errorf(pos, "a value is larger than the output limit of %d bytes", r.t.maxOut)
	}
	return r.step(pos, n>>6)
}

func (r *renderer) currentTime() time.Time {
	if !r.hasNow {
		r.now, r.hasNow = time.Now(), true
	}
	return r.now
}

func (r *renderer) checkOutput(dst []byte, pos int) error {
	if len(dst)-r.start > r.t.maxOut {
		return r.errorf(pos, "output is larger than the limit of %d bytes", r.t.maxOut)
	}
	return nil
}

func (r *renderer) nodes(dst []byte, ns []node) ([]byte, error) {
	var err error
	for _, n := range ns {
		if err = r.step(n.nodePos(), 1); err != nil {
			return dst, err
		}
		switch x := n.(type) {
		case *textNode:
			if r.tracing {
				r.trace = append(r.trace, span{out: len(dst) - r.start, src: x.pos, literal: true})
			}
			dst = append(dst, x.text...)
			if err = r.checkOutput(dst, x.pos); err != nil {
				return dst, err
			}
		case *outputNode:
			if x.split {
				if dst, err = r.splitOutput(dst, x); err != nil {
					return dst, err
				}
				continue
			}
			v, err := x.x.eval(r)
			if err != nil {
				return dst, err
			}
			if r.tracing {
				r.trace = append(r.trace, span{out: len(dst) - r.start, src: x.exprPos})
			}
			before := len(dst)
			if x.literal {
				dst = appendValidUTF8(dst, toString(v))
			} else if x.raw {
				dst = appendString(dst, v)
			} else if dst, err = emit(dst, x.esc, v); err != nil {
				return dst, r.errorf(x.exprPos, "%v", err)
			}
			if err = r.checkOutput(dst, x.pos); err != nil {
				return dst, err
			}
			if err = r.step(x.pos, (len(dst)-before)>>6); err != nil {
				return dst, err
			}
		case *ifNode:
			done := false
			for i, c := range x.conds {
				v, err := c.eval(r)
				if err != nil {
					return dst, err
				}
				if truthy(v) {
					if dst, err = r.nodes(dst, x.bodies[i]); err != nil {
						return dst, err
					}
					done = true
					break
				}
			}
			if !done && x.els != nil {
				if dst, err = r.nodes(dst, x.els); err != nil {
					return dst, err
				}
			}
		case *forNode:
			if dst, err = r.loop(dst, x); err != nil {
				return dst, err
			}
		case *setBlockNode:
			s, err := r.capture(x.body, x.pos)
			if err != nil {
				return dst, err
			}
			if s == "" {
				r.locals[x.slot] = ""
			} else {
				r.locals[x.slot] = capturedText(s)
			}
		case *withNode:
			if dst, err = r.with(dst, x); err != nil {
				return dst, err
			}
		case *applyNode:
			s, err := r.capture(x.body, x.pos)
			if err != nil {
				return dst, err
			}
			r.locals[x.slot] = s
			v, err := x.x.eval(r)
			r.locals[x.slot] = undef
			if err != nil {
				return dst, err
			}
			if r.tracing {
				r.trace = append(r.trace, span{out: len(dst) - r.start, src: x.pos})
			}
			if x.raw {
				dst = appendString(dst, v)
			} else if dst, err = emit(dst, x.esc, v); err != nil {
				return dst, r.errorf(x.pos, "%v", err)
			}
			if err = r.checkOutput(dst, x.pos); err != nil {
				return dst, err
			}
		case *setNode:
			if len(x.vals) == 1 {
				v, err := x.vals[0].eval(r)
				if err != nil {
					return dst, err
				}
				r.locals[x.slots[0]] = nullIfUndef(v)
				continue
			}
			vals := make([]any, len(x.vals))
			for i, e := range x.vals {
				if vals[i], err = e.eval(r); err != nil {
					return dst, err
				}
			}
			for i, s := range x.slots {
				r.locals[s] = nullIfUndef(vals[i])
			}
		}
	}
	return dst, nil
}

func (r *renderer) loop(dst []byte, x *forNode) ([]byte, error) {
	seq, err := x.seq.eval(r)
	if err != nil {
		return dst, err
	}
	var list []any
	var keys []string
	var hash map[string]any
	if l, ok := asList(seq); ok {
		list = l
	} else if m, ok := asMap(seq); ok {
		hash = m
		keys = hashKeys(seq, m)
	}
	n := len(list)
	if hash != nil {
		n = len(keys)
	}
	if n == 0 {
		if len(x.bodySets) == 0 {
			return r.nodes(dst, x.els)
		}
		before := make([]bool, len(x.bodySets))
		for i, s := range x.bodySets {
			before[i] = !isUndef(r.locals[s])
		}
		dst, err = r.nodes(dst, x.els)
		for i, s := range x.bodySets {
			if !before[i] {
				r.locals[s] = undef
			}
		}
		return dst, err
	}
	// Save what the loop overwrites; restore it afterwards.
	var savedKey any
	if x.keySlot >= 0 {
		savedKey = r.locals[x.keySlot]
	}
	savedVal, savedLoop := r.locals[x.valSlot], r.locals[x.loopSlot]
	var definedBefore []bool
	if len(x.bodySets) > 0 {
		definedBefore = make([]bool, len(x.bodySets))
		for i, s := range x.bodySets {
			definedBefore[i] = !isUndef(r.locals[s])
		}
	}
	ls := &loopState{length: n}
	if p, ok := savedLoop.(*loopState); ok {
		ls.parent = map[string]any{"loop": p}
	}
	for i := 0; i < n; i++ {
		if err := r.step(x.pos, 1); err != nil {
			return dst, err
		}
		ls.index0 = i
		if hash != nil {
			k := keys[i]
			if x.keySlot >= 0 {
				r.locals[x.keySlot] = k
			}
			r.locals[x.valSlot] = hash[k]
		} else {
			if x.keySlot >= 0 {
				r.locals[x.keySlot] = int64(i)
			}
			r.locals[x.valSlot] = list[i]
		}
		r.locals[x.loopSlot] = ls
		if dst, err = r.nodes(dst, x.body); err != nil {
			return dst, err
		}
	}
	if x.keySlot >= 0 {
		r.locals[x.keySlot] = savedKey
	}
	r.locals[x.valSlot], r.locals[x.loopSlot] = savedVal, savedLoop
	for i, s := range x.bodySets {
		if !definedBefore[i] {
			r.locals[s] = undef
		}
	}
	return dst, nil
}

// emit writes v escaped for ctx.
func emit(dst []byte, ctx escCtx, v any) ([]byte, error) {
	switch ctx {
	case escJSONValue:
		return appendJSONValue(dst, v)
	case escJSONString:
		switch x := v.(type) {
		case string:
			return appendJSONStringContent(dst, x), nil
		case json.Number:
			return appendNumberText(dst, string(x), false), nil
		case jsonStrText:
			return append(dst, x...), nil
		}
		return appendJSONStringContent(dst, toString(v)), nil
	case escXML, escXMLAttr:
		switch x := v.(type) {
		case string:
			return appendXMLEscaped(dst, x, ctx == escXMLAttr), nil
		case markupText:
			if ctx == escXMLAttr && strings.IndexByte(string(x), '<') >= 0 {
				// nl2br's <br /> is markup for text, not for an attribute.
				return appendXMLEscaped(dst, string(x), true), nil
			}
			return append(dst, x...), nil
		}
		return appendXMLEscaped(dst, toString(v), ctx == escXMLAttr), nil
	case escXMLCDATA:
		return appendCDATA(dst, toString(v)), nil
	case escXMLComment:
		return appendXMLComment(dst, toString(v)), nil
	case escForm, escURLQuery:
		if u, ok := v.(urlText); ok {
			return append(dst, u...), nil
		}
		return appendQueryEscape(dst, toString(v)), nil
	case escURLPath:
		if u, ok := v.(urlText); ok {
			return append(dst, u...), nil
		}
		return appendPathEscape(dst, toString(v)), nil
	}
	switch x := v.(type) {
	case string:
		return appendValidUTF8(dst, x), nil
	case json.Number:
		return appendValidUTF8(dst, toString(x)), nil
	}
	return appendValidUTF8(dst, toString(v)), nil
}

// ---- expressions ----

func (e *literal) eval(*renderer) (any, error) { return e.v, nil }

func (e *nameExpr) eval(r *renderer) (any, error) {
	if e.slot >= 0 {
		if v := r.locals[e.slot]; !isUndef(v) {
			return v, nil
		}
	}
	if v, ok := r.vars[e.name]; ok {
		return v, nil
	}
	return undef, nil
}

func (e *pathExpr) eval(r *renderer) (any, error) {
	v, err := e.base.eval(r)
	if err != nil {
		return nil, err
	}
	for _, k := range e.keys {
		v = getAttr(v, k)
		if isUndef(v) {
			return v, nil
		}
	}
	return v, nil
}

func (e *indexExpr) eval(r *renderer) (any, error) {
	obj, err := e.obj.eval(r)
	if err != nil {
		return nil, err
	}
	idx, err := e.idx.eval(r)
	if err != nil {
		return nil, err
	}
	return getIndex(obj, idx), nil
}

func (e *arrayExpr) eval(r *renderer) (any, error) {
	out := make([]any, len(e.elems))
	for i, x := range e.elems {
		v, err := x.eval(r)
		if err != nil {
			return nil, err
		}
		out[i] = nullIfUndef(v)
	}
	return out, nil
}

func (e *hashExpr) eval(r *renderer) (any, error) {
	out := newOrderedHash(len(e.keys))
	for i := range e.keys {
		k, err := e.keys[i].eval(r)
		if err != nil {
			return nil, err
		}
		v, err := e.vals[i].eval(r)
		if err != nil {
			return nil, err
		}
		out.set(toString(k), nullIfUndef(v))
	}
	return out, nil
}

func (e *unaryExpr) eval(r *renderer) (any, error) {
	v, err := e.x.eval(r)
	if err != nil {
		return nil, err
	}
	switch e.op {
	case opNot:
		return !truthy(v), nil
	case opNeg, opPos:
		if !arithOperand(v) {
			return nil, r.errorf(e.pos, "unsupported operand type: %s", typeName(v))
		}
		if e.op == opPos {
			n, _ := toNumber(v)
			return n.value(), nil
		}
		n, _ := toNumber(v)
		if n.isFloat {
			return -n.f, nil
		}
		if n.i == math.MinInt64 {
			return -float64(n.i), nil
		}
		return -n.i, nil
	}
	n, _ := toNumber(v)
	return n.value(), nil
}

func (e *condExpr) eval(r *renderer) (any, error) {
	c, err := e.cond.eval(r)
	if err != nil {
		return nil, err
	}
	if truthy(c) {
		if e.a == nil {
			return c, nil
		}
		return e.a.eval(r)
	}
	if e.b == nil {
		return "", nil
	}
	return e.b.eval(r)
}

func (e *binaryExpr) eval(r *renderer) (any, error) {
	l, err := e.l.eval(r)
	if err != nil {
		return nil, err
	}
	switch e.op {
	case opOr:
		if truthy(l) {
			return true, nil
		}
		rv, err := e.r.eval(r)
		return truthy(rv), err
	case opAnd:
		if !truthy(l) {
			return false, nil
		}
		rv, err := e.r.eval(r)
		return truthy(rv), err
	case opCoalesce:
		if !isNull(l) {
			return l, nil
		}
		return e.r.eval(r)
	case opHasSome, opHasEvery:
		a := e.r.(*arrowExpr)
		keys, vals, _ := keyedValues(l)
		for i, v := range vals {
			res, err := r.call(a, v, keys[i])
			if err != nil {
				return nil, err
			}
			if truthy(res) == (e.op == opHasSome) {
				return e.op == opHasSome, nil
			}
		}
		return e.op == opHasEvery, nil
	}
	rv, err := e.r.eval(r)
	if err != nil {
		return nil, err
	}
	switch e.op {
	case opEq:
		return looseEqual(l, rv), nil
	case opSpaceship:
		c, _ := compareValues(l, rv)
		return int64(c), nil
	case opNe:
		return !looseEqual(l, rv), nil
	case opLt, opGt, opLe, opGe:
		c, ok := compareValues(l, rv)
		if !ok {
			return false, nil
		}
		switch e.op {
		case opLt:
			return c < 0, nil
		case opGt:
			return c > 0, nil
		case opLe:
			return c <= 0, nil
		}
		return c >= 0, nil
	case opIn, opNotIn:
		if s, ok := stringOf(rv); ok {
			if err := r.step(e.pos, len(s)>>6); err != nil {
				return nil, err
			}
		}
		return contains(rv, l) == (e.op == opIn), nil
	case opStartsWith, opEndsWith:
		// Twig: both must be strings (null, numbers and captured output
		// never start or end with anything).
		sa, okA := phpString(l)
		sb, okB := phpString(rv)
		if !okA || !okB {
			return false, nil
		}
		a, b := sa, sb
		if e.op == opStartsWith {
			return len(a) >= len(b) && a[:len(b)] == b, nil
		}
		return len(a) >= len(b) && a[len(a)-len(b):] == b, nil
	case opConcat:
		a, b := toString(l), toString(rv)
		if err := r.chargeBytes(e.pos, len(a)+len(b)); err != nil {
			return nil, err
		}
		return a + b, nil
	case opRange:
		return r.rangeValues(e.pos, l, rv)
	case opMatches:
		return r.matches(e.pos, l, rv)
	case opBitAnd, opBitOr, opBitXor:
		if a, ok := phpString(l); ok {
			if b, ok := phpString(rv); ok {
				if err := r.chargeBytes(e.pos, max(len(a), len(b))); err != nil {
					return nil, err
				}
				return bitwiseStrings(e.op, a, b), nil // PHP works on the bytes
			}
		}
		if !arithOperand(l) || !arithOperand(rv) {
			return nil, r.errorf(e.pos, "unsupported operand types: %s %s %s", typeName(l), opText(e.op), typeName(rv))
		}
		a, b := phpInt(l), phpInt(rv)
		switch e.op {
		case opBitAnd:
			return a & b, nil
		case opBitOr:
			return a | b, nil
		}
		return a ^ b, nil
	}
	return r.arith(e.pos, e.op, l, rv)
}

// rangeValues is a..b: integers, or single letters.
func (r *renderer) rangeValues(pos int, a, b any) (any, error) {
	as, aok := a.(string)
	bs, bok := b.(string)
	if aok && bok && runeLen(as) == 1 && runeLen(bs) == 1 && !isNumeric(as) {
		x, y := []rune(as)[0], []rune(bs)[0]
		step := rune(1)
		if y < x {
			step = -1
		}
		n := int((y-x)*step) + 1
		if err := r.step(pos, n); err != nil {
			return nil, err
		}
		out := make([]any, 0, n)
		for c := x; ; c += step {
			out = append(out, string(c))
			if c == y {
				break
			}
		}
		return out, nil
	}
	x, _ := toNumber(a)
	y, _ := toNumber(b)
	lo, hi := int64(x.float()), int64(y.float())
	span := float64(hi) - float64(lo)
	if math.Abs(span) >= float64(r.maxSteps) {
		return nil, r.errorf(pos, "range %d..%d is longer than the step limit of %d", lo, hi, r.maxSteps)
	}
	n := int(math.Abs(span)) + 1
	if err := r.step(pos, n); err != nil {
		return nil, err
	}
	out := make([]any, 0, n)
	step := int64(1)
	if hi < lo {
		step = -1
	}
	for v := lo; ; v += step {
		out = append(out, v)
		if v == hi {
			break
		}
	}
	return out, nil
}

// arith evaluates + - * / // % ** on numbers. Non-numeric operands count
// as 0 (PHP 7 semantics; PHP 8 would throw).
func (r *renderer) arith(pos int, op opcode, l, rv any) (any, error) {
	if op == opAdd && isArray(l) && isArray(rv) {
		return r.union(pos, l, rv)
	}
	if !arithOperand(l) || !arithOperand(rv) {
		return nil, r.errorf(pos, "unsupported operand types: %s %s %s", typeName(l), opText(op), typeName(rv))
	}
	a, _ := toNumber(l)
	b, _ := toNumber(rv)
	if !a.isFloat && !b.isFloat {
		x, y := a.i, b.i
		switch op {
		case opAdd:
			if s := x + y; (s > x) == (y > 0) {
				return s, nil
			}
		case opSub:
			if s := x - y; (s < x) == (y > 0) {
				return s, nil
			}
		case opMul:
			if x == 0 || y == 0 {
				return int64(0), nil
			}
			if p := x * y; p/y == x && !(x == -1 && y == math.MinInt64) && !(y == -1 && x == math.MinInt64) {
				return p, nil
			}
		case opDiv:
			if y == 0 {
				return nil, r.errorf(pos, "division by zero")
			}
			if x%y == 0 && !(x == math.MinInt64 && y == -1) {
				return x / y, nil
			}
		case opFloorDiv:
			if y == 0 {
				return nil, r.errorf(pos, "division by zero")
			}
			if !(x == math.MinInt64 && y == -1) {
				q := x / y
				if (x%y != 0) && ((x < 0) != (y < 0)) {
					q--
				}
				return q, nil
			}
		case opMod:
			if y == 0 {
				return nil, r.errorf(pos, "modulo by zero")
			}
			if y == -1 {
				return int64(0), nil
			}
			return x % y, nil
		case opPow:
			if y >= 0 {
				p := math.Pow(float64(x), float64(y))
				if math.Abs(p) < 1<<62 {
					return int64(p), nil
				}
				return p, nil
			}
		}
	}
	x, y := a.float(), b.float()
	switch op {
	case opAdd:
		return x + y, nil
	case opSub:
		return x - y, nil
	case opMul:
		return x * y, nil
	case opDiv:
		if y == 0 {
			return nil, r.errorf(pos, "division by zero")
		}
		return x / y, nil
	case opFloorDiv:
		if y == 0 {
			return nil, r.errorf(pos, "division by zero")
		}
		// Twig's (int) floor(a / b): an integer, wrapping as PHP's cast.
		return floatToInt(math.Floor(x / y)), nil
	case opMod:
		xi, yi := floatToInt(x), floatToInt(y)
		if yi == 0 {
			return nil, r.errorf(pos, "modulo by zero")
		}
		if yi == -1 {
			return int64(0), nil
		}
		return xi % yi, nil
	case opPow:
		return math.Pow(x, y), nil
	}
	return nil, r.errorf(pos, "unknown operator")
}

func (e *filterExpr) eval(r *renderer) (any, error) {
	in, err := e.in.eval(r)
	if err != nil {
		return nil, err
	}
	if err := r.step(e.pos, 1); err != nil {
		return nil, err
	}
	if len(e.args) == 0 {
		return e.def.fn(r, e, in, nil)
	}
	base := len(r.args)
	for _, a := range e.args {
		v, err := a.eval(r)
		if err != nil {
			r.args = r.args[:base]
			return nil, err
		}
		r.args = append(r.args, v)
	}
	out, err := e.def.fn(r, e, in, r.args[base:])
	r.args = r.args[:base]
	return out, err
}

func (e *testExpr) eval(r *renderer) (any, error) {
	x, err := e.x.eval(r)
	if err != nil {
		return nil, err
	}
	var args []any
	for _, a := range e.args {
		v, err := a.eval(r)
		if err != nil {
			return nil, err
		}
		args = append(args, v)
	}
	if e.def.numeric {
		for _, v := range append([]any{x}, args...) {
			if !arithOperand(v) {
				return nil, r.errorf(e.pos, "test %q: unsupported operand %s", e.name, typeName(v))
			}
		}
		if len(args) > 0 && phpInt(args[0]) == 0 {
			return nil, r.errorf(e.pos, "test %q: modulo by zero", e.name)
		}
	}
	return e.def.fn(x, args) != e.neg, nil
}

// arithOperand reports whether PHP's arithmetic takes v: not arrays, and
// not the output captured by set … endset or a macro (a Twig Markup
// object).
func arithOperand(v any) bool {
	if _, ok := v.(capturedText); ok {
		return false
	}
	return !isArray(v)
}

func isArray(v any) bool {
	k := kindOf(v)
	return k == kList || k == kMap
}

func opText(op opcode) string {
	for text, o := range binaryOps {
		if o.op == op {
			return text
		}
	}
	return "?"
}

// splitOutput writes a conditional's chosen branch the way that branch
// is written: template text as it is, | raw unescaped, data escaped.
func (r *renderer) splitOutput(dst []byte, x *outputNode) ([]byte, error) {
	e := x.x
	for {
		c, ok := e.(*condExpr)
		if !ok || c.a == nil {
			break
		}
		v, err := c.cond.eval(r)
		if err != nil {
			return dst, err
		}
		switch {
		case truthy(v):
			e = c.a
		case c.b == nil:
			return dst, nil
		default:
			e = c.b
		}
	}
	v, err := e.eval(r)
	if err != nil {
		return dst, err
	}
	if r.tracing {
		r.trace = append(r.trace, span{out: len(dst) - r.start, src: e.position()})
	}
	before := len(dst)
	if _, ok := literalTexts(e); ok {
		dst = appendValidUTF8(dst, toString(v))
	} else if isRawExpr(e) {
		dst = appendString(dst, v)
	} else if dst, err = emit(dst, x.esc, v); err != nil {
		return dst, r.errorf(e.position(), "%v", err)
	}
	if err := r.checkOutput(dst, x.pos); err != nil {
		return dst, err
	}
	return dst, r.step(x.pos, (len(dst)-before)>>6)
}

// bitwiseStrings is PHP's &, | and ^ on two strings: byte by byte, as
// long as the shorter (& ^) or the longer (|) string.
func bitwiseStrings(op opcode, a, b string) string {
	if op == opBitOr {
		if len(a) < len(b) {
			a, b = b, a
		}
		out := []byte(a)
		for i := 0; i < len(b); i++ {
			out[i] |= b[i]
		}
		return string(out)
	}
	n := min(len(a), len(b))
	out := make([]byte, n)
	for i := 0; i < n; i++ {
		if op == opBitAnd {
			out[i] = a[i] & b[i]
		} else {
			out[i] = a[i] ^ b[i]
		}
	}
	return string(out)
}

// phpString returns v if PHP sees it as a string: the string kinds, but
// not captured output (a Twig Markup object).
func phpString(v any) (string, bool) {
	if _, ok := v.(capturedText); ok {
		return "", false
	}
	return stringOf(v)
}

// union is PHP's array + array: the left array, and the right one's
// elements at keys the left does not have.
func (r *renderer) union(pos int, l, rv any) (any, error) {
	la, lok := asList(l)
	ra, rok := asList(rv)
	if lok && rok {
		if len(ra) <= len(la) {
			return la, nil
		}
		if err := r.step(pos, len(ra)); err != nil {
			return nil, err
		}
		return append(append([]any(nil), la...), ra[len(la):]...), nil
	}
	lk, lm := phpKeys(l)
	rk, rm := phpKeys(rv)
	out := newOrderedHash(len(lk) + len(rk))
	for _, k := range lk {
		out.set(k, lm[k])
	}
	for _, k := range rk {
		if _, ok := lm[k]; !ok {
			out.set(k, rm[k])
		}
	}
	return out, r.step(pos, len(out.keys))
}
