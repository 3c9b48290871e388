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
var ops = []string{"??", "?:", "==", "!=", "<=", ">=", "//", "**", "..",
	"+", "-", "*", "/", "%", "~", "<", ">", "?", ":", "=", "|", ".", ",", "(", ")", "[", "]", "{", "}"}

// lex splits src into tokens. Comments are dropped; whitespace control
// ({{- -}} and friends) is applied to the neighbouring text tokens here.
func lex(src string) ([]token, *lexError) {
	l := &lexer{src: src}
	if err := l.run(); err != nil {
		return nil, err
	}
	l.applyTrim()
	l.toks = append(l.toks, token{kind: tkEOF, pos: len(src)})
	return l.toks, nil
}

type lexer struct {
	src  string
	i    int
	toks []token
	// trims records which text tokens lose leading whitespace (after
	// -}} / -%} / -#}) or trailing whitespace (before {{- / {%- / {#-).
	trims []trimMark
}

// trimMark remembers, for a text token index, which sides to trim.
type trimMark struct {
	idx         int
	left, right bool
}

func (l *lexer) emitText(s string, pos int) {
	if s == "" {
		return
	}
	l.toks = append(l.toks, token{kind: tkText, val: s, pos: pos})
}

func (l *lexer) run() *lexError {
	src := l.src
	trimLeadingOfNext := false
	for l.i < len(src) {
		j := nextDelim(src, l.i)
		if j < 0 {
			l.emitText(src[l.i:], l.i)
			l.markTrim(trimLeadingOfNext, false, l.i)
			return nil
		}
		if j > l.i {
			l.emitText(src[l.i:j], l.i)
		}
		openTrim := j+2 < len(src) && src[j+2] == '-'
		// Text before this delimiter: trim trailing whitespace if {{- etc.
		if j > l.i {
			l.markTrim(trimLeadingOfNext, openTrim, l.i)
		}
		trimLeadingOfNext = false
		start := j
		l.i = j + 2
		if openTrim {
			l.i++
		}
		switch src[j+1] {
		case '#':
			end := strings.Index(src[l.i:], "#}")
			if end < 0 {
				return &lexError{start, `comment "{#" is never closed: expected "#}"`}
			}
			closeAt := l.i + end
			if closeAt > l.i && src[closeAt-1] == '-' {
				trimLeadingOfNext = true
			}
			l.i = closeAt + 2
		case '{':
			l.toks = append(l.toks, token{kind: tkVarOpen, pos: start, trim: openTrim})
			closeTrim, err := l.lexExpr(start, false)
			if err != nil {
				return err
			}
			trimLeadingOfNext = closeTrim
		case '%':
			l.toks = append(l.toks, token{kind: tkTagOpen, pos: start, trim: openTrim})
			if ok, closeTrim, err := l.lexVerbatim(start); ok || err != nil {
				if err != nil {
					return err
				}
				trimLeadingOfNext = closeTrim
				continue
			}
			closeTrim, err := l.lexExpr(start, true)
			if err != nil {
				return err
			}
			trimLeadingOfNext = closeTrim
		}
	}
	return nil
}

// markTrim records trim flags for the text token just emitted (if it
// starts at pos).
func (l *lexer) markTrim(left, right bool, pos int) {
	if !left && !right {
		return
	}
	n := len(l.toks)
	if n == 0 || l.toks[n-1].kind != tkText || l.toks[n-1].pos != pos {
		return
	}
	l.trims = append(l.trims, trimMark{idx: n - 1, left: left, right: right})
}

// twigSpace is the whitespace Twig's trimming removes.
const twigSpace = " \t\n\r\x00\x0B"

