package template

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// filterFunc applies a filter. args are already evaluated; f gives the
// position for errors.
type filterFunc func(r *renderer, f *filterExpr, in any, args []any) (any, error)

type filterDef struct {
	fn               filterFunc
	minArgs, maxArgs int // maxArgs -1: any number
	// check validates literal arguments at compile time; it returns an
	// error message or "".
	check func(args []expr) string
}

var filterTable map[string]*filterDef

func init() {
	escape := &filterDef{fn: fEscape, maxArgs: 2, check: checkEscape}
	filterTable = map[string]*filterDef{
		"abs":           {fn: fAbs},
		"capitalize":    {fn: fCapitalize},
		"date":          {fn: fDate, maxArgs: 2, check: checkDate},
		"default":       {fn: fDefault, maxArgs: 1},
		"e":             escape,
		"escape":        escape,
		"first":         {fn: fFirst},
		"format":        {fn: fFormat, maxArgs: -1},
		"join":          {fn: fJoin, maxArgs: 2},
		"json_encode":   {fn: fJSONEncode, maxArgs: 1},
		"keys":          {fn: fKeys},
		"last":          {fn: fLast},
		"length":        {fn: fLength},
		"lower":         {fn: fLower},
		"merge":         {fn: fMerge, minArgs: 1, maxArgs: 1},
		"number_format": {fn: fNumberFormat, maxArgs: 3},
		"raw":           {fn: fRaw},
		"replace":       {fn: fReplace, minArgs: 1, maxArgs: 1},
		"reverse":       {fn: fReverse, maxArgs: 1},
		"round":         {fn: fRound, maxArgs: 2, check: checkRound},
		"slice":         {fn: fSlice, minArgs: 1, maxArgs: 3},
		"sort":          {fn: fSort},
		"split":         {fn: fSplit, minArgs: 1, maxArgs: 2},
		"title":         {fn: fTitle},
		"trim":          {fn: fTrim, maxArgs: 2, check: checkTrim},
		"upper":         {fn: fUpper},
		"url_encode":    {fn: fURLEncode},
	}
}

