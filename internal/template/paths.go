package template

import (
	"strconv"
	"strings"
)

// segKind is one step of a variable path.
type segKind uint8

const (
	segKey   segKind = iota // .name or ['name']
	segIndex                // [0]
	segAny                  // []: any element (a loop variable)
)

type pathSeg struct {
	kind segKind
	key  string
	idx  int
}

// varPath is a path with its segments, as Check walks them.
type varPath struct {
	segs []pathSeg
	pos  int
}

func (p varPath) String() string {
	var b strings.Builder
	for i, s := range p.segs {
		switch s.kind {
		case segKey:
			if isIdent(s.key) {
				if i > 0 {
					b.WriteByte('.')
				}
				b.WriteString(s.key)
			} else {
				b.WriteString("['")
				b.WriteString(strings.ReplaceAll(strings.ReplaceAll(s.key, `\`, `\\`), "'", `\'`))
				b.WriteString("']")
			}
		case segIndex:
			b.WriteByte('[')
			b.WriteString(strconv.Itoa(s.idx))
			b.WriteByte(']')
		case segAny:
			b.WriteString("[]")
		}
	}
	return b.String()
}

func isIdent(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		if !(isNameChar(r) && (i > 0 || isNameStart(r))) {
			return false
		}
	}
	return true
}

// binding is what a set or for bound a name to: a variable path (alias)
// or a value that is not one (local).
type binding struct {
	alias []pathSeg
	local bool
}

type pathCollector struct {
	env map[string]binding
	out []varPath
}

// collectPaths lists the variable paths the template reads, resolving
// names bound by set and for lexically.
func collectPaths(t *Template) []PathRef {
	c := &pathCollector{env: map[string]binding{}}
	c.nodes(t.root)
	t.varPaths = c.out
	refs := make([]PathRef, len(c.out))
	for i, p := range c.out {
		line, col := t.position(p.pos)
		refs[i] = PathRef{Path: p.String(), Line: line, Column: col}
	}
	return refs
}

func (c *pathCollector) nodes(ns []node) {
	for _, n := range ns {
		switch x := n.(type) {
		case *outputNode:
			c.expr(x.x)
		case *ifNode:
			for i, cond := range x.conds {
				c.expr(cond)
				c.nodes(x.bodies[i])
			}
			c.nodes(x.els)
		case *forNode:
			c.expr(x.seq)
			names := []string{x.valName, "loop"}
			if x.keyName != "" {
				names = append(names, x.keyName)
			}
			saved := map[string]binding{}
			present := map[string]bool{}
			for _, name := range names {
				saved[name], present[name] = c.env[name]
			}
			if segs, ok := c.pathOf(x.seq); ok {
				c.env[x.valName] = binding{alias: append(append([]pathSeg{}, segs...), pathSeg{kind: segAny})}
			} else {
				c.env[x.valName] = binding{local: true}
			}
			c.env["loop"] = binding{local: true}
			if x.keyName != "" {
				c.env[x.keyName] = binding{local: true}
			}
			c.nodes(x.body)
			for _, name := range names {
				if present[name] {
					c.env[name] = saved[name]
				} else {
					delete(c.env, name)
				}
			}
			c.nodes(x.els)
		case *setBlockNode:
			c.nodes(x.body)
			c.env[x.name] = binding{local: true}
		case *applyNode:
			c.nodes(x.body)
			c.expr(x.x)
		case *withNode:
			if x.vars != nil {
				c.expr(x.vars)
			}
			saved := c.env
			c.env = map[string]binding{}
			if !x.only {
				for k, v := range saved {
					c.env[k] = v
				}
			}
			for _, k := range x.keys {
				c.env[k] = binding{local: true}
			}
			if x.only || len(x.keys) == 0 && x.vars != nil {
				// Only the hash's keys are visible, or the keys are not
				// known: report nothing inside that could be a key.
				c.walkLocal(x.body)
			} else {
				c.nodes(x.body)
			}
			c.env = saved
		case *setNode:
			for i, v := range x.vals {
				c.expr(v)
				if segs, ok := c.pathOf(v); ok {
					c.env[x.names[i]] = binding{alias: segs}
				} else {
					c.env[x.names[i]] = binding{local: true}
				}
			}
		}
	}
}

// pathOf returns the variable path e reads, if e is a plain path of a
// variable (not of a local that holds a computed value).
func (c *pathCollector) pathOf(e expr) ([]pathSeg, bool) {
	switch x := e.(type) {
	case *nameExpr:
		if b, ok := c.env[x.name]; ok {
			if b.local {
				return nil, false
			}
			return b.alias, true
		}
		return []pathSeg{{kind: segKey, key: x.name}}, true
	case *pathExpr:
		base, ok := c.pathOf(x.base)
		if !ok {
			return nil, false
		}
		segs := append([]pathSeg{}, base...)
		for _, k := range x.keys {
			if k.isInt {
				segs = append(segs, pathSeg{kind: segIndex, idx: k.i, key: k.s})
			} else {
				segs = append(segs, pathSeg{kind: segKey, key: k.s})
			}
		}
		return segs, true
	}
	return nil, false
}

func (c *pathCollector) record(e expr) bool {
	segs, ok := c.pathOf(e)
	if ok && len(segs) > 0 {
		c.out = append(c.out, varPath{segs: segs, pos: e.position()})
	}
	return ok
}

// walkLocal walks nodes whose names are not event data (inside
// {% with … only %}): nothing is recorded.
func (c *pathCollector) walkLocal(ns []node) {
	out := c.out
	c.nodes(ns)
	c.out = out
}

func (c *pathCollector) expr(e expr) {
	switch x := e.(type) {
	case nil, *literal:
	case *funcExpr:
		for _, a := range x.args {
			c.expr(a)
		}
	case *macroCallExpr:
		for _, a := range x.args {
			c.expr(a)
		}
	case *arrowExpr:
		saved := map[string]binding{}
		present := map[string]bool{}
		for _, n := range x.params {
			saved[n], present[n] = c.env[n]
			c.env[n] = binding{local: true}
		}
		c.expr(x.body)
		for _, n := range x.params {
			if present[n] {
				c.env[n] = saved[n]
			} else {
				delete(c.env, n)
			}
		}
	case *nameExpr:
		if !strings.HasPrefix(x.name, "\x00") { // apply's hidden local
			c.record(x)
		}
	case *pathExpr:
		if !c.record(x) {
			c.expr(x.base)
		}
	case *indexExpr:
		if !c.record(x.obj) {
			c.expr(x.obj)
		}
		c.expr(x.idx)
	case *arrayExpr:
		for _, el := range x.elems {
			c.expr(el)
		}
	case *hashExpr:
		for i := range x.keys {
			c.expr(x.keys[i])
			c.expr(x.vals[i])
		}
	case *unaryExpr:
		c.expr(x.x)
	case *binaryExpr:
		c.expr(x.l)
		c.expr(x.r)
	case *condExpr:
		c.expr(x.cond)
		if x.a != nil {
			c.expr(x.a)
		}
		if x.b != nil {
			c.expr(x.b)
		}
	case *filterExpr:
		c.expr(x.in)
		for _, a := range x.args {
			c.expr(a)
		}
	case *testExpr:
		c.expr(x.x)
		for _, a := range x.args {
			c.expr(a)
		}
	}
}
