package template

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"strconv"
	"unicode/utf8"
)

const hexDigits = "0123456789abcdef"
const hexUpper = "0123456789ABCDEF"

// maxJSONDepth bounds encoding of nested data (and cyclic Go values).
const maxJSONDepth = 1000

var errTooDeep = errors.New("value is nested too deeply")

// jsonSafe marks ASCII bytes that need no escaping inside a JSON string.
var jsonSafe = func() (t [utf8.RuneSelf]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return
}()

// appendJSONStringContent escapes s for the inside of a JSON string:
// quotes, backslashes, control characters, U+2028 and U+2029; invalid
// UTF-8 becomes U+FFFD. & < > are left as they are.
func appendJSONStringContent(dst []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c < utf8.RuneSelf {
			if jsonSafe[c] {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch c {
			case '"', '\\':
				dst = append(dst, '\\', c)
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
			}
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\ufffd"...)
			i++
			start = i
			continue
		}
		if r == '\u2028' || r == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hexDigits[r&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	return append(dst, s[start:]...)
}

func appendJSONQuoted(dst []byte, s string) []byte {
	dst = append(dst, '"')
	dst = appendJSONStringContent(dst, s)
	return append(dst, '"')
}

// isJSONNumber reports whether s is a number in JSON's grammar.
func isJSONNumber(s string) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	if i >= len(s) {
		return false
	}
	if s[i] == '0' {
		i++
	} else if s[i] >= '1' && s[i] <= '9' {
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	} else {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			return false
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || s[i] < '0' || s[i] > '9' {
			return false
		}
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	}
	return i == len(s)
}

// appendJSON encodes v as compact JSON with sorted keys. Numbers keep
// their json.Number text; non-finite floats become null.
func appendJSON(dst []byte, v any, depth int) ([]byte, error) {
	if depth > maxJSONDepth {
		return dst, errTooDeep
	}
	switch x := v.(type) {
	case nil, undefined:
		return append(dst, "null"...), nil
	case bool:
		return strconv.AppendBool(dst, x), nil
	case string:
		return appendJSONQuoted(dst, x), nil
	case json.Number:
		if isJSONNumber(string(x)) {
			n := len(dst)
			dst = appendNumberText(dst, string(x), true)
			if dst[n] == 'I' || dst[n] == 'N' || dst[n] == '-' && len(dst) > n+1 && dst[n+1] == 'I' {
				return append(dst[:n], "null"...), nil
			}
			return dst, nil
		}
		return appendJSONQuoted(dst, string(x)), nil
	case jsonText:
		// json_encode of json_encode's output encodes the text.
		return appendJSONQuoted(dst, string(x)), nil
	case jsonStrText:
		dst = append(dst, '"')
		dst = append(dst, x...)
		return append(dst, '"'), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return append(dst, "null"...), nil
		}
		return appendJSONFloat(dst, x), nil
	case float32:
		return appendJSON(dst, float64(x), depth)
	case int64, int, int32, uint, uint64:
		return appendString(dst, x), nil
	case *loopState:
		return appendJSON(dst, map[string]any{"index": x.index0 + 1, "index0": x.index0, "length": x.length,
			"first": x.index0 == 0, "last": x.index0 == x.length-1}, depth)
	case []any:
		dst = append(dst, '[')
		for i, e := range x {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendJSON(dst, e, depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	case *orderedHash:
		return appendJSONObject(dst, x.m, x.keys, depth)
	case map[string]any:
		return appendJSONObject(dst, x, sortedKeys(x), depth)
	}
	if s, ok := stringOf(v); ok {
		return appendJSONQuoted(dst, s), nil
	}
	if l, ok := asList(v); ok {
		return appendJSON(dst, l, depth)
	}
	if m, ok := asMap(v); ok {
		return appendJSON(dst, m, depth)
	}
	return appendJSONQuoted(dst, toString(v)), nil
}

// appendJSONObject writes the hash m with its keys in the given order.
func appendJSONObject(dst []byte, x map[string]any, keys []string, depth int) ([]byte, error) {
	if len(keys) > 0 && isListKeys(keys) {
		// Keys 0, 1, 2, …: a list to PHP, and to json_encode.
		dst = append(dst, '[')
		for i, k := range keys {
			if i > 0 {
				dst = append(dst, ',')
			}
			var err error
			if dst, err = appendJSON(dst, x[k], depth+1); err != nil {
				return dst, err
			}
		}
		return append(dst, ']'), nil
	}
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = appendJSONQuoted(dst, k)
		dst = append(dst, ':')
		var err error
		if dst, err = appendJSON(dst, x[k], depth+1); err != nil {
			return dst, err
		}
	}
	return append(dst, '}'), nil
}

// appendJSONValue writes v in JSON value position: numbers, booleans and
// null as literals; a string that is a valid JSON number bare; any other
// string quoted; arrays and hashes as JSON; missing as null.
func appendJSONValue(dst []byte, v any) ([]byte, error) {
	switch x := v.(type) {
	case json.Number:
		if isPlainInt(string(x)) && x != "-0" {
			return append(dst, x...), nil // the common case: an integer
		}
		// Printed as Twig prints it (12.50 as 12.5, 1e3 as 1000).
		if isJSONNumber(string(x)) {
			n := len(dst)
			dst = appendNumberText(dst, string(x), false)
			if !isJSONNumber(string(dst[n:])) {
				return append(dst[:n], "null"...), nil
			}
			return dst, nil
		}
		return appendJSONQuoted(dst, string(x)), nil
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return append(dst, "null"...), nil
		}
		return appendFloat(dst, x), nil
	case string:
		if isJSONNumber(x) {
			return append(dst, x...), nil
		}
		return appendJSONQuoted(dst, x), nil
	case markupText:
		return appendJSONQuoted(dst, string(x)), nil
	case jsonText:
		return append(dst, x...), nil
	case urlText:
		if isJSONNumber(string(x)) {
			return append(dst, x...), nil
		}
		return appendJSONQuoted(dst, string(x)), nil
	}
	return appendJSON(dst, v, 0)
}