// filterNames lists the filters, for suggestions.
func filterNames() []string {
	names := make([]string, 0, len(filterTable))
	for n := range filterTable {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// literalArg returns argument i if it is a literal.
func literalArg(args []expr, i int) (any, bool) {
	if i >= len(args) {
		return nil, false
	}
	l, ok := args[i].(*literal)
	if !ok {
		return nil, false
	}
	return l.v, true
}

func oneOf(filter, what string, v any, allowed []string) string {
	s, ok := v.(string)
	if !ok {
		return fmt.Sprintf("%s: the %s must be a string, one of %s", filter, what, strings.Join(allowed, ", "))
	}
	if slices.Contains(allowed, s) {
		return ""
	}
	msg := fmt.Sprintf("%s: unknown %s %q (want %s)", filter, what, s, strings.Join(allowed, ", "))
	if sug := suggest(s, allowed); sug != "" {
		msg = fmt.Sprintf("%s: unknown %s %q — did you mean %q?", filter, what, s, sug)
	}
	return msg
}

var escapeStrategies = []string{"html", "html_attr", "js", "css", "url"}

func checkEscape(args []expr) string {
	if v, ok := literalArg(args, 0); ok {
		return oneOf("escape", "strategy", v, escapeStrategies)
	}
	return ""
}

func checkRound(args []expr) string {
	if v, ok := literalArg(args, 1); ok {
		return oneOf("round", "method", v, []string{"common", "floor", "ceil"})
	}
	return ""
}

func checkTrim(args []expr) string {
	if v, ok := literalArg(args, 1); ok {
		return oneOf("trim", "side", v, []string{"both", "left", "right"})
	}
	return ""
}

func checkDate(args []expr) string {
	if v, ok := literalArg(args, 1); ok {
		switch tz := v.(type) {
		case nil, bool:
			return ""
		case string:
			if _, ok := loadLocation(tz); !ok {
				return fmt.Sprintf("date: unknown time zone %q (want a name such as \"Europe/Ljubljana\" or an offset such as \"+02:00\")", tz)
			}
		default:
			return "date: the time zone must be a string"
		}
	}
	return ""
}

// ---- argument helpers ----

func argAt(args []any, i int) any {
	if i < len(args) {
		return args[i]
	}
	return nil
}

func argInt(args []any, i int, def int) int {
	v := argAt(args, i)
	if isNull(v) {
		return def
	}
	n, ok := toNumber(v)
	if !ok {
		return def
	}
	f := n.float()
	if n.isFloat {
		f = math.Trunc(f)
	}
	if f > math.MaxInt32 {
		return math.MaxInt32
	}
	if f < math.MinInt32 {
		return math.MinInt32
	}
	return int(f)
}

func argString(args []any, i int, def string) string {
	v := argAt(args, i)
	if isNull(v) {
		return def
	}
	return toString(v)
}

// str returns in as a string, charging for its size.
func (r *renderer) str(f *filterExpr, in any) (string, error) {
	s := toString(in)
	return s, r.chargeBytes(f.pos, len(s))
}

// ---- filters ----

func fRaw(_ *renderer, _ *filterExpr, in any, _ []any) (any, error) { return in, nil }

func fAbs(r *renderer, f *filterExpr, in any, _ []any) (any, error) {
	n, ok := toNumber(in)
	if _, captured := in.(capturedText); !ok || captured {
		// PHP's abs() takes numbers and numeric strings only.
		return nil, r.errorf(f.pos, "abs: the value must be a number, got %s", typeName(in))
	}
	if n.isFloat {
		return math.Abs(n.f), nil
	}
	if n.i < 0 {
		if n.i == math.MinInt64 {
			return -float64(n.i), nil
		}
		return -n.i, nil
	}
	return n.i, nil
}

func fUpper(r *renderer, f *filterExpr, in any, _ []any) (any, error) {
	s, err := r.requireString(f, in)
	return phpUpper(s), err
}

func fLower(r *renderer, f *filterExpr, in any, _ []any) (any, error) {
	s, err := r.requireString(f, in)
	return strings.ToLower(s), err
}

// fCapitalize upper-cases the first character and lower-cases the rest,
// as Twig does with mb_strtoupper and mb_strtolower.
func fCapitalize(r *renderer, f *filterExpr, in any, _ []any) (any, error) {
	s, err := r.requireString(f, in)
	if err != nil || s == "" {
		return s, err
	}
	_, size := utf8.DecodeRuneInString(s)
	return phpUpper(s[:size]) + strings.ToLower(s[size:]), nil
}

// fullUpper holds the Unicode full case mappings mbstring applies where a
// character has no single-character upper case (SpecialCasing.txt).
var fullUpper = map[rune]string{
	'ß': "SS", 'ŉ': "ʼN", 'ǰ': "J̌", 'ΐ': "Ϊ́", 'ΰ': "Ϋ́", 'և': "ԵՒ",
	'ẖ': "H̱", 'ẗ': "T̈", 'ẘ': "W̊", 'ẙ': "Y̊", 'ẚ': "Aʾ",
	'ﬀ': "FF", 'ﬁ': "FI", 'ﬂ': "FL", 'ﬃ': "FFI", 'ﬄ': "FFL", 'ﬅ': "ST", 'ﬆ': "ST",
	'ﬓ': "ՄՆ", 'ﬔ': "ՄԵ", 'ﬕ': "ՄԻ", 'ﬖ': "ՎՆ", 'ﬗ': "ՄԽ",
}

var fullTitle = map[rune]string{
	'ß': "Ss", 'ﬀ': "Ff", 'ﬁ': "Fi", 'ﬂ': "Fl", 'ﬃ': "Ffi", 'ﬄ': "Ffl", 'ﬅ': "St", 'ﬆ': "St", 'և': "Եւ",
}

// phpUpper is mb_strtoupper: full case mapping (ß is SS).
func phpUpper(s string) string {
	up := strings.ToUpper(s)
	if !strings.ContainsFunc(up, func(c rune) bool { _, ok := fullUpper[c]; return ok }) {
		return up
	}
	var b strings.Builder
	for _, c := range up {
		if m, ok := fullUpper[c]; ok {
			b.WriteString(m)
		} else {
			b.WriteRune(c)
		}
	}
	return b.String()
}

// caseIgnorable are the characters that do not end a word in title case
// (Unicode's Case_Ignorable: marks, format characters, modifier letters
// and symbols, and the apostrophes, periods and colons inside words).
func caseIgnorable(c rune) bool {
	switch c {
	case '\'', '.', ':', '·', 0x0387, 0x05F4, 0x2027, 0xFE13, 0xFE55, 0xFF1A, 0x2018, 0x2019, 0x2024, 0xFE52, 0xFF07, 0xFF0E:
		return true
	}
	return unicode.In(c, unicode.Mn, unicode.Me, unicode.Cf, unicode.Lm, unicode.Sk)
}

func isCased(c rune) bool { return unicode.IsUpper(c) || unicode.IsLower(c) || unicode.IsTitle(c) }

// fTitle is mb_convert_case(MB_CASE_TITLE): the first cased letter of
// every word title-cased, the rest lower-cased; a word ends at anything
// that is neither cased nor case-ignorable (digits too: "3Rd").
func fTitle(r *renderer, f *filterExpr, in any, _ []any) (any, error) {
	s, err := r.requireString(f, in)
	if err != nil {
		return nil, err
	}
	var b strings.Builder
	b.Grow(len(s))
	title := true
	for _, c := range s {
		switch {
		case title && isCased(c):
			if m, ok := fullTitle[c]; ok {
				b.WriteString(m)
			} else {
				b.WriteRune(unicode.ToTitle(c))
			}
			title = false
		case title:
			b.WriteRune(c)
		default:
			b.WriteRune(unicode.ToLower(c))
			if !isCased(c) && !caseIgnorable(c) {
				title = true
			}
		}
	}
	return b.String(), nil
}

func fTrim(r *renderer, f *filterExpr, in any, args []any) (any, error) {
	s, err := r.requireString(f, in)
	if err != nil {
		return nil, err
	}
	chars := argString(args, 0, phpSpace)
	switch argString(args, 1, "both") {
	case "left":
		return strings.TrimLeft(s, chars), nil
	case "right":
		return strings.TrimRight(s, chars), nil
	case "both":
		return strings.Trim(s, chars), nil
	}
	return nil, r.errorf(f.pos, "trim: the side must be \"both\", \"left\" or \"right\"")
}

func fDefault(_ *renderer, _ *filterExpr, in any, args []any) (any, error) {
	if isEmpty(in) {
		if len(args) == 0 {
			return "", nil
		}
		return args[0], nil
	}
	return in, nil
}

// fDate formats a date. A null or missing value (or "") renders empty,
// not the current time: sending "now" for a missing birth date would be a
// silent data error.
func fDate(r *renderer, f *filterExpr, in any, args []any) (any, error) {
	if blankDate(in) {
		return nil, nil
	}
	loc := r.t.loc
	keepZone := false
	if len(args) > 1 {
		switch tz := args[1].(type) {
		case nil, undefined:
		case bool:
			keepZone = !tz
		default:
			name := toString(tz)
			l, ok := loadLocation(name)
			if !ok {
				return nil, r.errorf(f.pos, "date: unknown time zone %q", name)
			}
			loc = l
		}
	}
	// As in Twig: a value without its own offset is read in the default
	// time zone (the workspace's), then shown in the argument's.
	t, ok := r.toTime(in, r.t.loc)
	if ok && keepZone && isNumberType(in) {
		t = t.In(utcOffsetZone)
	}
	if !ok {
		shown := toString(in)
		if len(shown) > 40 {
			shown = shown[:40] + "…"
		}
		return nil, r.errorf(f.pos, "date: cannot read %q as a date (want RFC 3339, YYYY-MM-DD, Unix seconds or \"now\")", shown)
	}
	if !keepZone {
		t = t.In(loc)
	}
	format := defaultDateFormat
	if len(args) > 0 && !isNull(args[0]) {
		format = toString(args[0])
	}
	if err := r.chargeBytes(f.pos, len(format)*8); err != nil {
		return nil, err
	}
	var buf [64]byte
	return string(appendPHPDate(buf[:0], t, format)), nil
}

func fEscape(r *renderer, f *filterExpr, in any, args []any) (any, error) {
	strategy := argString(args, 0, "html")
	if m, ok := in.(markupText); ok && (strategy == "html" || strategy == "html_attr") {
		return m, nil
	}
	switch kindOf(in) {
	case kNull, kBool, kNum, kList, kMap:
		// Twig returns what is not a string as it is (a number, a
		// boolean, null, an array).
		if slices.Contains(escapeStrategies, strategy) {
			return in, nil
		}
	}
	s, err := r.str(f, in)
	if err != nil {
		return nil, err
	}
	switch strategy {
	case "html":
		return markupText(appendHTMLEscaped(nil, s)), nil
	case "html_attr":
		return markupText(appendHTMLAttrEscaped(nil, s)), nil
	case "js":
		return jsonStrText(appendJSEscaped(nil, s)), nil
	case "css":
		return string(appendCSSEscaped(nil, s)), nil
	case "url":
		return urlText(appendRawURLEncode(nil, s)), nil
	}
	return nil, r.errorf(f.pos, "escape: unknown strategy %q (want %s)", strategy, strings.Join(escapeStrategies, ", "))
}

// iterValues returns the values of a list, or of a hash in key order.
func iterValues(v any) ([]any, bool) {
	if l, ok := asList(v); ok {
		return l, true
	}
	if m, ok := asMap(v); ok {
		keys := hashKeys(v, m)
		out := make([]any, len(keys))
		for i, k := range keys {
			out[i] = m[k]
		}
		return out, true
	}
	return nil, false
}

func fFirst(_ *renderer, _ *filterExpr, in any, _ []any) (any, error) {
	if l, ok := iterValues(in); ok {
		if len(l) == 0 {
			return false, nil // PHP's current([])
		}
		return l[0], nil
	}
	if isNull(in) {
		return "", nil // Twig slices null as the string ""
	}
	s := toString(in)
	if s == "" {
		return "", nil
	}
	r, size := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError && size == 1 {
		return s[:1], nil
	}
	return s[:size], nil
}

func fLast(_ *renderer, _ *filterExpr, in any, _ []any) (any, error) {
	if l, ok := iterValues(in); ok {
		if len(l) == 0 {
			return false, nil // PHP's end([])
		}
		return l[len(l)-1], nil
	}
	if isNull(in) {
		return "", nil
	}
	s := toString(in)
	if s == "" {
		return "", nil
	}
	_, size := utf8.DecodeLastRuneInString(s)
	return s[len(s)-size:], nil
}

func fJoin(r *renderer, f *filterExpr, in any, args []any) (any, error) {
	items, ok := iterValues(in)
	if !ok {
		if isNull(in) {
			return "", nil
		}
		items = []any{in}
	}
	if err := r.step(f.pos, len(items)); err != nil {
		return nil, err
	}
	glue := argString(args, 0, "")
	if len(items) == 1 && len(args) > 1 && !isNull(args[1]) && toString(args[1]) != glue {
		return items[0], nil // Twig returns the one element itself
	}
	var b []byte
	for i, it := range items {
		if i > 0 {
			if i == len(items)-1 && len(args) > 1 && !isNull(args[1]) {
				b = appendString(b, args[1])
			} else {
				b = append(b, glue...)
			}
		}
		b = appendString(b, it)
		if len(b) > r.t.maxOut {
			return nil, r.chargeBytes(f.pos, len(b))
		}
	}
	return string(b), r.chargeBytes(f.pos, len(b))
}

func fJSONEncode(r *renderer, f *filterExpr, in any, _ []any) (any, error) {
	b, err := appendJSON(nil, in, 0)
	if err != nil {
		return nil, r.errorf(f.pos, "json_encode: %v", err)
	}
	b = phpJSONText(b)
	return jsonText(b), r.chargeBytes(f.pos, len(b))
}

func appendU4Lower(dst []byte, r rune) []byte {
	const hex = "0123456789abcdef"
	return append(dst, '\\', 'u', hex[(r>>12)&0xF], hex[(r>>8)&0xF], hex[(r>>4)&0xF], hex[r&0xF])
}

// phpJSONText rewrites compact JSON as PHP's json_encode writes it: "/"
// as "\/", every non-ASCII character as \uXXXX, and an empty hash as [] (to
// PHP both are an empty array).
func phpJSONText(b []byte) []byte {
	clean := true
	for _, c := range b {
		if c == '/' || c >= utf8.RuneSelf || c == '}' {
			clean = false
			break
		}
	}
	if clean {
		return b
	}
	out := make([]byte, 0, len(b)+16)
	inStr := false
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case inStr && c == '\\':
			out = append(out, c, b[i+1])
			i++
		case c == '"':
			inStr = !inStr
			out = append(out, c)
		case inStr && c == '/':
			out = append(out, '\\', '/')
		case inStr && c >= utf8.RuneSelf:
			r, size := utf8.DecodeRune(b[i:])
			if r > 0xFFFF {
				r1, r2 := utf16Surrogates(r)
				out = appendU4Lower(appendU4Lower(out, r1), r2)
			} else {
				out = appendU4Lower(out, r)
			}
			i += size - 1
		case !inStr && c == '{' && i+1 < len(b) && b[i+1] == '}':
			out = append(out, '[', ']')
			i++
		default:
			out = append(out, c)
		}
	}
	return out
}