func (l *lexer) applyTrim() {
	for _, m := range l.trims {
		tok := &l.toks[m.idx]
		if m.left {
			trimmed := strings.TrimLeft(tok.val, twigSpace)
			tok.pos += len(tok.val) - len(trimmed)
			tok.val = trimmed
		}
		if m.right {
			tok.val = strings.TrimRight(tok.val, twigSpace)
		}
	}
	// Drop text tokens that became empty.
	out := l.toks[:0]
	for _, tok := range l.toks {
		if tok.kind == tkText && tok.val == "" {
			continue
		}
		out = append(out, tok)
	}
	l.toks = out
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
// text. It reports whether the tag was verbatim.
func (l *lexer) lexVerbatim(start int) (bool, bool, *lexError) {
	src := l.src
	k := l.i
	for k < len(src) && isSpace(src[k]) {
		k++
	}
	if !strings.HasPrefix(src[k:], "verbatim") {
		return false, false, nil
	}
	k += len("verbatim")
	for k < len(src) && isSpace(src[k]) {
		k++
	}
	openCloseTrim := false
	if strings.HasPrefix(src[k:], "-%}") {
		openCloseTrim = true
		k += 3
	} else if strings.HasPrefix(src[k:], "%}") {
		k += 2
	} else {
		return false, false, nil
	}
	// Find {% endverbatim %}.
	search := k
	for {
		j := strings.Index(src[search:], "{%")
		if j < 0 {
			return true, false, &lexError{start, `{% verbatim %} is never closed: expected {% endverbatim %}`}
		}
		j += search
		m := j + 2
		endTrimLeft := false
		if m < len(src) && src[m] == '-' {
			endTrimLeft = true
			m++
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
		closeTrim := false
		if strings.HasPrefix(src[m:], "-%}") {
			closeTrim = true
			m += 3
		} else if strings.HasPrefix(src[m:], "%}") {
			m += 2
		} else {
			search = j + 2
			continue
		}
		body := src[k:j]
		bodyPos := k
		if openCloseTrim {
			trimmed := strings.TrimLeft(body, twigSpace)
			bodyPos += len(body) - len(trimmed)
			body = trimmed
		}
		if endTrimLeft {
			body = strings.TrimRight(body, twigSpace)
		}
		// Replace the tkTagOpen we emitted with the literal text.
		l.toks = l.toks[:len(l.toks)-1]
		l.emitText(body, bodyPos)
		l.i = m
		return true, closeTrim, nil
	}
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isNameStart(r rune) bool { return r == '_' || unicode.IsLetter(r) }
func isNameChar(r rune) bool  { return r == '_' || unicode.IsLetter(r) || unicode.IsDigit(r) }

// lexExpr tokenizes the inside of {{ }} or {% %} up to the closing
// delimiter, and reports whether it was a trimming one.
func (l *lexer) lexExpr(open int, tag bool) (bool, *lexError) {
	src := l.src
	var brackets []byte
	var bracketPos []int
	closer, closerTrim := "}}", "-}}"
	what := `"{{" is never closed: expected "}}"`
	if tag {
		closer, closerTrim = "%}", "-%}"
		what = `"{%" is never closed: expected "%}"`
	}
	for {
		for l.i < len(src) && isSpace(src[l.i]) {
			l.i++
		}
		if l.i >= len(src) {
			if len(brackets) > 0 {
				return false, &lexError{bracketPos[len(bracketPos)-1], fmt.Sprintf("%q is never closed", string(brackets[len(brackets)-1]))}
			}
			return false, &lexError{open, what}
		}
		rest := src[l.i:]
		if len(brackets) == 0 {
			if strings.HasPrefix(rest, closerTrim) {
				l.toks = append(l.toks, token{kind: closeKind(tag), pos: l.i, trim: true})
				l.i += 3
				return true, nil
			}
			if strings.HasPrefix(rest, closer) {
				l.toks = append(l.toks, token{kind: closeKind(tag), pos: l.i})
				l.i += 2
				return false, nil
			}
		}
		c := src[l.i]
		switch {
		case c == '\'' || c == '"':
			s, n, err := lexString(rest)
			if err != "" {
				return false, &lexError{l.i, err}
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
			return false, &lexError{l.i, fmt.Sprintf("unexpected character %q", r)}
		}
		switch matched {
		case "(", "[", "{":
			brackets = append(brackets, matched[0])
			bracketPos = append(bracketPos, l.i)
		case ")", "]", "}":
			want := map[string]byte{")": '(', "]": '[', "}": '{'}[matched]
			if len(brackets) == 0 {
				if matched == "}" {
					return false, &lexError{l.i, fmt.Sprintf(`unexpected "}": expected %q`, closer)}
				}
				return false, &lexError{l.i, fmt.Sprintf("unexpected %q: nothing to close", matched)}
			}
			if brackets[len(brackets)-1] != want {
				return false, &lexError{l.i, fmt.Sprintf("unexpected %q: %q is still open", matched, string(brackets[len(brackets)-1]))}
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
// and length. Single-quoted strings know only \' and \\ (as in PHP);
// double-quoted strings know the C escapes and drop the backslash before
// any other character (as Twig's stripcslashes does).
func lexString(s string) (string, int, string) {
	q := s[0]
	var b strings.Builder
	i := 1
	for i < len(s) {
		c := s[i]
		if c == q {
			return b.String(), i + 1, ""
		}
		if c != '\\' || i+1 >= len(s) {
			b.WriteByte(c)
			i++
			continue
		}
		n := s[i+1]
		if q == '\'' {
			if n == '\'' || n == '\\' {
				b.WriteByte(n)
			} else {
				b.WriteByte('\\')
				b.WriteByte(n)
			}
			i += 2
			continue
		}
		i += 2
		switch n {
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
		case 'e':
			b.WriteByte(0x1b)
		case 'a':
			b.WriteByte(0x07)
		case 'b':
			b.WriteByte(0x08)
		case 'x':
			v, k := 0, 0
			for k < 2 && i+k < len(s) && isHex(s[i+k]) {
				v = v*16 + unhex(s[i+k])
				k++
			}
			if k == 0 {
				b.WriteByte('x')
			} else {
				b.WriteByte(byte(v))
				i += k
			}
		default:
			if n >= '0' && n <= '7' {
				v, k := int(n-'0'), 0
				for k < 2 && i+k < len(s) && s[i+k] >= '0' && s[i+k] <= '7' {
					v = v*8 + int(s[i+k]-'0')
					k++
				}
				b.WriteByte(byte(v))
				i += k
			} else {
				b.WriteByte(n)
			}
		}
	}
	return "", 0, "string is never closed: expected " + string(q)
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
