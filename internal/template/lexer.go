package template

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// tokKind is the kind of a lexical token.
type tokKind uint8

const (
	tkEOF      tokKind = iota
	tkText             // literal text between delimiters
	tkVarOpen          // {{
	tkVarClose         // }}
	tkTagOpen          // {%
	tkTagClose         // %}
	tkName             // identifier or word operator
	tkNumber           // 12, 1.5, 1e3
	tkString           // 'a' or "a", already unescaped
	tkOp               // operators and punctuation
)

// token is one lexical token. pos is the byte offset in the source.
type token struct {
	kind tokKind
	val  string
	pos  int
	trim bool // on an open delimiter: {{- / {%-; on a close delimiter: -}} / -%}
}

func (t token) String() string {
	switch t.kind {
	case tkEOF:
		return "end of template"
	case tkText:
		return "text"
	case tkVarOpen:
		return `"{{"`
	case tkVarClose:
		return `"}}"`
	case tkTagOpen:
		return `"{%"`
	case tkTagClose:
		return `"%}"`
	case tkString:
		return fmt.Sprintf("string %q", t.val)
	case tkNumber:
		return fmt.Sprintf("number %s", t.val)
	}
	return fmt.Sprintf("%q", t.val)
}

// lexError is a lexical error at a byte offset.
type lexError struct {
	pos int
	msg string
}

// ops lists operators and punctuation, longest first.
var ops = []string{"<=>", "??", "?:", "=>", "==", "!=", "<=", ">=", "//", "**", "..",
	"+", "-", "*", "/", "%", "~", "<", ">", "?", ":", "=", "|", ".", ",", "(", ")", "[", "]", "{", "}"}

// lex splits src into tokens. Comments are dropped; whitespace control
// ({{- -}} and friends) is applied to the neighbouring text tokens here.
func lex(src string) ([]token, *lexError) {
	l := &lexer{src: src}
	if err := l.run(); err != nil {
		return nil, err
	}
	l.toks = append(l.toks, token{kind: tkEOF, pos: len(src)})
	return l.toks, nil
}

type lexer struct {
	src  string
	i    int
	toks []token
}

// trimMode is what a delimiter trims from the neighbouring text, as
// Twig's lexer does.
type trimMode uint8

const (
	trimNone    trimMode = iota
	trimNewline          // after %} and #}: one newline
	trimSpace            // - : all whitespace
	trimLine             // ~ : spaces and tabs, not newlines
)

// pcreSpace is \s in Twig's regular expressions; phpSpace is what PHP's
// rtrim removes; lineSpace is Twig's whitespace_line_chars.
const (
	pcreSpace = " \t\n\r\v\f"
	phpSpace  = " \t\n\r\x00\x0B"
	lineSpace = " \t\x00\x0B"
)

func trimModeOf(c byte) trimMode {
	switch c {
	case '-':
		return trimSpace
	case '~':
		return trimLine
	}
	return trimNone
}

// emitText adds literal text, trimmed on the left by the delimiter before
// it and on the right by the one after it. Line endings become "\n", as
// Twig normalizes them in the whole source.
func (l *lexer) emitText(s string, pos int, left, right trimMode) {
	switch left {
	case trimNewline:
		if strings.HasPrefix(s, "\r\n") {
			s, pos = s[2:], pos+2
		} else if s != "" && (s[0] == '\n' || s[0] == '\r') {
			s, pos = s[1:], pos+1
		}
	case trimSpace:
		t := strings.TrimLeft(s, pcreSpace)
		s, pos = t, pos+len(s)-len(t)
	case trimLine:
		t := strings.TrimLeft(s, lineSpace)
		s, pos = t, pos+len(s)-len(t)
	}
	switch right {
	case trimSpace:
		s = strings.TrimRight(s, phpSpace)
	case trimLine:
		s = strings.TrimRight(s, lineSpace)
	}
	if strings.IndexByte(s, '\r') >= 0 {
		s = strings.ReplaceAll(strings.ReplaceAll(s, "\r\n", "\n"), "\r", "\n")
	}
	if s == "" {
		return
	}
	l.toks = append(l.toks, token{kind: tkText, val: s, pos: pos})
}

