package template

import "fmt"

// escCtx says how one {{ }} is escaped; it is decided at compile time from
// the literal text before it.
type escCtx uint8

const (
	escPlain      escCtx = iota // as is (invalid UTF-8 replaced)
	escJSONValue                // JSON value position: a JSON value
	escJSONString               // inside a JSON string literal
	escXML                      // XML text
	escXMLAttr                  // quoted XML attribute value
	escXMLCDATA                 // inside <![CDATA[ … ]]>
	escXMLComment               // inside <!-- … -->
	escForm                     // form-encoded, space as +
	escURLPath                  // URL path or fragment: path-escaped
	escURLQuery                 // URL query: query-escaped
)

// ctxState is the lexical state of the output after some literal text.
type ctxState uint8

// JSON states.
const (
	jsOut    ctxState = iota // outside any string: value position
	jsStr                    // inside a string literal
	jsStrEsc                 // just after a backslash inside a string
)

// XML states.
const (
	xText ctxState = iota
	xLT            // after '<'
	xTag           // inside a start or end tag, outside attribute values
	xAttrDQ
	xAttrSQ
	xBang     // after "<!"
	xBangDash // after "<!-"
	xComment
	xCommentDash
	xCommentDashDash
	xCDATA
	xCD1 // "]" inside CDATA
	xCD2 // "]]" inside CDATA
	xPI
	xPIQ // "?" inside a processing instruction
	xDecl
	xDeclBracket
	xCDATAPrefix // + k: k characters of "[CDATA[" matched after "<!"
)

// URL states.
const (
	uStart ctxState = iota // scheme
	uSchemeColon
	uSlash1
	uAuthority
	uPath
	uQuery
	uFragment
)

const cdataOpen = "[CDATA["

// advance moves st over literal text s.
func advance(f Format, st ctxState, s string) ctxState {
	switch f {
	case JSON:
		for i := 0; i < len(s); i++ {
			c := s[i]
			switch st {
			case jsOut:
				if c == '"' {
					st = jsStr
				}
			case jsStr:
				if c == '\\' {
					st = jsStrEsc
				} else if c == '"' {
					st = jsOut
				}
			case jsStrEsc:
				st = jsStr
			}
		}
	case XML:
		for i := 0; i < len(s); i++ {
			st = xmlStep(st, s[i])
		}
	case URL:
		for i := 0; i < len(s); i++ {
			st = urlStep(st, s[i])
		}
	}
	return st
}

func xmlStep(st ctxState, c byte) ctxState {
	switch st {
	case xText:
		if c == '<' {
			return xLT
		}
	case xLT:
		switch c {
		case '!':
			return xBang
		case '?':
			return xPI
		}
		return xTag
	case xTag:
		switch c {
		case '"':
			return xAttrDQ
		case '\'':
			return xAttrSQ
		case '>':
			return xText
		}
	case xAttrDQ:
		if c == '"' {
			return xTag
		}
	case xAttrSQ:
		if c == '\'' {
			return xTag
		}
	case xBang:
		switch c {
		case '-':
			return xBangDash
		case '[':
			return xCDATAPrefix + 1
		case '>':
			return xText
		}
		return xDecl
	case xBangDash:
		if c == '-' {
			return xComment
		}
		return xDecl
	case xComment:
		if c == '-' {
			return xCommentDash
		}
	case xCommentDash:
		if c == '-' {
			return xCommentDashDash
		}
		return xComment
	case xCommentDashDash:
		switch c {
		case '>':
			return xText
		case '-':
			return xCommentDashDash
		}
		return xComment
	case xCDATA:
		if c == ']' {
			return xCD1
		}
	case xCD1:
		if c == ']' {
			return xCD2
		}
		return xCDATA
	case xCD2:
		switch c {
		case '>':
			return xText
		case ']':
			return xCD2
		}
		return xCDATA
	case xPI:
		if c == '?' {
			return xPIQ
		}
	case xPIQ:
		switch c {
		case '>':
			return xText
		case '?':
			return xPIQ
		}
		return xPI
	case xDecl:
		switch c {
		case '[':
			return xDeclBracket
		case '>':
			return xText
		}
	case xDeclBracket:
		if c == ']' {
			return xDecl
		}
	default: // CDATA prefix
		k := int(st - xCDATAPrefix)
		if k < len(cdataOpen) && c == cdataOpen[k] {
			if k+1 == len(cdataOpen) {
				return xCDATA
			}
			return st + 1
		}
		if c == '>' {
			return xText
		}
		return xDecl
	}
	return st
}

func urlStep(st ctxState, c byte) ctxState {
	switch st {
	case uStart:
		switch c {
		case ':':
			return uSchemeColon
		case '/':
			return uPath
		case '?':
			return uQuery
		case '#':
			return uFragment
		}
	case uSchemeColon:
		if c == '/' {
			return uSlash1
		}
		return uPath
	case uSlash1:
		if c == '/' {
			return uAuthority
		}
		return uPath
	case uAuthority:
		switch c {
		case '/':
			return uPath
		case '?':
			return uQuery
		case '#':
			return uFragment
		}
	case uPath:
		switch c {
		case '?':
			return uQuery
		case '#':
			return uFragment
		}
	case uQuery:
		if c == '#' {
			return uFragment
		}
	}
	return st
}

