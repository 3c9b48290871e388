package template

import (
	"crypto/hmac"
	"crypto/md5"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"hash"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// More of Twig's filters (striptags, nl2br, spaceless, column, batch,
// date_modify, map, filter, reduce, sort with an arrow), and herald's
// hashing and encoding extensions, which third-party APIs demand for
// identity matching (Twig has none): sha256, sha1, md5, hmac, hex,
// base64_encode, base64_decode.

func init() {
	for name, def := range map[string]*filterDef{
		"striptags":     {fn: fStriptags, maxArgs: 1},
		"nl2br":         {fn: fNl2br},
		"spaceless":     {fn: fSpaceless},
		"column":        {fn: fColumn, minArgs: 1, maxArgs: 2},
		"batch":         {fn: fBatch, minArgs: 1, maxArgs: 3},
		"date_modify":   {fn: fDateModify, minArgs: 1, maxArgs: 1},
		"map":           {fn: fMap, minArgs: 1, maxArgs: 1, check: checkArrow("map")},
		"filter":        {fn: fFilter, minArgs: 1, maxArgs: 1, check: checkArrow("filter")},
		"reduce":        {fn: fReduce, minArgs: 1, maxArgs: 2, check: checkArrow("reduce")},
		"sha256":        {fn: hashFilter(sha256.New)},
		"sha1":          {fn: hashFilter(sha1.New)},
		"md5":           {fn: hashFilter(md5.New)},
		"hmac":          {fn: fHMAC, minArgs: 2, maxArgs: 2, check: checkHMAC},
		"hex":           {fn: fHex},
		"base64_encode": {fn: fBase64Encode},
		"base64_decode": {fn: fBase64Decode},
	} {
		filterTable[name] = def
	}
	filterTable["sort"] = &filterDef{fn: fSort, maxArgs: 1, check: checkOptionalArrow("sort")}
}

func checkArrow(name string) func(args []expr) string {
	return func(args []expr) string {
		if _, ok := args[0].(*arrowExpr); !ok {
			return name + ": the argument must be an arrow function, as in " + name + "(x => …)"
		}
		return ""
	}
}

func checkOptionalArrow(name string) func(args []expr) string {
	return func(args []expr) string {
		if len(args) > 0 {
			if _, ok := args[0].(*arrowExpr); !ok {
				return name + ": the argument must be an arrow function, as in " + name + "((a, b) => …)"
			}
		}
		return ""
	}
}

var hmacAlgorithms = []string{"md5", "sha1", "sha256", "sha384", "sha512"}

func checkHMAC(args []expr) string {
	if v, ok := literalArg(args, 0); ok {
		return oneOf("hmac", "algorithm", v, hmacAlgorithms)
	}
	return ""
}

// requireString refuses what PHP's string functions refuse: arrays.
func (r *renderer) requireString(f *filterExpr, in any) (string, error) {
	switch kindOf(in) {
	case kList, kMap:
		return "", r.errorf(f.pos, "%s: the value must be a string, got %s", f.name, typeName(in))
	}
	return r.str(f, in)
}

var (
	reTag       = regexp.MustCompile(`(?s)<!--.*?-->|<\?.*?\?>|</?[A-Za-z!][^>]*>?`)
	reSpaceless = regexp.MustCompile(`>\s+<`)
)

// fStriptags is PHP's strip_tags: tags, comments and PHP blocks are
// removed. An argument lists tags to keep, as in "<b><i>".
func fStriptags(r *renderer, f *filterExpr, in any, args []any) (any, error) {
	s, err := r.requireString(f, in)
	if err != nil {
		return nil, err
	}
	if !strings.ContainsAny(s, "<") {
		return s, nil
	}
	keep := map[string]bool{}
	for _, m := range regexp.MustCompile(`<([A-Za-z0-9]+)>`).FindAllStringSubmatch(argString(args, 0, ""), -1) {
		keep[strings.ToLower(m[1])] = true
	}
	return reTag.ReplaceAllStringFunc(s, func(tag string) string {
		if len(keep) > 0 {
			name := strings.TrimLeft(tag, "</")
			if i := strings.IndexAny(name, " \t\n/>"); i >= 0 {
				name = name[:i]
			}
			if keep[strings.ToLower(name)] {
				return tag
			}
		}
		return ""
	}), nil
}

// fNl2br inserts "<br />" before every line break, as PHP's nl2br. As in
// Twig, the input is HTML-escaped first unless it is already safe (a
// literal, escape('html'), raw, nl2br), and the result is markup: in XML
// it is written as it is.
func fNl2br(r *renderer, f *filterExpr, in any, _ []any) (any, error) {
	s, err := r.requireString(f, in)
	if err != nil {
		return nil, err
	}
	if !htmlSafeInput(f.in) {
		if _, ok := in.(markupText); !ok {
			s = string(appendHTMLEscaped(nil, s))
		}
	}
	if !strings.ContainsAny(s, "\r\n") {
		return markupText(s), nil
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '\r' || c == '\n' {
			b.WriteString("<br />")
			b.WriteByte(c)
			if i+1 < len(s) && (s[i+1] == '\r' || s[i+1] == '\n') && s[i+1] != c {
				b.WriteByte(s[i+1])
				i++
			}
			continue
		}
		b.WriteByte(c)
	}
	return markupText(b.String()), r.chargeBytes(f.pos, b.Len())
}

// htmlSafeInput reports whether Twig counts an expression as safe for
// HTML, so that nl2br does not escape it again.
func htmlSafeInput(e expr) bool {
	switch x := e.(type) {
	case *literal:
		return true
	case *filterExpr:
		switch x.name {
		case "raw", "nl2br":
			return true
		case "e", "escape":
			if len(x.args) == 0 {
				return true
			}
			if lit, ok := x.args[0].(*literal); ok {
				s, _ := lit.v.(string)
				return s == "html"
			}
		}
	}
	return false
}

func fSpaceless(r *renderer, f *filterExpr, in any, _ []any) (any, error) {
	s, err := r.requireString(f, in)
	if err != nil {
		return nil, err
	}
	return strings.Trim(reSpaceless.ReplaceAllString(s, "><"), phpSpace), nil
}

// fColumn is array_column: the value under a key of every element.
func fColumn(r *renderer, f *filterExpr, in any, args []any) (any, error) {
	rows, ok := iterValues(in)
	if !ok {
		return nil, r.errorf(f.pos, "column: the value must be a list, got %s", typeName(in))
	}
	if err := r.step(f.pos, len(rows)); err != nil {
		return nil, err
	}
	key := pathKey{s: toString(args[0])}
	if n, ok := toNumber(args[0]); ok && isNumberType(args[0]) && !n.isFloat {
		key = pathKey{s: strconv.FormatInt(n.i, 10), i: int(n.i), isInt: n.i >= 0 && n.i < 1<<31}
	}
	var byIndex map[string]any
	if len(args) > 1 && !isNull(args[1]) {
		byIndex = map[string]any{}
	}
	out := make([]any, 0, len(rows))
	for _, row := range rows {
		v := getAttr(row, key)
		if isUndef(v) {
			continue
		}
		if byIndex != nil {
			if idx := getAttr(row, pathKey{s: toString(args[1])}); !isUndef(idx) {
				byIndex[toString(idx)] = v
				continue
			}
		}
		out = append(out, v)
	}
	if byIndex != nil {
		return byIndex, nil
	}
	return out, nil
}

// fBatch splits a list into lists of size items, the last one filled up
// with the second argument when one is given.
func fBatch(r *renderer, f *filterExpr, in any, args []any) (any, error) {
	items, ok := iterValues(in)
	if !ok {
		return nil, r.errorf(f.pos, "batch: the value must be a list, got %s", typeName(in))
	}
	n, _ := toNumber(args[0])
	size := int(n.float())
	if !n.isFloat {
		size = int(min(n.i, 1<<30))
	}
	if n.isFloat && n.f != float64(size) {
		size = int(n.f) + 1 // Twig rounds the size up
	}
	if size < 1 {
		return nil, r.errorf(f.pos, "batch: the size must be at least 1")
	}
	if err := r.step(f.pos, len(items)); err != nil {
		return nil, err
	}
	keys, _, _ := keyedValues(in)
	preserve := len(args) < 3 || truthy(args[2])
	var out []any
	for i := 0; i < len(items); i += size {
		end := min(i+size, len(items))
		ck := slices.Clone(keys[i:end])
		cv := slices.Clone(items[i:end])
		if !preserve {
			for j := range ck {
				ck[j] = strconv.Itoa(j)
			}
		}
		if len(cv) < size && len(args) > 1 && !isNull(args[1]) {
			next := 0
			for _, k := range ck {
				if n, ok := intKey(k); ok && int(n) >= next {
					next = int(n) + 1
				}
			}
			for len(cv) < size {
				ck = append(ck, strconv.Itoa(next))
				cv = append(cv, args[1])
				next++
			}
		}
		// Twig keeps the keys: the second chunk of a list starts at key 2.
		out = append(out, keyedHash(ck, cv))
	}
	if out == nil {
		out = []any{}
	}
	return out, nil
}

func (r *renderer) arrowArg(f *filterExpr, args []any) (*arrowExpr, error) {
	a, ok := args[0].(*arrowExpr)
	if !ok {
		return nil, r.errorf(f.pos, "%s: the argument must be an arrow function", f.name)
	}
	return a, nil
}

// fMap calls the arrow with each value and key.
func fMap(r *renderer, f *filterExpr, in any, args []any) (any, error) {
	a, err := r.arrowArg(f, args)
	if err != nil {
		return nil, err
	}
	if m, ok := asMap(in); ok {
		out := newOrderedHash(len(m))
		for _, k := range hashKeys(in, m) {
			v, err := r.call(a, m[k], k)
			if err != nil {
				return nil, err
			}
			out.set(k, nullIfUndef(v))
		}
		return out, nil
	}
	l, ok := asList(in)
	if !ok {
		return []any{}, nil // PHP's foreach over a scalar: nothing
	}
	out := make([]any, len(l))
	for i, e := range l {
		v, err := r.call(a, e, int64(i))
		if err != nil {
			return nil, err
		}
		out[i] = nullIfUndef(v)
	}
	return out, nil
}

// fFilter keeps the values for which the arrow is true.
func fFilter(r *renderer, f *filterExpr, in any, args []any) (any, error) {
	a, err := r.arrowArg(f, args)
	if err != nil {
		return nil, err
	}
	if m, ok := asMap(in); ok {
		out := newOrderedHash(0)
		for _, k := range hashKeys(in, m) {
			v, err := r.call(a, m[k], k)
			if err != nil {
				return nil, err
			}
			if truthy(v) {
				out.set(k, m[k])
			}
		}
		return out, nil
	}
	l, ok := asList(in)
	if !ok {
		return nil, r.errorf(f.pos, "filter: the value must be a list or a hash, got %s", typeName(in))
	}
	// array_filter keeps the keys: [1, 2, 3]|filter(x => x > 1) is
	// {1: 2, 2: 3}.
	var keys []string
	var vals []any
	for i, e := range l {
		v, err := r.call(a, e, int64(i))
		if err != nil {
			return nil, err
		}
		if truthy(v) {
			keys = append(keys, strconv.Itoa(i))
			vals = append(vals, e)
		}
	}
	return keyedHash(keys, vals), nil
}

// fReduce folds the values with the arrow (carry, value), starting from
// the second argument.
func fReduce(r *renderer, f *filterExpr, in any, args []any) (any, error) {
	a, err := r.arrowArg(f, args)
	if err != nil {
		return nil, err
	}
	vals, ok := iterValues(in)
	if !ok {
		return nil, r.errorf(f.pos, "reduce: the value must be a list or a hash, got %s", typeName(in))
	}
	carry := argAt(args, 1)
	for _, v := range vals {
		if carry, err = r.call(a, carry, v); err != nil {
			return nil, err
		}
		carry = nullIfUndef(carry)
	}
	return carry, nil
}

// fDateModify is DateTime::modify for the relative formats payloads use:
// "+1 day", "-2 hours 30 minutes", "+1 month", "midnight", "noon",
// "tomorrow", "yesterday", "first day of next month", "last day of this
// month" and combinations.
func fDateModify(r *renderer, f *filterExpr, in any, args []any) (any, error) {
	if blankDate(in) {
		return nil, nil // as date(): a missing date stays missing, not now
	}
	t, ok := r.toTime(in, r.t.loc)
	if !ok {
		return nil, r.errorf(f.pos, "date_modify: cannot read %q as a date", clipText(toString(in)))
	}
	mod := strings.ToLower(strings.TrimSpace(toString(args[0])))
	out, ok := modifyTime(t, mod)
	if !ok {
		return nil, r.errorf(f.pos, "date_modify: cannot read the modifier %q (want e.g. \"+1 day\", \"-2 hours\", \"first day of next month\")", clipText(mod))
	}
	return out, nil
}

var unitDurations = map[string]time.Duration{
	"sec": time.Second, "secs": time.Second, "second": time.Second, "seconds": time.Second,
	"min": time.Minute, "mins": time.Minute, "minute": time.Minute, "minutes": time.Minute,
	"hour": time.Hour, "hours": time.Hour,
}

func modifyTime(t time.Time, mod string) (time.Time, bool) {
	words := strings.Fields(mod)
	if len(words) == 0 {
		return t, true
	}
	for i := 0; i < len(words); i++ {
		w := words[i]
		switch w {
		case "now":
			continue
		case "today", "midnight":
			t = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, t.Location())
			continue
		case "noon":
			t = time.Date(t.Year(), t.Month(), t.Day(), 12, 0, 0, 0, t.Location())
			continue
		case "tomorrow":
			t = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, t.Location())
			continue
		case "yesterday":
			t = time.Date(t.Year(), t.Month(), t.Day()-1, 0, 0, 0, 0, t.Location())
			continue
		case "first", "last":
			// first|last day of (this|next|last|previous) month
			if i+3 >= len(words) || words[i+1] != "day" || words[i+2] != "of" {
				return t, false
			}
			delta := 0
			switch words[i+3] {
			case "this":
			case "next":
				delta = 1
			case "last", "previous":
				delta = -1
			default:
				return t, false
			}
			if i+4 >= len(words) || words[i+4] != "month" {
				return t, false
			}
			// PHP keeps the time of day.
			if w == "first" {
				t = time.Date(t.Year(), t.Month()+time.Month(delta), 1, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), t.Location())
			} else {
				t = time.Date(t.Year(), t.Month()+time.Month(delta+1), 0, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), t.Location())
			}
			i += 4
			continue
		}
		// [+-]N unit, or [+-]N and the unit as the next word
		num, unit := w, ""
		if k := strings.IndexFunc(w, func(c rune) bool { return c >= 'a' && c <= 'z' }); k > 0 {
			num, unit = w[:k], w[k:]
		} else if i+1 < len(words) {
			unit = words[i+1]
			i++
		}
		n, err := strconv.Atoi(strings.TrimPrefix(num, "+"))
		if err != nil || n > 1e6 || n < -1e6 {
			return t, false
		}
		if d, ok := unitDurations[unit]; ok {
			t = t.Add(time.Duration(n) * d)
			continue
		}
		switch strings.TrimSuffix(unit, "s") {
		case "day":
			t = t.AddDate(0, 0, n)
		case "week":
			t = t.AddDate(0, 0, 7*n)
		case "fortnight":
			t = t.AddDate(0, 0, 14*n)
		case "month":
			t = t.AddDate(0, n, 0)
		case "year":
			t = t.AddDate(n, 0, 0)
		default:
			return t, false
		}
	}
	return t, true
}