// appendValidUTF8 copies s, replacing each invalid byte with U+FFFD.
func appendValidUTF8(dst []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		if s[i] < utf8.RuneSelf {
			i++
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, "\ufffd"...)
			i++
			start = i
			continue
		}
		i += size
	}
	return append(dst, s[start:]...)
}

// isXMLChar reports whether r may appear in an XML 1.0 document.
func isXMLChar(r rune) bool {
	return r == 0x9 || r == 0xA || r == 0xD || r >= 0x20 && r <= 0xD7FF || r >= 0xE000 && r <= 0xFFFD || r >= 0x10000 && r <= 0x10FFFF
}

// appendXMLEscaped escapes s for XML text (attr false) or a quoted
// attribute value (attr true). Characters XML does not allow, and invalid
// UTF-8, become U+FFFD.
func appendXMLEscaped(dst []byte, s string, attr bool) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		var rep string
		size := 1
		if c < utf8.RuneSelf {
			switch c {
			case '&':
				rep = "&amp;"
			case '<':
				rep = "&lt;"
			case '>':
				rep = "&gt;"
			case '"':
				rep = "&quot;"
			case '\'':
				rep = "&apos;"
			case '\r':
				rep = "&#xD;"
			case '\n':
				if attr {
					rep = "&#xA;"
				}
			case '\t':
				if attr {
					rep = "&#x9;"
				}
			default:
				if c < 0x20 {
					rep = "\ufffd"
				}
			}
		} else {
			var r rune
			r, size = utf8.DecodeRuneInString(s[i:])
			if (r == utf8.RuneError && size == 1) || !isXMLChar(r) {
				rep = "\ufffd"
			}
		}
		if rep == "" {
			i += size
			continue
		}
		dst = append(dst, s[start:i]...)
		dst = append(dst, rep...)
		i += size
		start = i
	}
	return append(dst, s[start:]...)
}

const cdataSplit = "]]><![CDATA["

