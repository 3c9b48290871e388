package template

import (
	"math"
	"sort"
	"strings"
	"time"
)

// Twig's functions that make sense in a payload: date, max, min, range,
// cycle and attribute. (include, source, constant and random do not: a
// payload template is self-contained and deterministic.)

type funcFunc func(r *renderer, e *funcExpr, args []any) (any, error)

type funcDef struct {
	fn               funcFunc
	minArgs, maxArgs int // maxArgs -1: any number
}

// funcExpr is name(args…).
type funcExpr struct {
	name string
	def  *funcDef
	args []expr
	pos  int
}

func (e *funcExpr) position() int { return e.pos }

var funcTable map[string]*funcDef

func init() {
	funcTable = map[string]*funcDef{
		"attribute": {fn: fnAttribute, minArgs: 2, maxArgs: 2},
		"cycle":     {fn: fnCycle, minArgs: 2, maxArgs: 2},
		"date":      {fn: fnDate, maxArgs: 2},
		"max":       {fn: fnMax, minArgs: 1, maxArgs: -1},
		"min":       {fn: fnMin, minArgs: 1, maxArgs: -1},
		"range":     {fn: fnRange, minArgs: 2, maxArgs: 3},
	}
}

func funcNames() []string {
	names := make([]string, 0, len(funcTable))
	for n := range funcTable {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func (e *funcExpr) eval(r *renderer) (any, error) {
	if err := r.step(e.pos, 1); err != nil {
		return nil, err
	}
	args := make([]any, len(e.args))
	for i, a := range e.args {
		v, err := a.eval(r)
		if err != nil {
			return nil, err
		}
		args[i] = v
	}
	return e.def.fn(r, e, args)
}

// fnDate is date(value, timezone): a date value, as Twig's date() returns
// a DateTime. null means now, as in Twig.
func fnDate(r *renderer, e *funcExpr, args []any) (any, error) {
	in := argAt(args, 0)
	loc, keep, err := r.zoneArg(e.pos, argAt(args, 1), len(args) > 1)
	if err != nil {
		return nil, err
	}
	if isNull(in) || phpArrayStrings && blankText(in) {
		return r.currentTime().In(loc), nil
	}
	if blankDate(in) {
		return nil, nil // "" or false from the data: missing, not now
	}
	t, ok := r.toTime(in, r.t.loc)
	if !ok {
		return nil, r.errorf(e.pos, "date: cannot read %q as a date", clipText(toString(in)))
	}
	if !keep {
		t = t.In(loc)
	} else if isNumberType(in) {
		t = t.In(utcOffsetZone)
	}
	return t, nil
}

// zoneArg reads a time zone argument: null (the default zone), false
// (keep the value's own zone) or a zone name.
func (r *renderer) zoneArg(pos int, tz any, given bool) (*time.Location, bool, error) {
	if !given {
		return r.t.loc, false, nil
	}
	switch x := tz.(type) {
	case nil, undefined:
		return r.t.loc, false, nil
	case bool:
		if !x {
			return r.t.loc, true, nil
		}
	}
	name := toString(tz)
	l, ok := loadLocation(name)
	if !ok {
		return nil, false, r.errorf(pos, "date: unknown time zone %q", name)
	}
	return l, false, nil
}

// blankDate reports a value date() renders empty for (where Twig would
// use the current time): null, missing, false and blank strings.
func blankDate(v any) bool {
	if phpArrayStrings {
		return false
	}
	switch x := v.(type) {
	case nil, undefined:
		return true
	case bool:
		return !x
	}
	s, ok := stringOf(v)
	return ok && strings.TrimSpace(s) == ""
}

func clipText(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// extremeArgs is what max and min compare: the list when given one
// iterable, the arguments otherwise.
func extremeArgs(args []any) []any {
	if len(args) == 1 {
		if vals, ok := iterValues(args[0]); ok {
			return vals
		}
	}
	return args
}

func fnMax(r *renderer, e *funcExpr, args []any) (any, error) { return extreme(r, e, args, 1) }
func fnMin(r *renderer, e *funcExpr, args []any) (any, error) { return extreme(r, e, args, -1) }

// extreme is PHP's max (sign 1) or min (sign -1) with PHP 8 comparison.
func extreme(r *renderer, e *funcExpr, args []any, sign int) (any, error) {
	vals := extremeArgs(args)
	if len(vals) == 0 {
		return nil, r.errorf(e.pos, "%s: the list is empty", e.name)
	}
	if err := r.step(e.pos, len(vals)); err != nil {
		return nil, err
	}
	best := vals[0]
	for _, v := range vals[1:] {
		c, ok := compareValues(v, best)
		if ok && c*sign > 0 {
			best = v
		}
	}
	return best, nil
}

func fnRange(r *renderer, e *funcExpr, args []any) (any, error) {
	if len(args) == 3 {
		return r.rangeStep(e.pos, args[0], args[1], args[2])
	}
	return r.rangeValues(e.pos, args[0], args[1])
}

// rangeStep is PHP's range(low, high, step) with a step other than 1.
func (r *renderer) rangeStep(pos int, a, b, st any) (any, error) {
	sn, _ := toNumber(st)
	x, _ := toNumber(a)
	y, _ := toNumber(b)
	step := math.Abs(sn.float())
	if step == 0 {
		return nil, r.errorf(pos, "range: the step must not be 0")
	}
	isFloat := x.isFloat || y.isFloat || sn.isFloat && step != math.Trunc(step)
	lo, hi := x.float(), y.float()
	n := math.Floor(math.Abs(hi-lo)/step) + 1
	if n > float64(r.maxSteps) {
		return nil, r.errorf(pos, "range is longer than the step limit of %d", r.maxSteps)
	}
	if err := r.step(pos, int(n)); err != nil {
		return nil, err
	}
	out := make([]any, 0, int(n))
	dir := 1.0
	if hi < lo {
		dir = -1
	}
	for i := 0; i < int(n); i++ {
		v := lo + dir*float64(i)*step
		if isFloat {
			out = append(out, v)
		} else {
			out = append(out, int64(v))
		}
	}
	return out, nil
}

func fnCycle(r *renderer, e *funcExpr, args []any) (any, error) {
	vals, ok := iterValues(args[0])
	if !ok {
		return args[0], nil
	}
	if len(vals) == 0 {
		return nil, r.errorf(e.pos, "cycle: the list is empty")
	}
	n, _ := toNumber(args[1])
	i := int64(n.float())
	if !n.isFloat {
		i = n.i
	}
	m := i % int64(len(vals))
	if m < 0 {
		return nil, nil // PHP reads a negative index: missing
	}
	return vals[m], nil
}

func fnAttribute(r *renderer, e *funcExpr, args []any) (any, error) {
	return getIndex(args[0], args[1]), nil
}

// arrowExpr is an arrow function, (a, b) => body, as a filter argument.
type arrowExpr struct {
	params []string
	slots  []int
	body   expr
	pos    int
}

func (e *arrowExpr) position() int { return e.pos }

// eval returns the arrow itself: filters call it.
func (e *arrowExpr) eval(*renderer) (any, error) { return e, nil }

// call runs the arrow with args bound to its parameters.
func (r *renderer) call(a *arrowExpr, args ...any) (any, error) {
	if err := r.step(a.pos, 1); err != nil {
		return nil, err
	}
	var saved [4]any
	for i, s := range a.slots {
		if i < len(saved) {
			saved[i] = r.locals[s]
		}
		if i < len(args) {
			r.locals[s] = args[i]
		} else {
			r.locals[s] = nil
		}
	}
	v, err := a.body.eval(r)
	for i, s := range a.slots {
		if i < len(saved) {
			r.locals[s] = saved[i]
		}
	}
	return v, err
}

func blankText(v any) bool {
	if b, ok := v.(bool); ok {
		return !b
	}
	s, ok := stringOf(v)
	return ok && strings.TrimSpace(s) == ""
}