func fKeys(r *renderer, f *filterExpr, in any, _ []any) (any, error) {
	if m, ok := asMap(in); ok {
		keys := hashKeys(in, m)
		out := make([]any, len(keys))
		for i, k := range keys {
			if n, ok := intKey(k); ok {
				out[i] = n // PHP stores "12" as the integer key 12
			} else {
				out[i] = k
			}
		}
		return out, r.step(f.pos, len(out))
	}
	if l, ok := asList(in); ok {
		out := make([]any, len(l))
		for i := range l {
			out[i] = int64(i)
		}
		return out, r.step(f.pos, len(out))
	}
	return []any{}, nil
}

func fLength(_ *renderer, _ *filterExpr, in any, _ []any) (any, error) {
	switch x := in.(type) {
	case nil, undefined:
		return int64(0), nil
	case string:
		return int64(runeLen(x)), nil
	}
	if l, ok := asList(in); ok {
		return int64(len(l)), nil
	}
	if m, ok := asMap(in); ok {
		return int64(len(m)), nil
	}
	return int64(runeLen(toString(in))), nil
}

func fMerge(r *renderer, f *filterExpr, in any, args []any) (any, error) {
	other := args[0]
	for i, v := range []any{in, other} {
		if k := kindOf(v); k != kList && k != kMap {
			which := "value"
			if i == 1 {
				which = "argument"
			}
			return nil, r.errorf(f.pos, "merge: the %s must be a list or a hash, got %s", which, typeName(v))
		}
	}
	ma, aok := asMap(in)
	mb, bok := asMap(other)
	if aok && bok {
		// array_merge: the first hash's keys in order, then the second's
		// new ones; a key in both takes the second's value.
		out := newOrderedHash(len(ma) + len(mb))
		for _, k := range hashKeys(in, ma) {
			out.set(k, ma[k])
		}
		for _, k := range hashKeys(other, mb) {
			out.set(k, mb[k])
		}
		return out, r.step(f.pos, len(out.keys))
	}
	if kindOf(in) != kindOf(other) {
		// A list and a hash: array_merge renumbers the integer keys and
		// keeps the others, in order.
		return mergeMixed(in, other), r.step(f.pos, 1)
	}
	la, _ := iterValues(in)
	lb, ok := iterValues(other)
	if !ok && !isNull(other) {
		lb = []any{other}
	}
	out := make([]any, 0, len(la)+len(lb))
	out = append(append(out, la...), lb...)
	return out, r.step(f.pos, len(out))
}