// exprContext returns how an expression at state st is escaped and the
// state after it, or an error message if no escaping can make it safe.
func exprContext(f Format, st ctxState) (escCtx, ctxState, string) {
	switch f {
	case JSON:
		switch st {
		case jsOut:
			return escJSONValue, jsOut, ""
		case jsStr:
			return escJSONString, jsStr, ""
		default:
			return 0, st, "an expression cannot follow a backslash inside a JSON string"
		}
	case XML:
		switch st {
		case xText:
			return escXML, st, ""
		case xAttrDQ, xAttrSQ:
			return escXMLAttr, st, ""
		case xComment, xCommentDash, xCommentDashDash:
			return escXMLComment, xComment, ""
		case xCDATA, xCD1, xCD2:
			return escXMLCDATA, xCDATA, ""
		case xLT, xTag:
			return 0, st, "an expression inside an XML tag must stand in a quoted attribute value (name=\"{{ … }}\")"
		default:
			return 0, st, "expressions are not allowed inside an XML declaration, processing instruction or DOCTYPE"
		}
	case URL:
		switch st {
		case uPath, uFragment:
			return escURLPath, st, ""
		case uQuery:
			return escURLQuery, st, ""
		default:
			return 0, st, "a value cannot stand in the URL's scheme or host: write the scheme and host literally and put values in the path or the query"
		}
	case FORM:
		return escForm, st, ""
	}
	return escPlain, st, ""
}

func describeState(f Format, st ctxState) string {
	switch f {
	case JSON:
		if st == jsOut {
			return "outside a JSON string"
		}
		return "inside a JSON string"
	case XML:
		switch st {
		case xText:
			return "in XML text"
		case xAttrDQ, xAttrSQ:
			return "inside an XML attribute value"
		case xLT, xTag:
			return "inside an XML tag"
		case xComment, xCommentDash, xCommentDashDash:
			return "inside an XML comment"
		case xCDATA, xCD1, xCD2:
			return "inside a CDATA section"
		}
		return "inside an XML declaration"
	case URL:
		switch st {
		case uPath:
			return "in the URL path"
		case uQuery:
			return "in the URL query"
		case uFragment:
			return "in the URL fragment"
		}
		return "in the URL scheme or host"
	}
	return "in text"
}

// analyzeContexts walks the template as the output will be produced and
// decides the escaping of every {{ }}. Branches of an if must leave the
// output in the same state, and a loop body must end in the state it
// started in; otherwise the escaping would depend on the data, and the
// template is refused.
func (t *Template) analyzeContexts() error {
	start := ctxState(0)
	if _, err := t.analyze(t.format, t.root, start); err != nil {
		return err
	}
	// Captured output (macros, set … endset, apply) is a value, written
	// where it is used with that place's escaping; inside, nothing is
	// escaped.
	for _, m := range t.macros {
		if _, err := t.analyze(PLAIN, m.body, 0); err != nil {
			return err
		}
	}
	return nil
}

func (t *Template) analyze(f Format, ns []node, st ctxState) (ctxState, error) {
	for _, n := range ns {
		switch x := n.(type) {
		case *textNode:
			st = advance(f, st, x.text)
		case *outputNode:
			if lits, ok := literalTexts(x.x); ok && !x.raw {
				// Text the author wrote is trusted template text, as in
				// html/template: written unescaped, the output state
				// follows it.
				end := advance(f, st, lits[0])
				for _, l := range lits[1:] {
					if e := advance(f, st, l); e != end {
						return st, t.errorAt(x.pos, fmt.Sprintf("the values of this expression leave the output in different places (%s after %q, %s after %q); each must leave it in the same place",
							describeState(f, end), lits[0], describeState(f, e), l))
					}
				}
				x.literal = true
				x.esc = escPlain
				st = end
				continue
			}
			if leaves := condLeaves(x.x, nil); !x.raw && len(leaves) > 1 && hasTrustedLeaf(leaves) {
				end, err := t.analyzeLeaves(f, st, x, leaves)
				if err != nil {
					return st, err
				}
				x.split = true
				st = end
				continue
			}
			ctx, after, msg := exprContext(f, st)
			if msg != "" && !x.raw {
				return st, t.errorAt(x.pos, msg)
			}
			x.esc = ctx
			st = after
		case *applyNode:
			if _, err := t.analyze(PLAIN, x.body, 0); err != nil {
				return st, err
			}
			ctx, after, msg := exprContext(f, st)
			if msg != "" && !x.raw {
				return st, t.errorAt(x.pos, msg)
			}
			x.esc = ctx
			st = after
		case *setBlockNode:
			if _, err := t.analyze(PLAIN, x.body, 0); err != nil {
				return st, err
			}
		case *withNode:
			e, err := t.analyze(f, x.body, st)
			if err != nil {
				return st, err
			}
			st = e
		case *ifNode:
			end, err := t.analyze(f, x.bodies[0], st)
			if err != nil {
				return st, err
			}
			for _, b := range x.bodies[1:] {
				e, err := t.analyze(f, b, st)
				if err != nil {
					return st, err
				}
				if e != end {
					return st, t.branchError(x.pos, end, e)
				}
			}
			e, err := t.analyze(f, x.els, st)
			if err != nil {
				return st, err
			}
			if e != end {
				return st, t.branchError(x.pos, end, e)
			}
			st = end
		case *forNode:
			e, err := t.analyze(f, x.body, st)
			if err != nil {
				return st, err
			}
			if e != st {
				return st, t.errorAt(x.pos, fmt.Sprintf("the body of this {%% for %%} starts %s but ends %s; a loop body must end where it starts",
					describeState(f, st), describeState(f, e)))
			}
			e, err = t.analyze(f, x.els, st)
			if err != nil {
				return st, err
			}
			if e != st {
				return st, t.errorAt(x.pos, fmt.Sprintf("the {%% else %%} of this {%% for %%} ends %s but the loop ends %s; both must end in the same place",
					describeState(f, e), describeState(f, st)))
			}
		}
	}
	return st, nil
}

