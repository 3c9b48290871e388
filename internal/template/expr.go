package template

import (
	"fmt"
	"time"
	"unicode/utf8"
)

// Expr is one compiled Twig expression, such as a webhook's condition
// (`member.tier == "gold" and points > 100`): what stands inside
// `{{ }}`, without the delimiters. Like a Template it is immutable and
// safe for concurrent use.
type Expr struct {
	t *Template
	x expr
}

// MaxExprBytes bounds an expression's source.
const MaxExprBytes = 8 << 10

// CompileExpr parses src as one expression. Errors are an *Error with the
// line and column in src, like Compile's. opts.Format is ignored (an
// expression produces a value, not output); Location and MaxSteps apply.
func CompileExpr(src string, opts Options) (*Expr, error) {
	t := &Template{src: src, format: PLAIN, loc: opts.Location, maxOut: opts.MaxOutputBytes, maxSteps: opts.MaxSteps}
	t.lines, t.ascii = lineStarts(src)
	if t.loc == nil {
		t.loc = time.UTC
	}
	if t.maxOut <= 0 {
		t.maxOut = DefaultMaxOutputBytes
	}
	if t.maxSteps <= 0 {
		t.maxSteps = DefaultMaxSteps
	}
	if len(src) > MaxExprBytes {
		return nil, t.errorAt(0, fmt.Sprintf("expression is %d bytes, more than the limit of %d bytes", len(src), MaxExprBytes))
	}
	if !utf8.ValidString(src) {
		return nil, t.errorAt(0, "expression is not valid UTF-8")
	}
	l := &lexer{src: src}
	if _, lerr := l.lexExpr(0, exprBare); lerr != nil {
		return nil, t.errorAt(lerr.pos, lerr.msg)
	}
	toks := append(l.toks, token{kind: tkEOF, pos: len(src)})
	if len(toks) == 1 {
		return nil, t.errorAt(0, "the expression is empty")
	}
	p := &parser{t: t, toks: toks, slots: map[string]int{}, macros: map[string]*macroDef{},
		aliases: map[string]bool{}, fromNames: map[string]string{}}
	x, err := p.parseWholeExpr()
	if err != nil {
		return nil, err
	}
	for _, n := range p.names {
		if s, ok := p.slots[n.name]; ok {
			n.slot = s
		}
	}
	t.slotNames = p.slots
	t.nslots = len(p.slots)
	t.root = []node{&outputNode{x: x}}
	t.paths = collectPaths(t)
	t.root = nil
	return &Expr{t: t, x: x}, nil
}

func (p *parser) parseWholeExpr() (x expr, err error) {
	defer func() {
		if r := recover(); r != nil {
			pe, ok := r.(*parseError)
			if !ok {
				panic(r)
			}
			err = &Error{Diagnostics: sortDiags(append(p.diags, p.t.diag(pe.pos, pe.msg)))}
		}
	}()
	x = p.parseExpression(0)
	if tok := p.peek(); tok.kind != tkEOF {
		p.fail(tok.pos, "unexpected %s after the end of the expression", tok)
	}
	p.resolveMacros()
	if len(p.diags) > 0 {
		return nil, &Error{Diagnostics: sortDiags(p.diags)}
	}
	return x, nil
}

// Source is the expression's text.
func (e *Expr) Source() string { return e.t.src }

// Paths lists the variable paths the expression reads.
func (e *Expr) Paths() []PathRef { return e.t.paths }

// MissingPaths returns a warning for every path the sample does not provide.
func (e *Expr) MissingPaths(sample map[string]any) []Diagnostic { return e.t.MissingPaths(sample) }

// Eval evaluates the expression over vars (as Render reads them). An
// error (a filter that fails, too much work) is an *Error positioned in
// the expression's source.
func (e *Expr) Eval(vars map[string]any) (v any, err error) {
	if panicSafety {
		defer func() {
			if p := recover(); p != nil {
				v, err = nil, e.t.errorAt(0, fmt.Sprintf("internal error while evaluating: %v", p))
			}
		}()
	}
	r := rendererPool.Get().(*renderer)
	r.reset(e.t, vars, 0)
	v, err = e.x.eval(r)
	r.release()
	if v == undef {
		v = nil
	}
	return v, err
}

// Truthy evaluates the expression and converts the result as Twig's `if`
// does (PHP's boolean conversion: "", "0", 0, empty lists and undefined
// values are false).
func (e *Expr) Truthy(vars map[string]any) (bool, error) {
	v, err := e.Eval(vars)
	if err != nil {
		return false, err
	}
	return truthy(v), nil
}

// Truthy is Twig's boolean conversion of a value (as `if` does).
func Truthy(v any) bool { return truthy(v) }

// Describe writes a result for a person ("false", "null", `"abc"`).
func Describe(v any) string {
	switch x := v.(type) {
	case nil:
		return "null"
	case bool:
		if x {
			return "true"
		}
		return "false"
	case string:
		return fmt.Sprintf("%q", x)
	}
	if s, ok := phpString(v); ok {
		return s
	}
	return fmt.Sprintf("%v", v)
}