func fReverse(r *renderer, f *filterExpr, in any, args []any) (any, error) {
	if l, ok := asList(in); ok {
		out := slices.Clone(l)
		slices.Reverse(out)
		return out, r.step(f.pos, len(out))
	}
	if m, ok := asMap(in); ok {
		keys := hashKeys(in, m)
		rk := make([]string, 0, len(keys))
		rv := make([]any, 0, len(keys))
		for i := len(keys) - 1; i >= 0; i-- {
			rk = append(rk, keys[i])
			rv = append(rv, m[keys[i]])
		}
		if len(args) > 0 && truthy(args[0]) {
			return keyedHash(rk, rv), r.step(f.pos, len(keys))
		}
		return renumbered(rk, rv), r.step(f.pos, len(keys))
	}
	if isNull(in) {
		return "", nil
	}
	s, err := r.str(f, in)
	if err != nil {
		return nil, err
	}
	rs := []rune(s)
	slices.Reverse(rs)
	return string(rs), nil
}

// fSort sorts the values and, as PHP's asort and uasort, keeps each
// value's key: [3, 1]|sort is {1: 1, 0: 3}, a list again only when the
// order did not change.
func fSort(r *renderer, f *filterExpr, in any, args []any) (any, error) {
	keys, vals, ok := keyedValues(in)
	if !ok {
		return nil, r.errorf(f.pos, "sort: the value must be a list or a hash, got %s", typeName(in))
	}
	if err := r.step(f.pos, len(vals)*4); err != nil {
		return nil, err
	}
	idx := make([]int, len(vals))
	for i := range idx {
		idx[i] = i
	}
	var cmpErr error
	cmp := func(a, b int) int {
		c, _ := compareValues(vals[a], vals[b])
		return c
	}
	if len(args) > 0 {
		a, err := r.arrowArg(f, args)
		if err != nil {
			return nil, err
		}
		cmp = func(x, y int) int {
			if cmpErr != nil {
				return 0
			}
			var v any
			v, cmpErr = r.call(a, vals[x], vals[y])
			n, _ := toNumber(v)
			switch f := n.float(); {
			case f < 0:
				return -1
			case f > 0:
				return 1
			}
			return 0
		}
	}
	slices.SortStableFunc(idx, cmp)
	if cmpErr != nil {
		return nil, cmpErr
	}
	outKeys := make([]string, len(idx))
	outVals := make([]any, len(idx))
	for i, j := range idx {
		outKeys[i], outVals[i] = keys[j], vals[j]
	}
	return keyedHash(outKeys, outVals), nil
}