func (l *lexer) run() *lexError {
	src := l.src
	left := trimNone
	for l.i < len(src) {
		j := nextDelim(src, l.i)
		if j < 0 {
			l.emitText(src[l.i:], l.i, left, trimNone)
			return nil
		}
		openTrim := trimNone
		if j+2 < len(src) {
			openTrim = trimModeOf(src[j+2])
		}
		l.emitText(src[l.i:j], l.i, left, openTrim)
		left = trimNone
		start := j
		l.i = j + 2
		if openTrim != trimNone {
			l.i++
		}
		switch src[j+1] {
		case '#':
			end := strings.Index(src[l.i:], "#}")
			if end < 0 {
				return &lexError{start, `comment "{#" is never closed: expected "#}"`}
			}
			closeAt := l.i + end
			left = trimNewline
			if closeAt > l.i {
				if m := trimModeOf(src[closeAt-1]); m != trimNone {
					left = m
				}
			}
			l.i = closeAt + 2
		case '{':
			l.toks = append(l.toks, token{kind: tkVarOpen, pos: start, trim: openTrim != trimNone})
			closeTrim, err := l.lexExpr(start, exprVar)
			if err != nil {
				return err
			}
			left = closeTrim
		case '%':
			l.toks = append(l.toks, token{kind: tkTagOpen, pos: start, trim: openTrim != trimNone})
			if ok, closeTrim, err := l.lexVerbatim(start); ok || err != nil {
				if err != nil {
					return err
				}
				left = closeTrim
				continue
			}
			closeTrim, err := l.lexExpr(start, exprTag)
			if err != nil {
				return err
			}
			left = closeTrim
		}
	}
	return nil
}

// nextDelim returns the offset of the next "{{", "{%" or "{#" at or after i.
func nextDelim(src string, i int) int {
	for {
		k := strings.IndexByte(src[i:], '{')
		if k < 0 || i+k+1 >= len(src) {
			return -1
		}
		j := i + k
		switch src[j+1] {
		case '{', '%', '#':
			return j
		}
		i = j + 1
	}
}

