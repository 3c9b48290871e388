package template

import (
	"encoding/json"
	"fmt"
	"math"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// Values at run time are what encoding/json produces with UseNumber
// (nil, bool, string, json.Number, []any, map[string]any), other Go
// numbers, and these package types.

// undefined is a missing variable or key. It behaves as null, but
// `is defined` can tell it apart.
type undefined struct{}

var undef any = undefined{}

// Strings already escaped for one context. In that context they are
// written as they are; anywhere else they are plain strings.
type (
	jsonText    string // json_encode output: valid JSON, written bare in JSON value position
	markupText  string // escape('html'): safe in XML text and attribute values
	urlText     string // escape('url') / url_encode: only unreserved characters and %XX
	jsonStrText string // escape('js'): safe inside a JSON string literal
	// capturedText is the output of set … endset or a macro: a string,
	// except that arithmetic refuses it, as PHP refuses Twig's Markup.
	capturedText string
)

// orderedHash is a hash that keeps the order its keys were written in:
// hash literals, and what filters make of them, iterate as in Twig. (Data
// from the event are Go maps, which iterate in key order.)
type orderedHash struct {
	keys []string
	m    map[string]any
}

// newOrderedHash returns an empty hash with room for n keys.
func newOrderedHash(n int) *orderedHash {
	return &orderedHash{keys: make([]string, 0, n), m: make(map[string]any, n)}
}

// set adds or replaces a key; a new key goes last.
func (h *orderedHash) set(k string, v any) {
	if _, ok := h.m[k]; !ok {
		h.keys = append(h.keys, k)
	}
	h.m[k] = v
}

// hashKeys returns the keys of hash v (whose map is m) in iteration
// order: as written for an orderedHash, sorted otherwise.
func hashKeys(v any, m map[string]any) []string {
	if h, ok := v.(*orderedHash); ok {
		return h.keys
	}
	return sortedKeys(m)
}

// loopState is the `loop` variable inside a for.
type loopState struct {
	index0, length int
	parent         any
}

func isUndef(v any) bool {
	_, ok := v.(undefined)
	return ok
}

func isNull(v any) bool {
	if v == nil {
		return true
	}
	_, ok := v.(undefined)
	return ok
}

// nullIfUndef turns undefined into nil, for values that are stored.
func nullIfUndef(v any) any {
	if isUndef(v) {
		return nil
	}
	return v
}

// stringOf returns v as a string if it is one of the string kinds.
func stringOf(v any) (string, bool) {
	switch s := v.(type) {
	case string:
		return s, true
	case jsonText:
		return string(s), true
	case markupText:
		return string(s), true
	case urlText:
		return string(s), true
	case jsonStrText:
		return string(s), true
	case capturedText:
		return string(s), true
	}
	return "", false
}

// phpArrayStrings makes arrays print as PHP prints them ("Array"), and
// blank dates render as now; the differential test sets it (while no
// other test runs) to recognize the kept differences exactly.
var phpArrayStrings bool

// toString converts v as Twig prints it, except that arrays and hashes
// print as compact JSON rather than "Array".
func toString(v any) string {
	switch x := v.(type) {
	case nil, undefined:
		return ""
	case string:
		return x
	case json.Number:
		return string(appendNumberText(nil, string(x), false))
	case bool:
		if x {
			return "1"
		}
		return ""
	case int64:
		return strconv.FormatInt(x, 10)
	case int:
		return strconv.Itoa(x)
	case float64:
		return string(appendFloat(nil, x))
	}
	if s, ok := stringOf(v); ok {
		return s
	}
	return string(appendString(nil, v))
}

// appendString appends toString(v) to dst.
func appendString(dst []byte, v any) []byte {
	switch x := v.(type) {
	case nil, undefined:
		return dst
	case string:
		return append(dst, x...)
	case json.Number:
		return appendNumberText(dst, string(x), false)
	case bool:
		if x {
			return append(dst, '1')
		}
		return dst
	case int64:
		return strconv.AppendInt(dst, x, 10)
	case int:
		return strconv.AppendInt(dst, int64(x), 10)
	case int32:
		return strconv.AppendInt(dst, int64(x), 10)
	case uint64:
		return strconv.AppendUint(dst, x, 10)
	case uint:
		return strconv.AppendUint(dst, uint64(x), 10)
	case float64:
		return appendFloat(dst, x)
	case float32:
		return appendFloat(dst, float64(x))
	case time.Time:
		return x.AppendFormat(dst, time.RFC3339Nano)
	case *loopState:
		return dst
	}
	if s, ok := stringOf(v); ok {
		return append(dst, s...)
	}
	if _, ok := asList(v); ok {
		if phpArrayStrings {
			return append(dst, "Array"...)
		}
		out, _ := appendJSON(dst, v, 0)
		return out
	}
	if _, ok := asMap(v); ok {
		if phpArrayStrings {
			return append(dst, "Array"...)
		}
		out, _ := appendJSON(dst, v, 0)
		return out
	}
	return fmt.Append(dst, v)
}

// appendFloat formats f as PHP prints a float (echo, string conversion,
// Twig's output): 14 significant digits, an exponent ("1.0E+20") when the
// decimal point is more than 14 digits out or the number is below 1e-4.
// NaN and infinities print as PHP does.
func appendFloat(dst []byte, f float64) []byte { return appendPHPFloat(dst, f, 14, 'E') }

// appendJSONFloat formats f as PHP's json_encode does (serialize_precision
// -1): the shortest text that reads back as f, with "e" beyond 17 digits.
func appendJSONFloat(dst []byte, f float64) []byte { return appendPHPFloat(dst, f, -1, 'e') }

// appendPHPFloat is PHP's php_gcvt: precision significant digits (-1: the
// shortest that round-trips, judged against 17 digits).
func appendPHPFloat(dst []byte, f float64, precision int, expChar byte) []byte {
	switch {
	case math.IsNaN(f):
		return append(dst, "NAN"...)
	case math.IsInf(f, 1):
		return append(dst, "INF"...)
	case math.IsInf(f, -1):
		return append(dst, "-INF"...)
	}
	if math.Signbit(f) {
		dst = append(dst, '-')
		f = -f
	}
	if f == 0 {
		return append(dst, '0')
	}
	ndigit := precision
	var buf [32]byte
	var e []byte
	if precision < 0 {
		ndigit = 17
		e = strconv.AppendFloat(buf[:0], f, 'e', -1, 64)
	} else {
		e = strconv.AppendFloat(buf[:0], f, 'e', precision-1, 64)
	}
	// e is d[.ddd]e±XX
	k := 0
	for k < len(e) && e[k] != 'e' {
		k++
	}
	mant, exp := e[:k], e[k+1:]
	x, _ := strconv.Atoi(string(exp))
	var digs [32]byte
	digits := append(digs[:0], mant[0])
	if len(mant) > 2 {
		digits = append(digits, mant[2:]...)
	}
	for len(digits) > 1 && digits[len(digits)-1] == '0' {
		digits = digits[:len(digits)-1]
	}
	decpt := x + 1
	if (decpt < 0 && decpt < -3) || (decpt >= 0 && decpt > ndigit) {
		dst = append(dst, digits[0], '.')
		if len(digits) == 1 {
			dst = append(dst, '0')
		} else {
			dst = append(dst, digits[1:]...)
		}
		dst = append(dst, expChar)
		if x < 0 {
			dst = append(dst, '-')
			x = -x
		} else {
			dst = append(dst, '+')
		}
		return strconv.AppendInt(dst, int64(x), 10)
	}
	if decpt <= 0 {
		dst = append(dst, '0', '.')
		for i := decpt; i < 0; i++ {
			dst = append(dst, '0')
		}
		return append(dst, digits...)
	}
	for i := 0; i < decpt; i++ {
		if i < len(digits) {
			dst = append(dst, digits[i])
		} else {
			dst = append(dst, '0')
		}
	}
	if len(digits) > decpt {
		dst = append(dst, '.')
		dst = append(dst, digits[decpt:]...)
	}
	return dst
}

// appendNumberText writes a number from the event data (json.Number) as
// PHP prints the value json_decode gives it: integers that fit in 64 bits
// exactly, anything else (fractions, exponents, bigger integers) as a
// float. Text that is not a number is written as it is.
func appendNumberText(dst []byte, s string, enc bool) []byte {
	if isPlainInt(s) {
		if s == "-0" {
			return append(dst, '0')
		}
		return append(dst, s...)
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		var ne *strconv.NumError
		if !asNumErr(err, &ne) || ne.Err != strconv.ErrRange {
			return append(dst, s...)
		}
	}
	if enc {
		return appendJSONFloat(dst, f)
	}
	return appendFloat(dst, f)
}

// isPlainInt reports whether s is an optional minus and digits that fit in
// an int64.
func isPlainInt(s string) bool {
	d := s
	if len(d) > 0 && d[0] == '-' {
		d = d[1:]
	}
	if d == "" || len(d) > 19 {
		return false
	}
	for i := 0; i < len(d); i++ {
		if d[i] < '0' || d[i] > '9' {
			return false
		}
	}
	if len(d) == 19 {
		_, err := strconv.ParseInt(s, 10, 64)
		return err == nil
	}
	return true
}

// number is a numeric value: an integer, or a float.
type number struct {
	i       int64
	f       float64
	isFloat bool
}

func (n number) float() float64 {
	if n.isFloat {
		return n.f
	}
	return float64(n.i)
}

func (n number) value() any {
	if n.isFloat {
		return n.f
	}
	return n.i
}

func intNum(i int64) number     { return number{i: i} }
func floatNum(f float64) number { return number{f: f, isFloat: true} }

// toNumber converts v to a number. ok is false for values that are not
// numeric (non-numeric strings, arrays, hashes); null and false are 0.
func toNumber(v any) (number, bool) {
	switch x := v.(type) {
	case nil, undefined:
		return intNum(0), true
	case bool:
		if x {
			return intNum(1), true
		}
		return intNum(0), true
	case int64:
		return intNum(x), true
	case int:
		return intNum(int64(x)), true
	case int32:
		return intNum(int64(x)), true
	case uint:
		if x <= math.MaxInt64 {
			return intNum(int64(x)), true
		}
		return floatNum(float64(x)), true
	case uint64:
		if x <= math.MaxInt64 {
			return intNum(int64(x)), true
		}
		return floatNum(float64(x)), true
	case float64:
		return floatNum(x), true
	case float32:
		return floatNum(float64(x)), true
	case json.Number:
		return stringNumber(string(x))
	case string:
		return stringNumber(x)
	}
	if s, ok := stringOf(v); ok {
		return stringNumber(s)
	}
	return number{}, false
}

// stringNumber converts a string as PHP does: a numeric string is its
// number (ok); otherwise ok is false and the number is that of its leading
// numeric part ("5 apples" is 5, "2024-02-29" is 2024, "abc" is 0), which
// is what PHP's arithmetic and casts use.
func stringNumber(s string) (number, bool) {
	if n, ok := parseNumeric(s); ok {
		return n, true
	}
	return leadingNumber(s), false
}

func leadingNumber(s string) number {
	i := 0
	for i < len(s) && strings.IndexByte(" \t\n\r\v\f", s[i]) >= 0 {
		i++
	}
	j := i
	if j < len(s) && (s[j] == '+' || s[j] == '-') {
		j++
	}
	d := j
	for j < len(s) && s[j] >= '0' && s[j] <= '9' {
		j++
	}
	intEnd := j
	if j < len(s) && s[j] == '.' {
		k := j + 1
		for k < len(s) && s[k] >= '0' && s[k] <= '9' {
			k++
		}
		if k > j+1 || intEnd > d {
			j = k
		}
	}
	if j == d || j == d+1 && s[d] == '.' {
		return intNum(0)
	}
	if j < len(s) && (s[j] == 'e' || s[j] == 'E') {
		k := j + 1
		if k < len(s) && (s[k] == '+' || s[k] == '-') {
			k++
		}
		if k < len(s) && s[k] >= '0' && s[k] <= '9' {
			for k < len(s) && s[k] >= '0' && s[k] <= '9' {
				k++
			}
			j = k
		}
	}
	n, ok := parseNumeric(s[i:j])
	if !ok {
		return intNum(0)
	}
	return n
}

// parseNumeric reads a PHP numeric string: optional surrounding
// whitespace, sign, digits, fraction, exponent.
func parseNumeric(s string) (number, bool) {
	s = strings.Trim(s, " \t\n\r\v\f")
	if s == "" || len(s) > 400 {
		return number{}, false
	}
	digits, isFloat := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits = true
		case c == '+' || c == '-':
			if i != 0 && s[i-1] != 'e' && s[i-1] != 'E' {
				return number{}, false
			}
		case c == '.' || c == 'e' || c == 'E':
			isFloat = true
		default:
			return number{}, false
		}
	}
	if !digits {
		return number{}, false
	}
	if !isFloat {
		if i, err := strconv.ParseInt(s, 10, 64); err == nil {
			return intNum(i), true
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		var ne *strconv.NumError
		if asNumErr(err, &ne) && ne.Err == strconv.ErrRange {
			return floatNum(f), true
		}
		return number{}, false
	}
	return floatNum(f), true
}