// fReplace is strtr: at each position the longest matching key is
// replaced, and replaced text is not searched again.
func fReplace(r *renderer, f *filterExpr, in any, args []any) (any, error) {
	pairs, ok := asMap(args[0])
	if !ok {
		return nil, r.errorf(f.pos, "replace expects a hash of replacements, like replace({'from': 'to'})")
	}
	s, err := r.requireString(f, in)
	if err != nil {
		return nil, err
	}
	keys := make([]string, 0, len(pairs))
	for k := range pairs {
		if k != "" {
			keys = append(keys, k)
		}
	}
	if len(keys) == 0 {
		return s, nil
	}
	slices.SortFunc(keys, func(a, b string) int { return len(b) - len(a) })
	if err := r.step(f.pos, len(s)*len(keys)>>6); err != nil {
		return nil, err
	}
	var b strings.Builder
	for i := 0; i < len(s); {
		matched := false
		for _, k := range keys {
			if strings.HasPrefix(s[i:], k) {
				rep := toString(pairs[k])
				b.WriteString(rep)
				if b.Len() > r.t.maxOut {
					return nil, r.chargeBytes(f.pos, b.Len())
				}
				i += len(k)
				matched = true
				break
			}
		}
		if !matched {
			b.WriteByte(s[i])
			i++
		}
	}
	return b.String(), r.chargeBytes(f.pos, b.Len())
}

func fSlice(r *renderer, f *filterExpr, in any, args []any) (any, error) {
	start := argInt(args, 0, 0)
	hasLen := len(args) > 1 && !isNull(args[1])
	length := argInt(args, 1, 0)
	bounds := func(n int) (int, int) {
		s := start
		if s < 0 {
			s = max(0, n+s)
		}
		if s > n {
			return n, n
		}
		e := n
		if hasLen {
			if length < 0 {
				e = max(s, n+length)
			} else {
				e = min(n, s+length)
			}
		}
		return s, e
	}
	if l, ok := asList(in); ok {
		s, e := bounds(len(l))
		return slices.Clone(l[s:e]), r.step(f.pos, e-s)
	}
	if m, ok := asMap(in); ok {
		keys := hashKeys(in, m)
		s, e := bounds(len(keys))
		vals := make([]any, 0, e-s)
		for _, k := range keys[s:e] {
			vals = append(vals, m[k])
		}
		return renumbered(keys[s:e], vals), r.step(f.pos, e-s)
	}
	if isNull(in) {
		return "", nil
	}
	str, err := r.str(f, in)
	if err != nil {
		return nil, err
	}
	rs := []rune(str)
	s, e := bounds(len(rs))
	return string(rs[s:e]), nil
}

func fSplit(r *renderer, f *filterExpr, in any, args []any) (any, error) {
	s, err := r.requireString(f, in)
	if err != nil {
		return nil, err
	}
	delim := toString(args[0])
	hasLimit := len(args) > 1 && !isNull(args[1])
	limit := argInt(args, 1, 0)
	var parts []string
	if delim == "" {
		size := 1
		if hasLimit && limit > 0 {
			size = limit
		}
		if err := r.step(f.pos, runeLen(s)/size+1); err != nil {
			return nil, err
		}
		rs := []rune(s)
		for i := 0; i < len(rs); i += size {
			parts = append(parts, string(rs[i:min(len(rs), i+size)]))
		}
		if len(rs) == 0 {
			parts = []string{""} // PHP's str_split("") is [""]
		}
	} else {
		if err := r.step(f.pos, strings.Count(s, delim)+1); err != nil {
			return nil, err
		}
		switch {
		case !hasLimit:
			parts = strings.Split(s, delim)
		case limit > 0:
			parts = strings.SplitN(s, delim, limit)
		case limit == 0:
			parts = []string{s}
		default:
			parts = strings.Split(s, delim)
			parts = parts[:max(0, len(parts)+limit)]
		}
	}
	out := make([]any, len(parts))
	for i, p := range parts {
		out[i] = p
	}
	return out, nil
}

func fURLEncode(r *renderer, f *filterExpr, in any, _ []any) (any, error) {
	if _, ok := asMap(in); ok {
		b := appendQuery(nil, "", in, 0)
		return urlText(b), r.chargeBytes(f.pos, len(b))
	}
	if _, ok := asList(in); ok {
		b := appendQuery(nil, "", in, 0)
		return urlText(b), r.chargeBytes(f.pos, len(b))
	}
	s, err := r.str(f, in)
	if err != nil {
		return nil, err
	}
	return urlText(appendRawURLEncode(nil, s)), nil
}