// condLeaves lists the branches of nested conditionals (c ? a : b).
func condLeaves(e expr, out []expr) []expr {
	if c, ok := e.(*condExpr); ok && c.a != nil && len(out) < maxLiteralTexts {
		out = condLeaves(c.a, out)
		if c.b == nil {
			return append(out, &literal{v: "", pos: c.pos})
		}
		return condLeaves(c.b, out)
	}
	return append(out, e)
}

func isRawExpr(e expr) bool {
	f, ok := e.(*filterExpr)
	return ok && f.name == "raw"
}

func hasTrustedLeaf(leaves []expr) bool {
	for _, l := range leaves {
		if _, ok := literalTexts(l); ok || isRawExpr(l) {
			return true
		}
	}
	return false
}

// analyzeLeaves checks that every branch of a split output leaves the
// output in the same place, and decides the escaping of the data ones.
func (t *Template) analyzeLeaves(f Format, st ctxState, x *outputNode, leaves []expr) (ctxState, error) {
	var ends []ctxState
	var what []string
	for _, l := range leaves {
		switch lits, ok := literalTexts(l); {
		case ok:
			for _, s := range lits {
				ends = append(ends, advance(f, st, s))
				what = append(what, fmt.Sprintf("after %q", s))
			}
		case isRawExpr(l):
			ends = append(ends, st)
			what = append(what, "after | raw")
		default:
			ctx, after, msg := exprContext(f, st)
			if msg != "" {
				return st, t.errorAt(l.position(), msg)
			}
			x.esc = ctx
			ends = append(ends, after)
			what = append(what, "after a value")
		}
	}
	for i := range ends {
		if ends[i] != ends[0] {
			return st, t.errorAt(x.pos, fmt.Sprintf("the branches of this expression leave the output in different places (%s %s, %s %s); each must leave it in the same place",
				describeState(f, ends[0]), what[0], describeState(f, ends[i]), what[i]))
		}
	}
	return ends[0], nil
}

// maxLiteralTexts bounds how many texts literalTexts enumerates.
const maxLiteralTexts = 16

// literalTexts returns the strings e can produce when every one of them
// is text the template's author wrote: a string literal, a conditional
// choosing between such expressions (whatever decides it), and
// concatenations of them. Such output is template text, not data.
func literalTexts(e expr) ([]string, bool) {
	switch x := e.(type) {
	case *literal:
		s, ok := x.v.(string)
		if !ok {
			return nil, false
		}
		return []string{s}, true
	case *condExpr:
		if x.a == nil {
			return nil, false // c ?: b yields c itself
		}
		a, ok := literalTexts(x.a)
		if !ok {
			return nil, false
		}
		b := []string{""}
		if x.b != nil {
			if b, ok = literalTexts(x.b); !ok {
				return nil, false
			}
		}
		return unionTexts(a, b)
	case *binaryExpr:
		if x.op != opConcat {
			return nil, false
		}
		l, ok := literalTexts(x.l)
		if !ok {
			return nil, false
		}
		r, ok := literalTexts(x.r)
		if !ok || len(l)*len(r) > maxLiteralTexts {
			return nil, false
		}
		out := make([]string, 0, len(l)*len(r))
		for _, a := range l {
			for _, b := range r {
				out = append(out, a+b)
			}
		}
		return out, true
	}
	return nil, false
}

func unionTexts(a, b []string) ([]string, bool) {
	out := append(append([]string(nil), a...), b...)
	if len(out) > maxLiteralTexts {
		return nil, false
	}
	return out, true
}

func (t *Template) branchError(pos int, a, b ctxState) error {
	da, db := describeState(t.format, a), describeState(t.format, b)
	if da == db {
		da, db = fmt.Sprintf("%s (state %d)", da, a), fmt.Sprintf("%s (state %d)", db, b)
	}
	return t.errorAt(pos, fmt.Sprintf("the branches of this {%% if %%} end in different places (%s in one, %s in another); each branch must leave the output in the same place", da, db))
}