// hashFilter returns a filter writing the lowercase hex digest of the
// string.
func hashFilter(h func() hash.Hash) filterFunc {
	return func(r *renderer, f *filterExpr, in any, _ []any) (any, error) {
		s, err := r.requireString(f, in)
		if err != nil {
			return nil, err
		}
		d := h()
		d.Write([]byte(s))
		return hex.EncodeToString(d.Sum(nil)), nil
	}
}

// fHMAC is hmac(algorithm, key): the lowercase hex HMAC of the string, as
// PHP's hash_hmac.
func fHMAC(r *renderer, f *filterExpr, in any, args []any) (any, error) {
	s, err := r.requireString(f, in)
	if err != nil {
		return nil, err
	}
	var h func() hash.Hash
	switch algo := strings.ToLower(toString(args[0])); algo {
	case "md5":
		h = md5.New
	case "sha1":
		h = sha1.New
	case "sha256":
		h = sha256.New
	case "sha384":
		h = sha512.New384
	case "sha512":
		h = sha512.New
	default:
		return nil, r.errorf(f.pos, "hmac: unknown algorithm %q (want %s)", algo, strings.Join(hmacAlgorithms, ", "))
	}
	m := hmac.New(h, []byte(toString(args[1])))
	m.Write([]byte(s))
	return hex.EncodeToString(m.Sum(nil)), nil
}

func fHex(r *renderer, f *filterExpr, in any, _ []any) (any, error) {
	s, err := r.requireString(f, in)
	if err != nil {
		return nil, err
	}
	return hex.EncodeToString([]byte(s)), r.chargeBytes(f.pos, 2*len(s))
}

func fBase64Encode(r *renderer, f *filterExpr, in any, _ []any) (any, error) {
	s, err := r.requireString(f, in)
	if err != nil {
		return nil, err
	}
	return base64.StdEncoding.EncodeToString([]byte(s)), r.chargeBytes(f.pos, len(s)*4/3)
}

// fBase64Decode reads standard or URL-safe base64, padded or not.
func fBase64Decode(r *renderer, f *filterExpr, in any, _ []any) (any, error) {
	s, err := r.requireString(f, in)
	if err != nil {
		return nil, err
	}
	s = strings.TrimRight(strings.TrimSpace(s), "=")
	enc := base64.RawStdEncoding
	if strings.ContainsAny(s, "-_") {
		enc = base64.RawURLEncoding
	}
	b, err := enc.DecodeString(s)
	if err != nil {
		return nil, r.errorf(f.pos, "base64_decode: the value is not base64")
	}
	return string(b), nil
}
