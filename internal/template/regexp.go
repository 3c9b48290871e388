package template

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
)

// matches runs PHP regular expressions (the `matches` operator) with Go's
// RE2 engine: the same syntax for everything RE2 has; back references
// and look-arounds, which RE2 lacks by design (its running time is linear
// in the input, so data cannot make a render hang), are refused.

const maxPatternBytes = 1000

var regexpCache sync.Map
var regexpCacheSize int64
var regexpMu sync.Mutex

// compilePCRE compiles "/pattern/flags" (any delimiter PHP accepts).
func compilePCRE(s string) (*regexp.Regexp, error) {
	if re, ok := regexpCache.Load(s); ok {
		return re.(*regexp.Regexp), nil
	}
	if len(s) > maxPatternBytes {
		return nil, fmt.Errorf("the pattern is longer than %d bytes", maxPatternBytes)
	}
	t := strings.TrimLeft(s, " \t\n\r\v\f")
	if t == "" {
		return nil, fmt.Errorf("empty regular expression")
	}
	open := t[0]
	if open == '\\' || open >= '0' && open <= '9' || open >= 'a' && open <= 'z' || open >= 'A' && open <= 'Z' {
		return nil, fmt.Errorf("the pattern %q must start with a delimiter, as in '/…/'", clipText(s))
	}
	closeCh := open
	switch open {
	case '(':
		closeCh = ')'
	case '[':
		closeCh = ']'
	case '{':
		closeCh = '}'
	case '<':
		closeCh = '>'
	}
	end := strings.LastIndexByte(t, closeCh)
	if end <= 0 {
		return nil, fmt.Errorf("the pattern %q has no ending delimiter %q", clipText(s), string(closeCh))
	}
	body, flags := t[1:end], t[end+1:]
	prefix := ""
	for _, f := range flags {
		switch f {
		case 'i', 'm', 's', 'U':
			prefix += string(f)
		case 'x':
			body = stripExtended(body)
		case 'u', 'D', '\n', ' ':
		default:
			return nil, fmt.Errorf("unknown modifier %q in %q", string(f), clipText(s))
		}
	}
	if prefix != "" {
		body = "(?" + prefix + ")" + body
	}
	re, err := regexp.Compile(body)
	if err != nil {
		return nil, fmt.Errorf("the pattern %q is not supported: %v", clipText(s), unwrapRegexpErr(err))
	}
	regexpMu.Lock()
	if regexpCacheSize < 1000 {
		regexpCache.Store(s, re)
		regexpCacheSize++
	}
	regexpMu.Unlock()
	return re, nil
}

func unwrapRegexpErr(err error) string {
	msg := err.Error()
	return strings.TrimPrefix(msg, "error parsing regexp: ")
}

// stripExtended removes the whitespace and # comments of the x modifier.
func stripExtended(s string) string {
	var b strings.Builder
	inClass := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '\\' && i+1 < len(s):
			b.WriteByte(c)
			b.WriteByte(s[i+1])
			i++
		case inClass:
			if c == ']' {
				inClass = false
			}
			b.WriteByte(c)
		case c == '[':
			inClass = true
			b.WriteByte(c)
		case c == ' ' || c == '\t' || c == '\n' || c == '\r':
		case c == '#':
			for i < len(s) && s[i] != '\n' {
				i++
			}
		default:
			b.WriteByte(c)
		}
	}
	return b.String()
}

// matches is Twig's `matches`: 1 or 0, as PHP's preg_match returns.
func (r *renderer) matches(pos int, subject, pattern any) (any, error) {
	re, err := compilePCRE(toString(pattern))
	if err != nil {
		return nil, r.errorf(pos, "matches: %v", err)
	}
	if k := kindOf(subject); k == kList || k == kMap {
		return nil, r.errorf(pos, "matches: the value must be a string, got %s", typeName(subject))
	}
	s := toString(subject)
	if err := r.step(pos, len(s)>>6); err != nil {
		return nil, err
	}
	if re.MatchString(s) {
		return int64(1), nil
	}
	return int64(0), nil
}