func hasSuffixByte(dst []byte, c byte) bool { return len(dst) > 0 && dst[len(dst)-1] == c }

// appendCDATA writes s inside a CDATA section. A "]]>" that the value
// would form, alone or with the text around it, is split across two
// sections, so the section only ends where the template ends it; a CR is
// written as a character reference between two sections.
func appendCDATA(dst []byte, s string) []byte {
	if hasSuffixByte(dst, ']') {
		dst = append(dst, cdataSplit...)
	}
	for _, r := range s {
		if !isXMLChar(r) {
			r = utf8.RuneError
		}
		if r == '>' && len(dst) >= 2 && dst[len(dst)-1] == ']' && dst[len(dst)-2] == ']' {
			dst = append(dst, cdataSplit...)
		}
		if r == '\r' {
			// Parsers turn a CR inside CDATA into LF; a character
			// reference between two sections keeps it.
			dst = append(dst, "]]>&#xD;<![CDATA["...)
			continue
		}
		dst = utf8.AppendRune(dst, r)
	}
	if hasSuffixByte(dst, ']') {
		dst = append(dst, cdataSplit...)
	}
	return dst
}

// appendXMLComment writes s inside a comment: "--" never forms, and the
// value never ends next to the comment's closing "-->".
func appendXMLComment(dst []byte, s string) []byte {
	if hasSuffixByte(dst, '-') {
		dst = append(dst, ' ')
	}
	for _, r := range s {
		if !isXMLChar(r) {
			r = utf8.RuneError
		}
		if r == '-' && hasSuffixByte(dst, '-') {
			dst = append(dst, ' ')
		}
		dst = utf8.AppendRune(dst, r)
	}
	if hasSuffixByte(dst, '-') {
		dst = append(dst, ' ')
	}
	return dst
}

func isUnreserved(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_' || c == '.' || c == '~'
}

// appendQueryEscape form-encodes s as url.QueryEscape does (space as +),
// after replacing invalid UTF-8 with U+FFFD.
func appendQueryEscape(dst []byte, s string) []byte {
	return appendPercent(dst, s, func(c byte) bool { return isUnreserved(c) }, true)
}

// appendPathEscape escapes s for a URL path segment as url.PathEscape
// does (so "/" is escaped too).
func appendPathEscape(dst []byte, s string) []byte {
	return appendPercent(dst, s, func(c byte) bool {
		return isUnreserved(c) || c == '$' || c == '&' || c == '+' || c == ':' || c == '=' || c == '@'
	}, false)
}

// appendRawURLEncode is PHP's rawurlencode (RFC 3986; space as %20).
func appendRawURLEncode(dst []byte, s string) []byte {
	return appendPercent(dst, s, isUnreserved, false)
}

func appendPercent(dst []byte, s string, keep func(byte) bool, spacePlus bool) []byte {
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				dst = append(dst, "%EF%BF%BD"...)
				i++
				continue
			}
			for k := 0; k < size; k++ {
				b := s[i+k]
				dst = append(dst, '%', hexUpper[b>>4], hexUpper[b&0xF])
			}
			i += size
			continue
		}
		switch {
		case keep(c):
			dst = append(dst, c)
		case c == ' ' && spacePlus:
			dst = append(dst, '+')
		default:
			dst = append(dst, '%', hexUpper[c>>4], hexUpper[c&0xF])
		}
		i++
	}
	return dst
}

// appendHTMLEscaped is Twig's escape('html'): htmlspecialchars with
// ENT_QUOTES | ENT_SUBSTITUTE, plus U+FFFD for characters XML forbids, so
// the result is also safe XML.
func appendHTMLEscaped(dst []byte, s string) []byte {
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		var rep string
		size := 1
		if c < utf8.RuneSelf {
			switch c {
			case '&':
				rep = "&amp;"
			case '<':
				rep = "&lt;"
			case '>':
				rep = "&gt;"
			case '"':
				rep = "&quot;"
			case '\'':
				rep = "&#039;"
			default:
				if c < 0x20 && c != '\t' && c != '\n' && c != '\r' {
					rep = "\ufffd"
				}
			}
		} else {
			var r rune
			r, size = utf8.DecodeRuneInString(s[i:])
			if (r == utf8.RuneError && size == 1) || !isXMLChar(r) {
				rep = "\ufffd"
			}
		}
		if rep == "" {
			i += size
			continue
		}
		dst = append(dst, s[start:i]...)
		dst = append(dst, rep...)
		i += size
		start = i
	}
	return append(dst, s[start:]...)
}