// appendQuery is http_build_query with RFC 3986 encoding: hash keys in
// order, nested values as key[sub]=value, null values left out.
func appendQuery(dst []byte, prefix string, v any, depth int) []byte {
	if depth > 32 {
		return dst
	}
	var keys []string
	var vals []any
	if m, ok := asMap(v); ok {
		keys = hashKeys(v, m)
		for _, k := range keys {
			vals = append(vals, m[k])
		}
	} else if l, ok := asList(v); ok {
		for i, e := range l {
			keys = append(keys, strconv.Itoa(i))
			vals = append(vals, e)
		}
	}
	for i, k := range keys {
		name := k
		if prefix != "" {
			name = prefix + "[" + k + "]"
		}
		val := vals[i]
		if isNull(val) {
			continue
		}
		if _, ok := iterValues(val); ok {
			dst = appendQuery(dst, name, val, depth+1)
			continue
		}
		if len(dst) > 0 {
			dst = append(dst, '&')
		}
		dst = appendRawURLEncode(dst, name)
		dst = append(dst, '=')
		if b, ok := val.(bool); ok {
			if b {
				dst = append(dst, '1')
			} else {
				dst = append(dst, '0')
			}
			continue
		}
		dst = appendRawURLEncode(dst, toString(val))
	}
	return dst
}

// ---- numbers ----

// decimal is ±digits × 10^exp, exact, so json.Number text rounds exactly.
type decimal struct {
	neg    bool
	digits string
	exp    int
}

func decimalOf(v any) (decimal, bool) {
	switch x := v.(type) {
	case json.Number:
		// As PHP's json_decode: an integer when it fits, a float
		// otherwise (whose digits beyond 15 are the float's).
		if isPlainInt(string(x)) {
			if d, ok := parseDecimal(string(x)); ok {
				return d, true
			}
		}
	case string:
		if _, ok := parseNumeric(x); ok {
			if d, ok := parseDecimal(strings.Trim(x, " \t\n\r\v\f")); ok {
				return d, true
			}
		}
	}
	if isArray(v) {
		// PHP's (float) of an array: 1 when it has elements.
		if truthy(v) {
			return decimal{digits: "1"}, true
		}
		return decimal{digits: "0"}, true
	}
	n, ok := toNumber(v)
	if _, isStr := stringOf(v); !ok && !isStr {
		return decimal{digits: "0"}, false
	}
	if !n.isFloat {
		neg := n.i < 0
		u := uint64(n.i)
		if neg {
			u = -u
		}
		return decimal{neg: neg, digits: strconv.FormatUint(u, 10)}, true
	}
	if math.IsNaN(n.f) || math.IsInf(n.f, 0) {
		return decimal{digits: "0"}, false
	}
	if math.Abs(n.f) >= 1e15 {
		// Beyond 15 digits PHP prints the float's exact digits.
		return parseDecimal(strconv.FormatFloat(n.f, 'f', 0, 64))
	}
	d, ok := parseDecimal(strconv.FormatFloat(n.f, 'e', -1, 64))
	return d, ok
}

// parseDecimal reads [+-]digits[.digits][e[+-]digits].
func parseDecimal(s string) (decimal, bool) {
	var d decimal
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		d.neg = s[i] == '-'
		i++
	}
	var digits []byte
	frac := 0
	seenDigit, seenPoint := false, false
	for ; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' {
			digits = append(digits, c)
			seenDigit = true
			if seenPoint {
				frac++
			}
		} else if c == '.' && !seenPoint {
			seenPoint = true
		} else {
			break
		}
	}
	if !seenDigit {
		return d, false
	}
	exp := 0
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		e, err := strconv.Atoi(s[i+1:])
		if err != nil {
			return d, false
		}
		exp = e
		i = len(s)
	}
	if i != len(s) {
		return d, false
	}
	d.digits = strings.TrimLeft(string(digits), "0")
	if d.digits == "" {
		d.digits = "0"
	}
	d.exp = exp - frac
	if d.exp > 400 || d.exp < -400-len(d.digits) {
		if d.exp < 0 { // vanishingly small: zero
			return decimal{digits: "0"}, true
		}
		return d, false
	}
	return d, true
}

func (d decimal) isZero() bool { return strings.Trim(d.digits, "0") == "" }

// round rounds to places decimal places (negative: to tens, hundreds…).
func (d decimal) round(places int, mode string) decimal {
	if d.exp >= -places {
		return d
	}
	cut := -places - d.exp
	digits := d.digits
	if len(digits) < cut+1 {
		digits = strings.Repeat("0", cut+1-len(digits)) + digits
	}
	kept, dropped := digits[:len(digits)-cut], digits[len(digits)-cut:]
	nonzero := strings.Trim(dropped, "0") != ""
	up := false
	switch mode {
	case "floor":
		up = d.neg && nonzero
	case "ceil":
		up = !d.neg && nonzero
	default:
		up = dropped[0] >= '5'
	}
	if up {
		b := []byte(kept)
		i := len(b) - 1
		for ; i >= 0; i-- {
			if b[i] == '9' {
				b[i] = '0'
				continue
			}
			b[i]++
			break
		}
		if i < 0 {
			b = append([]byte{'1'}, b...)
		}
		kept = string(b)
	}
	kept = strings.TrimLeft(kept, "0")
	if kept == "" {
		kept = "0"
	}
	return decimal{neg: d.neg, digits: kept, exp: -places}
}

