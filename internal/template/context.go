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
	_, err := t.analyze(t.root, start)
	return err
}

func (t *Template) analyze(ns []node, st ctxState) (ctxState, error) {
	f := t.format
	for _, n := range ns {
		switch x := n.(type) {
		case *textNode:
			st = advance(f, st, x.text)
		case *outputNode:
			ctx, after, msg := exprContext(f, st)
			if msg != "" && !x.raw {
				return st, t.errorAt(x.pos, msg)
			}
			x.esc = ctx
			st = after
		case *ifNode:
			end, err := t.analyze(x.bodies[0], st)
			if err != nil {
				return st, err
			}
			for _, b := range x.bodies[1:] {
				e, err := t.analyze(b, st)
				if err != nil {
					return st, err
				}
				if e != end {
					return st, t.branchError(x.pos, end, e)
				}
			}
			e, err := t.analyze(x.els, st)
			if err != nil {
				return st, err
			}
			if e != end {
				return st, t.branchError(x.pos, end, e)
			}
			st = end
		case *forNode:
			e, err := t.analyze(x.body, st)
			if err != nil {
				return st, err
			}
			if e != st {
				return st, t.errorAt(x.pos, fmt.Sprintf("the body of this {%% for %%} starts %s but ends %s; a loop body must end where it starts",
					describeState(f, st), describeState(f, e)))
			}
			e, err = t.analyze(x.els, st)
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

func (t *Template) branchError(pos int, a, b ctxState) error {
	da, db := describeState(t.format, a), describeState(t.format, b)
	if da == db {
		da, db = fmt.Sprintf("%s (state %d)", da, a), fmt.Sprintf("%s (state %d)", db, b)
	}
	return t.errorAt(pos, fmt.Sprintf("the branches of this {%% if %%} end in different places (%s in one, %s in another); each branch must leave the output in the same place", da, db))
}
