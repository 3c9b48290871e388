package template

// Nodes of a compiled template. Every node and expression keeps the byte
// offset of its start in the source, for error messages.

type node interface{ nodePos() int }

// textNode is literal template text, written as is.
type textNode struct {
	text string
	pos  int
}

// outputNode is {{ expr }}. esc is decided at compile time from the literal
// text around it; raw is set when the expression ends in `| raw`.
type outputNode struct {
	x       expr
	pos     int // of "{{"
	exprPos int // of the expression's first token
	esc     escCtx
	raw     bool
	literal bool // the value is always template text (literalTexts)
	// split: the expression is a conditional whose branches are written
	// each in its own way (template text, | raw, or escaped by esc), as
	// Twig's escaper treats the branches of a conditional.
	split bool
}

// ifNode is if / elseif … / else / endif.
type ifNode struct {
	conds  []expr
	bodies [][]node
	els    []node
	pos    int
}

// forNode is for [key,] value in seq / else / endfor.
type forNode struct {
	keyName, valName string
	keySlot, valSlot int // keySlot is -1 without a key
	loopSlot         int
	seq              expr
	body, els        []node
	pos              int
	// bodySets are the slots that set tags inside the body assign; a slot
	// that was undefined before the loop is undefined again after it, as
	// in Twig, where loops are scoped.
	bodySets []int
}

// setNode is set a, b = x, y.
type setNode struct {
	names []string
	slots []int
	vals  []expr
	pos   int
}

func (n *textNode) nodePos() int   { return n.pos }
func (n *outputNode) nodePos() int { return n.pos }
func (n *ifNode) nodePos() int     { return n.pos }
func (n *forNode) nodePos() int    { return n.pos }
func (n *setNode) nodePos() int    { return n.pos }

// expr is an expression.
type expr interface {
	eval(r *renderer) (any, error)
	position() int
}

// literal is a constant.
type literal struct {
	v   any
	pos int
}

// nameExpr is a variable. slot >= 0 when set or for binds the name
// somewhere; when that slot is undefined at run time the root variables
// are consulted, as in Twig's single context.
type nameExpr struct {
	name string
	slot int
	pos  int
}

// pathKey is one constant step of a path: .name, .0, ['key'] or [0].
type pathKey struct {
	s     string
	i     int
	isInt bool
}

// pathExpr is base followed by constant keys.
type pathExpr struct {
	base expr
	keys []pathKey
	pos  int
}

// indexExpr is obj[idx] with a computed idx.
type indexExpr struct {
	obj, idx expr
	pos      int
}

type arrayExpr struct {
	elems []expr
	pos   int
}

type hashExpr struct {
	keys, vals []expr
	pos        int
}

type unaryExpr struct {
	op  opcode
	x   expr
	pos int
}

type binaryExpr struct {
	op   opcode
	l, r expr
	pos  int
}

// condExpr is cond ? a : b, cond ?: b (a nil) or cond ? a (b nil).
type condExpr struct {
	cond, a, b expr
	pos        int
}

// filterExpr is in | name(args…).
type filterExpr struct {
	name string
	def  *filterDef
	in   expr
	args []expr
	pos  int
}

// testExpr is x is [not] name(args…).
type testExpr struct {
	name string
	def  *testDef
	x    expr
	args []expr
	neg  bool
	pos  int
}

func (e *literal) position() int    { return e.pos }
func (e *nameExpr) position() int   { return e.pos }
func (e *pathExpr) position() int   { return e.pos }
func (e *indexExpr) position() int  { return e.pos }
func (e *arrayExpr) position() int  { return e.pos }
func (e *hashExpr) position() int   { return e.pos }
func (e *unaryExpr) position() int  { return e.pos }
func (e *binaryExpr) position() int { return e.pos }
func (e *condExpr) position() int   { return e.pos }
func (e *filterExpr) position() int { return e.pos }
func (e *testExpr) position() int   { return e.pos }

// opcode is a unary or binary operator.
type opcode uint8

const (
	opNone opcode = iota
	opOr
	opAnd
	opEq
	opNe
	opLt
	opGt
	opLe
	opGe
	opIn
	opNotIn
	opStartsWith
	opEndsWith
	opRange
	opAdd
	opSub
	opConcat
	opMul
	opDiv
	opFloorDiv
	opMod
	opPow
	opCoalesce
	opNot
	opNeg
	opPos
	opIs
	opIsNot
	opMatches
	opBitAnd
	opBitOr
	opBitXor
	opSpaceship
	opHasSome
	opHasEvery
)

// binaryOps maps operator text to opcode, precedence and right
// associativity, following Twig's table.
var binaryOps = map[string]struct {
	op    opcode
	prec  int
	right bool
}{
	"or":          {opOr, 10, false},
	"and":         {opAnd, 15, false},
	"b-or":        {opBitOr, 16, false},
	"b-xor":       {opBitXor, 17, false},
	"b-and":       {opBitAnd, 18, false},
	"matches":     {opMatches, 20, false},
	"==":          {opEq, 20, false},
	"!=":          {opNe, 20, false},
	"<=>":         {opSpaceship, 20, false},
	"<":           {opLt, 20, false},
	">":           {opGt, 20, false},
	"<=":          {opLe, 20, false},
	">=":          {opGe, 20, false},
	"in":          {opIn, 20, false},
	"not in":      {opNotIn, 20, false},
	"starts with": {opStartsWith, 20, false},
	"has some":    {opHasSome, 20, false},
	"has every":   {opHasEvery, 20, false},
	"ends with":   {opEndsWith, 20, false},
	"..":          {opRange, 25, false},
	"+":           {opAdd, 30, false},
	"-":           {opSub, 30, false},
	"~":           {opConcat, 40, false},
	"*":           {opMul, 60, false},
	"/":           {opDiv, 60, false},
	"//":          {opFloorDiv, 60, false},
	"%":           {opMod, 60, false},
	"is":          {opIs, 100, false},
	"is not":      {opIsNot, 100, false},
	"**":          {opPow, 200, true},
	"??":          {opCoalesce, 300, true},
}

var unaryOps = map[string]struct {
	op   opcode
	prec int
}{
	"not": {opNot, 50},
	"-":   {opNeg, 500},
	"+":   {opPos, 500},
}