func asNumErr(err error, target **strconv.NumError) bool {
	ne, ok := err.(*strconv.NumError)
	if ok {
		*target = ne
	}
	return ok
}

// isNumeric reports whether v is a number or a numeric string.
func isNumeric(v any) bool {
	switch v.(type) {
	case int64, int, int32, uint, uint64, float64, float32, json.Number:
		_, ok := toNumber(v)
		return ok
	}
	if s, ok := stringOf(v); ok {
		_, ok := parseNumeric(s)
		return ok
	}
	return false
}

func isNumberType(v any) bool {
	switch v.(type) {
	case int64, int, int32, uint, uint64, float64, float32, json.Number:
		return true
	}
	return false
}

// truthy is PHP's boolean conversion.
func truthy(v any) bool {
	switch x := v.(type) {
	case nil, undefined:
		return false
	case bool:
		return x
	case string:
		return x != "" && x != "0"
	case int64:
		return x != 0
	case int:
		return x != 0
	case float64:
		return x != 0
	case json.Number:
		n, ok := toNumber(x)
		return !ok || n.float() != 0
	case []any:
		return len(x) > 0
	case map[string]any:
		return len(x) > 0
	case *loopState:
		return true
	}
	if s, ok := stringOf(v); ok {
		return s != "" && s != "0"
	}
	if n, ok := toNumber(v); ok && isNumberType(v) {
		return n.float() != 0
	}
	if l, ok := asList(v); ok {
		return len(l) > 0
	}
	if m, ok := asMap(v); ok {
		return len(m) > 0
	}
	return true
}