// format writes d with exactly places decimals (d must already be rounded
// to at most that many), a decimal point and a thousands separator.
func (d decimal) format(places int, point, sep string) string {
	digits, exp := d.digits, d.exp
	if exp > 0 {
		digits += strings.Repeat("0", exp)
		exp = 0
	}
	fracN := -exp
	if len(digits) <= fracN {
		digits = strings.Repeat("0", fracN-len(digits)+1) + digits
	}
	intPart, frac := digits[:len(digits)-fracN], digits[len(digits)-fracN:]
	if places > fracN {
		frac += strings.Repeat("0", places-fracN)
	}
	intPart = strings.TrimLeft(intPart, "0")
	if intPart == "" {
		intPart = "0"
	}
	var b strings.Builder
	if d.neg && !d.isZero() {
		b.WriteByte('-')
	}
	for i, c := range []byte(intPart) {
		if i > 0 && (len(intPart)-i)%3 == 0 {
			b.WriteString(sep)
		}
		b.WriteByte(c)
	}
	if places > 0 {
		b.WriteString(point)
		b.WriteString(frac)
	}
	return b.String()
}

const maxDecimals = 100

func fNumberFormat(r *renderer, f *filterExpr, in any, args []any) (any, error) {
	places := min(max(argInt(args, 0, 0), 0), maxDecimals)
	point := argString(args, 1, ".")
	sep := argString(args, 2, ",")
	d, _ := decimalOf(in)
	out := d.round(places, "common").format(places, point, sep)
	return out, r.chargeBytes(f.pos, len(out))
}

func fRound(r *renderer, f *filterExpr, in any, args []any) (any, error) {
	places := min(max(argInt(args, 0, 0), -maxDecimals), maxDecimals)
	mode := argString(args, 1, "common")
	if mode != "common" && mode != "floor" && mode != "ceil" {
		return nil, r.errorf(f.pos, "round: the method must be \"common\", \"floor\" or \"ceil\"")
	}
	d, _ := decimalOf(in)
	rd := d.round(places, mode)
	s := rd.format(max(0, -rd.exp), ".", "")
	// PHP's round returns a float: rounded in decimal, then printed as
	// PHP prints floats (9007199254740993|round is 9.007199254741E+15,
	// -0.4|round is -0).
	x, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return json.Number(s), nil
	}
	return x, nil
}

// fFormat is PHP's sprintf.
func fFormat(r *renderer, f *filterExpr, in any, args []any) (any, error) {
	format, err := r.requireString(f, in)
	if err != nil {
		return nil, err
	}
	out, msg := phpSprintf(format, args, r.t.maxOut)
	if msg != "" {
		return nil, r.errorf(f.pos, "format: %s", msg)
	}
	return out, r.chargeBytes(f.pos, len(out))
}