// lexVerbatim handles {% verbatim %}…{% endverbatim %}: the body is literal
// text. It reports whether the tag was verbatim, and what the closing
// delimiter trims after it (unlike other tags, verbatim's "%}" keeps the
// newline that follows, as in Twig).
func (l *lexer) lexVerbatim(start int) (bool, trimMode, *lexError) {
	src := l.src
	k := l.i
	for k < len(src) && isSpace(src[k]) {
		k++
	}
	if !strings.HasPrefix(src[k:], "verbatim") {
		return false, trimNone, nil
	}
	k += len("verbatim")
	for k < len(src) && isSpace(src[k]) {
		k++
	}
	openClose := trimNone
	if strings.HasPrefix(src[k:], "-%}") || strings.HasPrefix(src[k:], "~%}") {
		openClose = trimModeOf(src[k])
		k += 3
	} else if strings.HasPrefix(src[k:], "%}") {
		k += 2
	} else {
		return false, trimNone, nil
	}
	// Find {% endverbatim %}.
	search := k
	for {
		j := strings.Index(src[search:], "{%")
		if j < 0 {
			return true, trimNone, &lexError{start, `{% verbatim %} is never closed: expected {% endverbatim %}`}
		}
		j += search
		m := j + 2
		endOpen := trimNone
		if m < len(src) {
			if endOpen = trimModeOf(src[m]); endOpen != trimNone {
				m++
			}
		}
		for m < len(src) && isSpace(src[m]) {
			m++
		}
		if !strings.HasPrefix(src[m:], "endverbatim") {
			search = j + 2
			continue
		}
		m += len("endverbatim")
		for m < len(src) && isSpace(src[m]) {
			m++
		}
		closeTrim := trimNone
		if strings.HasPrefix(src[m:], "-%}") || strings.HasPrefix(src[m:], "~%}") {
			closeTrim = trimModeOf(src[m])
			m += 3
		} else if strings.HasPrefix(src[m:], "%}") {
			m += 2
		} else {
			search = j + 2
			continue
		}
		// Replace the tkTagOpen we emitted with the literal text.
		l.toks = l.toks[:len(l.toks)-1]
		l.emitText(src[k:j], k, openClose, endOpen)
		l.i = m
		return true, closeTrim, nil
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isNameStart(r rune) bool { return r == '_' || unicode.IsLetter(r) }
func isNameChar(r rune) bool  { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }

// exprKind says what an expression is inside of.
type exprKind uint8

const (
	exprVar    exprKind = iota // {{ }}
	exprTag                    // {% %}
	exprInterp                 // #{ } in a double-quoted string
	exprBare                   // a whole source that is one expression (CompileExpr)
)

// lexExpr tokenizes the inside of {{ }}, {% %} or #{ } up to the closing
// delimiter, and reports what that delimiter trims from the text after it.
func (l *lexer) lexExpr(open int, kind exprKind) (trimMode, *lexError) {
	src := l.src
	var brackets []byte
	var bracketPos []int
	closer := "}}"
	what := `"{{" is never closed: expected "}}"`
	tag := kind == exprTag
	switch kind {
	case exprTag:
		closer = "%}"
		what = `"{%" is never closed: expected "%}"`
	case exprInterp:
		closer = "}"
		what = `"#{" is never closed: expected "}"`
	}
	for {
		for l.i < len(src) && isSpace(src[l.i]) {
			l.i++
		}
		if l.i >= len(src) {
			if kind == exprBare && len(brackets) == 0 {
				return trimNone, nil
			}
			if len(brackets) > 0 {
				return trimNone, &lexError{bracketPos[len(bracketPos)-1], fmt.Sprintf("%q is never closed", string(brackets[len(brackets)-1]))}
			}
			return trimNone, &lexError{open, what}
		}
		rest := src[l.i:]
		if len(brackets) == 0 && kind != exprBare {
			if kind == exprInterp {
				if rest[0] == '}' {
					l.i++
					return trimNone, nil
				}
			} else if (rest[0] == '-' || rest[0] == '~') && strings.HasPrefix(rest[1:], closer) {
				l.toks = append(l.toks, token{kind: closeKind(tag), pos: l.i, trim: true})
				l.i += 3
				return trimModeOf(rest[0]), nil
			} else if strings.HasPrefix(rest, closer) {
				l.toks = append(l.toks, token{kind: closeKind(tag), pos: l.i})
				l.i += 2
				if tag {
					return trimNewline, nil
				}
				return trimNone, nil
			}
		}
		c := src[l.i]
		switch {
		case c == '"' && hasInterpolation(rest):
			if err := l.lexInterpolated(); err != nil {
				return trimNone, err
			}
			continue
		case c == '\'' || c == '"':
			s, n, err := lexString(rest)
			if err != "" {
				return trimNone, &lexError{l.i, err}
			}
			l.toks = append(l.toks, token{kind: tkString, val: s, pos: l.i})
			l.i += n
			continue
		case c >= '0' && c <= '9':
			n := lexNumber(rest)
			l.toks = append(l.toks, token{kind: tkNumber, val: rest[:n], pos: l.i})
			l.i += n
			continue
		}
		r, size := utf8.DecodeRuneInString(rest)
		if isNameStart(r) {
			n := size
			for n < len(rest) {
				r2, s2 := utf8.DecodeRuneInString(rest[n:])
				if !isNameChar(r2) {
					break
				}
				n += s2
			}
			l.toks = append(l.toks, token{kind: tkName, val: rest[:n], pos: l.i})
			l.i += n
			continue
		}
		matched := ""
		for _, op := range ops {
			if strings.HasPrefix(rest, op) {
				matched = op
				break
			}
		}
		if matched == "" {
			return trimNone, &lexError{l.i, fmt.Sprintf("unexpected character %q", r)}
		}
		switch matched {
		case "(", "[", "{":
			brackets = append(brackets, matched[0])
			bracketPos = append(bracketPos, l.i)
		case ")", "]", "}":
			want := map[string]byte{")": '(', "]": '[', "}": '{'}[matched]
			if len(brackets) == 0 {
				if matched == "}" && kind != exprBare {
					return trimNone, &lexError{l.i, fmt.Sprintf(`unexpected "}": expected %q`, closer)}
				}
				return trimNone, &lexError{l.i, fmt.Sprintf("unexpected %q: nothing to close", matched)}
			}
			if brackets[len(brackets)-1] != want {
				return trimNone, &lexError{l.i, fmt.Sprintf("unexpected %q: %q is still open", matched, string(brackets[len(brackets)-1]))}
			}
			brackets = brackets[:len(brackets)-1]
			bracketPos = bracketPos[:len(bracketPos)-1]
		}
		l.toks = append(l.toks, token{kind: tkOp, val: matched, pos: l.i})
		l.i += len(matched)
	}
}

func closeKind(tag bool) tokKind {
	if tag {
		return tkTagClose
	}
	return tkVarClose
}

// lexNumber returns the length of the number at the start of s:
// digits, an optional fraction (only if a digit follows the dot) and an
// optional exponent.
func lexNumber(s string) int {
	n := 0
	for n < len(s) && s[n] >= '0' && s[n] <= '9' {
		n++
	}
	if n+1 < len(s) && s[n] == '.' && s[n+1] >= '0' && s[n+1] <= '9' {
		n++
		for n < len(s) && s[n] >= '0' && s[n] <= '9' {
			n++
		}
	}
	if n < len(s) && (s[n] == 'e' || s[n] == 'E') {
		m := n + 1
		if m < len(s) && (s[m] == '+' || s[m] == '-') {
			m++
		}
		if m < len(s) && s[m] >= '0' && s[m] <= '9' {
			for m < len(s) && s[m] >= '0' && s[m] <= '9' {
				m++
			}
			n = m
		}
	}
	return n
}

// lexString reads a quoted string at the start of s and returns its value
// and length. Like Twig, it applies PHP's stripcslashes to the text
// between the quotes, whichever the quote.
func lexString(s string) (string, int, string) {
	q := s[0]
	i := 1
	for i < len(s) {
		switch s[i] {
		case q:
			return stripcslashes(s[1:i]), i + 1, ""
		case '\\':
			i += 2
		default:
			i++
		}
	}
	return "", 0, "string is never closed: expected " + string(q)
}

// stripcslashes is PHP's: C escapes (\n \t \r \v \f \a \b), \xHH,
// octal \ooo, and any other escaped character stands for itself.
func stripcslashes(s string) string {
	if strings.IndexByte(s, '\\') < 0 {
		return s
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			continue
		}
		i++
		switch n := s[i]; n {
		case 'n':
			b.WriteByte('\n')
		case 't':
			b.WriteByte('\t')
		case 'r':
			b.WriteByte('\r')
		case 'v':
			b.WriteByte('\v')
		case 'f':
			b.WriteByte('\f')
		case 'a':
			b.WriteByte(0x07)
		case 'b':
			b.WriteByte(0x08)
		case 'x':
			if i+1 < len(s) && isHex(s[i+1]) {
				v := unhex(s[i+1])
				i++
				if i+1 < len(s) && isHex(s[i+1]) {
					v = v*16 + unhex(s[i+1])
					i++
				}
				b.WriteByte(byte(v))
				continue
			}
			b.WriteByte('x')
		default:
			if n >= '0' && n <= '7' {
				v, k := 0, 0
				for k < 3 && i+k < len(s) && s[i+k] >= '0' && s[i+k] <= '7' {
					v = v*8 + int(s[i+k]-'0')
					k++
				}
				b.WriteByte(byte(v))
				i += k - 1
				continue
			}
			b.WriteByte(n)
		}
	}
	return b.String()
}

// hasInterpolation reports whether the double-quoted string at the start
// of s contains #{…}.
func hasInterpolation(s string) bool {
	for i := 1; i < len(s); i++ {
		switch s[i] {
		case '"':
			return false
		case '\\':
			i++
		case '#':
			if i+1 < len(s) && s[i+1] == '{' {
				return true
			}
		}
	}
	return false
}

// lexInterpolated lexes "text #{expr} text" as Twig does: the pieces
// concatenated, ("text" ~ (expr) ~ "text").
func (l *lexer) lexInterpolated() *lexError {
	src := l.src
	start := l.i
	op := func(v string) { l.toks = append(l.toks, token{kind: tkOp, val: v, pos: start}) }
	op("(")
	pieces := 0
	i := l.i + 1
	part := i
	for {
		if i >= len(src) {
			return &lexError{start, "string is never closed: expected \""}
		}
		c := src[i]
		if c == '\\' {
			i += 2
			continue
		}
		if c != '"' && !(c == '#' && i+1 < len(src) && src[i+1] == '{') {
			i++
			continue
		}
		if i > part {
			if pieces > 0 {
				op("~")
			}
			l.toks = append(l.toks, token{kind: tkString, val: stripcslashes(src[part:i]), pos: part})
			pieces++
		}
		if c == '"' {
			l.i = i + 1
			op(")")
			return nil
		}
		if pieces > 0 {
			op("~")
		}
		op("(")
		l.i = i + 2
		if _, err := l.lexExpr(i, exprInterp); err != nil {
			return err
		}
		op(")")
		pieces++
		i = l.i
		part = i
	}
}

func isHex(c byte) bool {
	return c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F'
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'a' && c <= 'f':
		return int(c-'a') + 10
	default:
		return int(c-'A') + 10
	}
}