func isAlnum(r rune) bool {
	return r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9'
}

// appendHTMLAttrEscaped is Twig's escape('html_attr'): everything but
// alphanumerics and , . - _ becomes a character reference.
func appendHTMLAttrEscaped(dst []byte, s string) []byte {
	for _, r := range s {
		switch {
		case isAlnum(r) || r == ',' || r == '.' || r == '-' || r == '_':
			dst = append(dst, byte(r))
		case r == '&':
			dst = append(dst, "&amp;"...)
		case r == '<':
			dst = append(dst, "&lt;"...)
		case r == '>':
			dst = append(dst, "&gt;"...)
		case r == '"':
			dst = append(dst, "&quot;"...)
		case !isXMLChar(r) || r == utf8.RuneError || r >= 0x7f && r <= 0x9f:
			dst = append(dst, "&#xFFFD;"...)
		default:
			// Twig: &#x%02X; for one byte, &#x%04X; for more.
			hex := bytes.ToUpper(strconv.AppendUint(nil, uint64(r), 16))
			dst = append(dst, "&#x"...)
			for n := len(hex); n < 2 || r >= utf8.RuneSelf && n < 4; n++ {
				dst = append(dst, '0')
			}
			dst = append(dst, hex...)
			dst = append(dst, ';')
		}
	}
	return dst
}

// appendJSEscaped is escape('js'): everything but alphanumerics and , . _
// becomes a \uXXXX escape, which is valid in both JavaScript and JSON
// strings.
func appendJSEscaped(dst []byte, s string) []byte {
	for _, r := range s {
		if isAlnum(r) || r == ',' || r == '.' || r == '_' {
			dst = append(dst, byte(r))
			continue
		}
		// Twig's short escapes, valid in JSON and JavaScript alike.
		switch r {
		case '\\':
			dst = append(dst, '\\', '\\')
			continue
		case '/':
			dst = append(dst, '\\', '/')
			continue
		case '\b':
			dst = append(dst, '\\', 'b')
			continue
		case '\f':
			dst = append(dst, '\\', 'f')
			continue
		case '\n':
			dst = append(dst, '\\', 'n')
			continue
		case '\r':
			dst = append(dst, '\\', 'r')
			continue
		case '\t':
			dst = append(dst, '\\', 't')
			continue
		}
		if r > 0xFFFF {
			r1, r2 := utf16Surrogates(r)
			dst = appendU4(dst, r1)
			dst = appendU4(dst, r2)
			continue
		}
		dst = appendU4(dst, r)
	}
	return dst
}

func utf16Surrogates(r rune) (rune, rune) {
	r -= 0x10000
	return 0xD800 + (r>>10)&0x3FF, 0xDC00 + r&0x3FF
}

func appendU4(dst []byte, r rune) []byte {
	return append(dst, '\\', 'u', hexUpper[(r>>12)&0xF], hexUpper[(r>>8)&0xF], hexUpper[(r>>4)&0xF], hexUpper[r&0xF])
}

// appendCSSEscaped is escape('css'): everything but alphanumerics becomes
// a hexadecimal escape followed by a space.
func appendCSSEscaped(dst []byte, s string) []byte {
	for _, r := range s {
		if isAlnum(r) {
			dst = append(dst, byte(r))
			continue
		}
		dst = append(dst, '\\')
		dst = append(dst, bytes.ToUpper(strconv.AppendUint(nil, uint64(r), 16))...) // Twig: \%X
		dst = append(dst, ' ')
	}
	return dst
}