// isEmpty is Twig's `empty` test, used by default(): undefined, null,
// false, "" and empty arrays or hashes. 0 and "0" are not empty.
func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil, undefined:
		return true
	case bool:
		return !x
	case string:
		return x == ""
	case []any:
		return len(x) == 0
	case map[string]any:
		return len(x) == 0
	}
	if s, ok := stringOf(v); ok {
		return s == ""
	}
	if l, ok := asList(v); ok {
		return len(l) == 0
	}
	if m, ok := asMap(v); ok {
		return len(m) == 0
	}
	return false
}

// asList returns v as a list, converting other slice types.
func asList(v any) ([]any, bool) {
	switch x := v.(type) {
	case []any:
		return x, true
	case *orderedHash:
		return nil, false
	case nil, undefined, string, json.Number, bool, int64, int, float64, map[string]any:
		return nil, false
	case []string:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out, true
	case []map[string]any:
		out := make([]any, len(x))
		for i, s := range x {
			out[i] = s
		}
		return out, true
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Slice || rv.Kind() == reflect.Array {
		if rv.Kind() == reflect.Slice && rv.Type().Elem().Kind() == reflect.Uint8 {
			return nil, false // []byte is a string-like blob, not a list
		}
		out := make([]any, rv.Len())
		for i := range out {
			out[i] = rv.Index(i).Interface()
		}
		return out, true
	}
	return nil, false
}

// asMap returns v as a hash, converting other map types with string keys.
func asMap(v any) (map[string]any, bool) {
	switch x := v.(type) {
	case map[string]any:
		return x, true
	case *orderedHash:
		return x.m, true
	case nil, undefined, string, json.Number, bool, int64, int, float64, []any:
		return nil, false
	case map[string]string:
		out := make(map[string]any, len(x))
		for k, s := range x {
			out[k] = s
		}
		return out, true
	}
	rv := reflect.ValueOf(v)
	if rv.Kind() == reflect.Map && rv.Type().Key().Kind() == reflect.String {
		out := make(map[string]any, rv.Len())
		it := rv.MapRange()
		for it.Next() {
			out[it.Key().String()] = it.Value().Interface()
		}
		return out, true
	}
	return nil, false
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// getAttr reads one constant key of v: a hash key, a list index, or a
// field of loop. Anything missing is undefined.
func getAttr(v any, k pathKey) any {
	switch x := v.(type) {
	case map[string]any:
		if e, ok := x[k.s]; ok {
			return e
		}
		return undef
	case []any:
		i := k.i
		if !k.isInt {
			n, err := strconv.Atoi(k.s)
			if err != nil {
				return undef
			}
			i = n
		}
		if i >= 0 && i < len(x) {
			return x[i]
		}
		return undef
	case *loopState:
		return x.field(k.s)
	case *orderedHash:
		return getAttr(x.m, k)
	case nil, undefined, string, json.Number, bool, int64, float64:
		return undef
	}
	if m, ok := asMap(v); ok {
		return getAttr(m, k)
	}
	if l, ok := asList(v); ok {
		return getAttr(l, k)
	}
	return undef
}

func (l *loopState) field(name string) any {
	switch name {
	case "index":
		return int64(l.index0 + 1)
	case "index0":
		return int64(l.index0)
	case "revindex":
		return int64(l.length - l.index0)
	case "revindex0":
		return int64(l.length - l.index0 - 1)
	case "first":
		return l.index0 == 0
	case "last":
		return l.index0 == l.length-1
	case "length":
		return int64(l.length)
	case "parent":
		if l.parent == nil {
			return undef
		}
		return l.parent
	}
	return undef
}

// getIndex reads v[idx] for a computed idx.
func getIndex(v, idx any) any {
	switch k := idx.(type) {
	case string:
		return getAttr(v, pathKey{s: k})
	case int64:
		return getAttr(v, pathKey{s: strconv.FormatInt(k, 10), i: int(k), isInt: k >= 0 && k <= math.MaxInt32})
	}
	if n, ok := toNumber(idx); ok && isNumberType(idx) && !n.isFloat {
		return getIndex(v, n.i)
	}
	return getAttr(v, pathKey{s: toString(idx)})
}

// kind classes used by comparisons.
type vkind uint8

const (
	kNull vkind = iota
	kBool
	kNum
	kStr
	kList
	kMap
	kOther
)

func kindOf(v any) vkind {
	switch v.(type) {
	case nil, undefined:
		return kNull
	case bool:
		return kBool
	case int64, int, int32, uint, uint64, float64, float32, json.Number:
		return kNum
	case []any:
		return kList
	case map[string]any, *orderedHash:
		return kMap
	}
	if _, ok := stringOf(v); ok {
		return kStr
	}
	if _, ok := asList(v); ok {
		return kList
	}
	if _, ok := asMap(v); ok {
		return kMap
	}
	return kOther
}

// looseEqual is PHP 8's == as Twig uses it.
func looseEqual(a, b any) bool {
	c, ok := compareValues(a, b)
	return ok && c == 0
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func cmpBool(a, b bool) int {
	switch {
	case a == b:
		return 0
	case !a:
		return -1
	}
	return 1
}

func cmpNum(a, b number) int {
	if !a.isFloat && !b.isFloat {
		switch {
		case a.i < b.i:
			return -1
		case a.i > b.i:
			return 1
		}
		return 0
	}
	x, y := a.float(), b.float()
	switch {
	case x < y:
		return -1
	case x > y:
		return 1
	case x == y:
		return 0
	}
	return 1 // NaN: never equal
}

// compareValues orders a and b as PHP 8's <=> does (simplified). ok is
// false when they cannot be compared.
func compareValues(a, b any) (int, bool) {
	ka, kb := kindOf(a), kindOf(b)
	switch {
	case ka == kNull && kb == kNull:
		return 0, true
	case ka == kBool || kb == kBool:
		return cmpBool(truthy(a), truthy(b)), true
	case ka == kNull && kb == kStr:
		s, _ := stringOf(b)
		return strings.Compare("", s), true
	case ka == kStr && kb == kNull:
		s, _ := stringOf(a)
		return strings.Compare(s, ""), true
	case ka == kNull || kb == kNull:
		return cmpBool(truthy(a), truthy(b)), true
	case ka == kNum && kb == kNum:
		x, _ := toNumber(a)
		y, _ := toNumber(b)
		return cmpNum(x, y), true
	case ka == kNum && kb == kStr, ka == kStr && kb == kNum, ka == kStr && kb == kStr:
		x, okx := toNumber(a)
		y, oky := toNumber(b)
		if okx && oky {
			return cmpNum(x, y), true
		}
		return strings.Compare(toString(a), toString(b)), true
	case ka == kList && kb == kList:
		la, _ := asList(a)
		lb, _ := asList(b)
		if len(la) != len(lb) {
			return cmpInt(len(la), len(lb)), true
		}
		for i := range la {
			c, ok := compareValues(la[i], lb[i])
			if !ok || c != 0 {
				return c, ok
			}
		}
		return 0, true
	case ka == kMap && kb == kMap:
		ma, _ := asMap(a)
		mb, _ := asMap(b)
		if len(ma) != len(mb) {
			return cmpInt(len(ma), len(mb)), true
		}
		for k, va := range ma {
			vb, ok := mb[k]
			if !ok {
				return 1, false
			}
			c, ok := compareValues(va, vb)
			if !ok || c != 0 {
				return c, ok
			}
		}
		return 0, true
	case ka == kList && kb == kMap || ka == kMap && kb == kList:
		// A list is a PHP array with keys 0, 1, …: compare as hashes.
		return compareValues(keyedMap(a), keyedMap(b))
	case ka == kList || ka == kMap:
		return 1, true // arrays are greater than scalars in PHP
	case kb == kList || kb == kMap:
		return -1, true
	}
	return 0, false
}

// strictEqual is Twig's `same as`: the same type and value.
func strictEqual(a, b any) bool {
	ka, kb := kindOf(a), kindOf(b)
	if ka != kb {
		return false
	}
	switch ka {
	case kNull:
		return true
	case kNum:
		x, _ := toNumber(a)
		y, _ := toNumber(b)
		return x.isFloat == y.isFloat && cmpNum(x, y) == 0
	case kStr:
		return toString(a) == toString(b)
	case kBool:
		return a.(bool) == b.(bool)
	}
	return looseEqual(a, b)
}

// contains is Twig's `in`: a substring of a string, or a value of a list
// or hash (compared loosely).
func contains(haystack, needle any) bool {
	if s, ok := stringOf(haystack); ok {
		// Twig: only a string or a number is looked for in a string.
		if k := kindOf(needle); k != kStr && k != kNum {
			return false
		}
		return strings.Contains(s, toString(needle))
	}
	switch haystack.(type) {
	case json.Number, int64, int, float64:
		return false
	}
	if l, ok := asList(haystack); ok {
		for _, e := range l {
			if looseEqual(e, needle) {
				return true
			}
		}
		return false
	}
	if m, ok := asMap(haystack); ok {
		for _, e := range m {
			if looseEqual(e, needle) {
				return true
			}
		}
	}
	return false
}

// runeLen counts characters.
func runeLen(s string) int { return utf8.RuneCountInString(s) }

// phpInt converts v to an integer as PHP's (int) does: floats are
// truncated, and those outside the int64 range wrap around (NaN and
// infinities are 0).
func phpInt(v any) int64 {
	n, _ := toNumber(v)
	if !n.isFloat {
		return n.i
	}
	if _, isStr := stringOf(v); isStr && !math.IsNaN(n.f) {
		// A numeric string beyond the range saturates, as PHP's
		// string-to-integer conversion does.
		if n.f >= 9.2233720368547758e18 {
			return math.MaxInt64
		}
		if n.f <= -9.2233720368547758e18 {
			return math.MinInt64
		}
	}
	return floatToInt(n.f)
}

func floatToInt(f float64) int64 {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return 0
	}
	if f >= -9.2233720368547758e18 && f < 9.2233720368547758e18 {
		return int64(f)
	}
	m := math.Mod(math.Trunc(f), 18446744073709551616.0)
	if m < 0 {
		m += 18446744073709551616.0
	}
	if m >= 9.2233720368547758e18 {
		return int64(uint64(m))
	}
	return int64(m)
}

// intKey reports whether k is a key PHP stores as an integer: a decimal
// integer without leading zeros that fits in 64 bits.
func intKey(k string) (int64, bool) {
	if k == "" || len(k) > 20 || k[0] == '+' || k == "-0" {
		return 0, false
	}
	d := k
	if d[0] == '-' {
		d = d[1:]
	}
	if d == "" || d[0] == '0' && len(d) > 1 {
		return 0, false
	}
	i, err := strconv.ParseInt(k, 10, 64)
	return i, err == nil
}

// isListKeys reports whether keys are 0, 1, 2, … in order: such a PHP
// array is a list (json_encode writes it as a JSON array).
func isListKeys(keys []string) bool {
	for i, k := range keys {
		if k != strconv.Itoa(i) {
			return false
		}
	}
	return true
}

// keyedValues returns v's keys and values in PHP's order: a list's keys
// are its indexes.
func keyedValues(v any) ([]string, []any, bool) {
	if l, ok := asList(v); ok {
		keys := make([]string, len(l))
		for i := range l {
			keys[i] = strconv.Itoa(i)
		}
		return keys, l, true
	}
	if m, ok := asMap(v); ok {
		keys := hashKeys(v, m)
		vals := make([]any, len(keys))
		for i, k := range keys {
			vals[i] = m[k]
		}
		return keys, vals, true
	}
	return nil, nil, false
}

// keyedHash builds an orderedHash from keys and values, or a list when
// the keys are 0, 1, 2, … in order.
func keyedHash(keys []string, vals []any) any {
	if isListKeys(keys) {
		return slices.Clone(vals)
	}
	h := newOrderedHash(len(keys))
	for i, k := range keys {
		h.set(k, vals[i])
	}
	return h
}

// renumbered is PHP's renumbering of integer keys (array_slice,
// array_reverse): integer keys become 0, 1, 2, …; others are kept.
func renumbered(keys []string, vals []any) any {
	out := make([]string, len(keys))
	n := 0
	for i, k := range keys {
		if _, ok := intKey(k); ok {
			out[i] = strconv.Itoa(n)
			n++
		} else {
			out[i] = k
		}
	}
	return keyedHash(out, vals)
}

// keyedMap returns v as a map: a list's keys are its indexes.
func keyedMap(v any) map[string]any {
	keys, vals, _ := keyedValues(v)
	m := make(map[string]any, len(keys))
	for i, k := range keys {
		m[k] = vals[i]
	}
	return m
}