func phpSprintf(format string, args []any, limit int) (string, string) {
	var b []byte
	next := 0
	for i := 0; i < len(format); i++ {
		c := format[i]
		if c != '%' {
			b = append(b, c)
			continue
		}
		i++
		if i >= len(format) {
			return "", "the format ends in a lone %"
		}
		if format[i] == '%' {
			b = append(b, '%')
			continue
		}
		// argnum$
		argIndex := -1
		j := i
		for j < len(format) && format[j] >= '0' && format[j] <= '9' {
			j++
		}
		if j > i && j < len(format) && format[j] == '$' {
			n, _ := strconv.Atoi(format[i:j])
			if n == 0 || n > 1000 {
				return "", "argument numbers start at 1"
			}
			argIndex = n - 1
			i = j + 1
		}
		left, plus := false, false
		pad := byte(' ')
	flags:
		for i < len(format) {
			switch format[i] {
			case '-':
				left = true
			case '+':
				plus = true
			case ' ':
				pad = ' '
			case '0':
				pad = '0'
			case '\'':
				if i+1 >= len(format) {
					return "", "the format ends inside a padding specifier"
				}
				i++
				pad = format[i]
			default:
				break flags
			}
			i++
		}
		width := 0
		for i < len(format) && format[i] >= '0' && format[i] <= '9' {
			width = width*10 + int(format[i]-'0')
			if width > limit {
				return "", "the width is larger than the output limit"
			}
			i++
		}
		prec := -1
		if i < len(format) && format[i] == '.' {
			i++
			prec = 0
			for i < len(format) && format[i] >= '0' && format[i] <= '9' {
				prec = prec*10 + int(format[i]-'0')
				if prec > 1000 {
					return "", "the precision is too large"
				}
				i++
			}
		}
		if i >= len(format) {
			return "", "the format ends inside a conversion"
		}
		conv := format[i]
		if argIndex < 0 {
			argIndex = next
			next++
		}
		if argIndex >= len(args) {
			return "", fmt.Sprintf("not enough arguments: %d given", len(args))
		}
		arg := args[argIndex]
		var s string
		numeric := true
		switch conv {
		case 's':
			numeric = false
			s = toString(arg)
			if prec >= 0 && runeLen(s) > prec {
				s = string([]rune(s)[:prec])
			}
		case 'd', 'i':
			n := phpInt(arg)
			s = strconv.FormatInt(n, 10)
			if plus && n >= 0 {
				s = "+" + s
			}
		case 'u':
			s = strconv.FormatUint(uint64(phpInt(arg)), 10)
		case 'f', 'F':
			if prec < 0 {
				prec = 6
			}
			x := floatOf(arg)
			if x == 0 {
				x = 0 // PHP writes -0 as 0
			}
			s = strconv.FormatFloat(x, 'f', prec, 64)
			if plus && x >= 0 {
				s = "+" + s
			}
		case 'e', 'E':
			if prec < 0 {
				prec = 6
			}
			x := floatOf(arg)
			if x == 0 {
				x = 0 // PHP's %e writes -0 as 0
			}
			s = strconv.FormatFloat(x, 'e', prec, 64)
			// PHP writes the exponent without padding: 1.5e+3
			if k := strings.LastIndexAny(s, "+-"); k > 0 && s[k-1] == 'e' {
				s = s[:k+1] + strings.TrimLeft(s[k+1:], "0")
				if strings.HasSuffix(s, "+") || strings.HasSuffix(s, "-") {
					s += "0"
				}
			}
			if conv == 'E' {
				s = strings.ToUpper(s)
			}
			if plus && x >= 0 {
				s = "+" + s
			}
		case 'g', 'G':
			if prec < 0 {
				prec = 6
			}
			s = strconv.FormatFloat(floatOf(arg), conv, prec, 64)
		case 'b':
			s = strconv.FormatUint(uint64(intOf(arg)), 2)
		case 'o':
			s = strconv.FormatUint(uint64(intOf(arg)), 8)
		case 'x':
			s = strconv.FormatUint(uint64(intOf(arg)), 16)
		case 'X':
			s = strings.ToUpper(strconv.FormatUint(uint64(intOf(arg)), 16))
		case 'c':
			numeric = false
			s = string([]byte{byte(phpInt(arg))}) // PHP writes one byte
		default:
			return "", fmt.Sprintf("unknown conversion %%%c", conv)
		}
		if n := runeLen(s); n < width {
			padding := strings.Repeat(string(pad), width-n)
			switch {
			case left:
				if pad == '0' && numeric {
					s += strings.Repeat(" ", width-n)
				} else {
					s += padding
				}
			case pad == '0' && numeric && (strings.HasPrefix(s, "-") || strings.HasPrefix(s, "+")):
				s = s[:1] + padding + s[1:]
			default:
				s = padding + s
			}
		}
		b = append(b, s...)
		if len(b) > limit {
			return "", "the result is larger than the output limit"
		}
	}
	return string(b), ""
}

func intOf(v any) int64 {
	n, _ := toNumber(v)
	if n.isFloat {
		if math.IsNaN(n.f) {
			return 0
		}
		if n.f >= math.MaxInt64 {
			return math.MaxInt64
		}
		if n.f <= math.MinInt64 {
			return math.MinInt64
		}
		return int64(n.f)
	}
	return n.i
}

func floatOf(v any) float64 {
	n, _ := toNumber(v)
	return n.float()
}

// ---- tests (x is name) ----

type testDef struct {
	fn   func(x any, args []any) bool
	args int
	// numeric tests use PHP's %: arrays and captured output are refused,
	// as PHP refuses them.
	numeric bool
}

var testTable = map[string]*testDef{
	"defined":  {fn: func(x any, _ []any) bool { return !isUndef(x) }},
	"null":     {fn: func(x any, _ []any) bool { return isNull(x) }},
	"none":     {fn: func(x any, _ []any) bool { return isNull(x) }},
	"empty":    {fn: func(x any, _ []any) bool { return isEmpty(x) }},
	"even":     {fn: func(x any, _ []any) bool { return phpInt(x)%2 == 0 }, numeric: true},
	"odd":      {fn: func(x any, _ []any) bool { return phpInt(x)%2 != 0 }, numeric: true},
	"iterable": {fn: func(x any, _ []any) bool { _, ok := iterValues(x); return ok }},
	"mapping":  {fn: func(x any, _ []any) bool { return kindOf(x) == kMap }},
	"sequence": {fn: func(x any, _ []any) bool { return kindOf(x) == kList }},
	"same as":  {fn: func(x any, a []any) bool { return strictEqual(x, a[0]) }, args: 1},
	// Twig tests with PHP's %, which works on integers: 7.5 is 7.
	"divisible by": {fn: func(x any, a []any) bool {
		d := phpInt(a[0])
		return d != 0 && (d == -1 || phpInt(x)%d == 0)
	}, args: 1, numeric: true},
}

func testNames() []string {
	names := make([]string, 0, len(testTable))
	for n := range testTable {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// phpKeys returns v's keys and values as PHP sees them: a list's keys are
// its indexes.
func phpKeys(v any) ([]string, map[string]any) {
	if l, ok := asList(v); ok {
		keys := make([]string, len(l))
		m := make(map[string]any, len(l))
		for i, e := range l {
			keys[i] = strconv.Itoa(i)
			m[keys[i]] = e
		}
		return keys, m
	}
	m, _ := asMap(v)
	return hashKeys(v, m), m
}

func mergeMixed(a, b any) any {
	out := newOrderedHash(0)
	n := 0
	for _, v := range []any{a, b} {
		keys, m := phpKeys(v)
		for _, k := range keys {
			if _, err := strconv.Atoi(k); err == nil {
				out.set(strconv.Itoa(n), m[k])
				n++
				continue
			}
			out.set(k, m[k])
		}
	}
	return out
}
