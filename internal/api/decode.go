package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/heraldhq/herald/internal/herald"
)

// decode reads r's JSON body into v strictly: a JSON content type (when
// one is given; curl's default form type is tolerated, since `curl -d`
// sends it with a JSON body), at most the configured size, no unknown
// fields, one value.
// Every failure is a *herald.Error naming the field or position at fault.
func (s *Server) decode(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" {
		mt, _, err := mime.ParseMediaType(ct)
		if err != nil || (mt != "application/json" && !strings.HasSuffix(mt, "+json") && mt != "application/x-www-form-urlencoded") {
			return &herald.Error{Code: herald.EBadRequest, Message: fmt.Sprintf("Content-Type must be application/json, not %q", ct)}
		}
	}
	body, err := io.ReadAll(http.MaxBytesReader(nil, r.Body, s.cfg.MaxBodyBytes))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &herald.Error{Code: herald.ETooLarge, Message: fmt.Sprintf("request body exceeds %d bytes", s.cfg.MaxBodyBytes)}
		}
		return &herald.Error{Code: herald.EBadRequest, Message: "cannot read request body", Err: err}
	}
	return decodeJSON(body, v)
}

// decodeJSON is decode without the HTTP parts; the fuzz target calls it.
func decodeJSON(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return &herald.Error{Code: herald.EBadRequest, Message: "request body is empty; send a JSON object",
			Fields: []herald.FieldError{{Field: "body", Message: "is empty"}}}
	}
	if !utf8.Valid(body) {
		// encoding/json would replace the bytes with U+FFFD and carry on,
		// storing text the client never sent: refuse, naming the field.
		if err := invalidUTF8(body); err != nil {
			return err
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	dec.UseNumber()
	err := dec.Decode(v)
	if err == nil {
		if _, err := dec.Token(); err != io.EOF {
			return &herald.Error{Code: herald.EBadRequest, Message: "request body holds more than one JSON value",
				Fields: []herald.FieldError{{Field: "body", Message: "has data after the JSON object"}}}
		}
		return nil
	}
	var syntax *json.SyntaxError
	var typ *json.UnmarshalTypeError
	switch {
	case errors.As(err, &syntax):
		line, col := position(body, syntax.Offset)
		return &herald.Error{Code: herald.EBadRequest, Message: "request body is not valid JSON",
			Fields: []herald.FieldError{{Field: "body", Message: syntax.Error(), Line: line, Column: col}}}
	case errors.Is(err, io.ErrUnexpectedEOF):
		return &herald.Error{Code: herald.EBadRequest, Message: "request body is not valid JSON",
			Fields: []herald.FieldError{{Field: "body", Message: "ends in the middle of a JSON value"}}}
	case errors.As(err, &typ):
		field := typ.Field
		if field == "" {
			field = "body"
		}
		return &herald.Error{Code: herald.EInvalid, Message: "validation failed",
			Fields: []herald.FieldError{{Field: field, Message: fmt.Sprintf("must be %s, not %s", jsonKind(typ.Type.Kind().String()), typ.Value)}}}
	case strings.HasPrefix(err.Error(), "json: unknown field "):
		name := strings.Trim(strings.TrimPrefix(err.Error(), "json: unknown field "), `"`)
		var doc any
		if json.Unmarshal(body, &doc) == nil {
			if path := unknownField(reflect.TypeOf(v), doc, ""); path != "" {
				name = path
			}
		}
		return &herald.Error{Code: herald.EInvalid, Message: "validation failed",
			Fields: []herald.FieldError{{Field: name, Message: "is not a known field"}}}
	}
	return &herald.Error{Code: herald.EBadRequest, Message: "request body cannot be decoded",
		Fields: []herald.FieldError{{Field: "body", Message: err.Error()}}}
}

// unknownField returns the dotted path of the first key in doc that type t
// does not have, so the error names "header.secret", not just "secret".
func unknownField(t reflect.Type, doc any, prefix string) string {
	for t != nil && (t.Kind() == reflect.Pointer || t.Kind() == reflect.Slice || t.Kind() == reflect.Array) {
		if t.Kind() != reflect.Pointer {
			if list, ok := doc.([]any); ok {
				for i, item := range list {
					if p := unknownField(t.Elem(), item, prefix+"["+strconv.Itoa(i)+"]"); p != "" {
						return p
					}
				}
			}
			return ""
		}
		t = t.Elem()
	}
	obj, ok := doc.(map[string]any)
	if t == nil || t.Kind() != reflect.Struct || !ok {
		return ""
	}
	fields := jsonFields(t)
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		path := k
		if prefix != "" {
			path = prefix + "." + k
		}
		ft, known := fields[strings.ToLower(k)]
		if !known {
			return path
		}
		if p := unknownField(ft, obj[k], path); p != "" {
			return p
		}
	}
	return ""
}

// jsonFields maps lower-cased JSON names to field types, with the fields
// of embedded structs promoted (outer names win, as in encoding/json).
func jsonFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	var embedded []reflect.Type
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, _, _ := strings.Cut(tag, ",")
		if f.Anonymous && name == "" {
			et := f.Type
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				embedded = append(embedded, et)
				continue
			}
		}
		if !f.IsExported() {
			continue
		}
		if name == "" {
			name = f.Name
		}
		out[strings.ToLower(name)] = f.Type
	}
	for _, et := range embedded {
		for k, v := range jsonFields(et) {
			if _, ok := out[k]; !ok {
				out[k] = v
			}
		}
	}
	return out
}

func jsonKind(goKind string) string {
	switch goKind {
	case "string":
		return "a string"
	case "bool":
		return "true or false"
	case "slice", "array":
		return "an array"
	case "struct", "map", "ptr":
		return "an object"
	case "int", "int64", "int32", "float64", "uint", "uint64":
		return "a number"
	}
	return "another type"
}

// position turns a byte offset into a 1-based line and column.
func position(body []byte, offset int64) (line, col int) {
	if offset > int64(len(body)) {
		offset = int64(len(body))
	}
	line, col = 1, 1
	for _, c := range body[:offset] {
		if c == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}

// invalidUTF8 returns an EInvalid error naming the JSON path of the first
// byte of body that is not UTF-8 ("data.member.name", "events[3].type"),
// or nil when the JSON breaks before it (the syntax error is reported
// instead, by the decoder).
func invalidUTF8(body []byte) error {
	off := 0
	for off < len(body) {
		r, size := utf8.DecodeRune(body[off:])
		if r == utf8.RuneError && size == 1 {
			break
		}
		off += size
	}
	field, key, ok := jsonPathAt(body, int64(off))
	if !ok {
		return nil
	}
	line, col := position(body, int64(off))
	what := "is not valid UTF-8"
	if key {
		what = "has a key that is not valid UTF-8"
	}
	return &herald.Error{Code: herald.EInvalid, Message: "validation failed", Fields: []herald.FieldError{{Field: field,
		Message: fmt.Sprintf("%s (byte 0x%02x at line %d, column %d); send text as UTF-8", what, body[off], line, col)}}}
}

// jsonPathAt walks body's tokens to the one that holds byte offset off and
// returns its path, and whether it is an object key; ok is false when the
// JSON is malformed before off.
func jsonPathAt(body []byte, off int64) (path string, key, ok bool) {
	type frame struct {
		obj     bool
		key     string
		idx     int
		wantKey bool
	}
	var stack []frame
	pathOf := func() string {
		var b strings.Builder
		for _, f := range stack {
			switch {
			case !f.obj:
				b.WriteString("[" + strconv.Itoa(f.idx) + "]")
			case f.wantKey: // the object itself, between its members
			default:
				if b.Len() > 0 {
					b.WriteByte('.')
				}
				b.WriteString(f.key)
			}
		}
		if b.Len() == 0 {
			return "body"
		}
		return b.String()
	}
	valueDone := func() {
		if len(stack) == 0 {
			return
		}
		if top := &stack[len(stack)-1]; top.obj {
			top.wantKey = true
		} else {
			top.idx++
		}
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	for {
		tok, err := dec.Token()
		if err != nil {
			return "", false, false
		}
		end := dec.InputOffset()
		if n := len(stack); n > 0 && stack[n-1].obj && stack[n-1].wantKey {
			if k, isKey := tok.(string); isKey {
				if off < end {
					return pathOf(), true, true
				}
				stack[n-1].key, stack[n-1].wantKey = k, false
				continue
			}
		}
		if off < end {
			return pathOf(), false, true
		}
		switch tok {
		case json.Delim('{'), json.Delim('['):
			stack = append(stack, frame{obj: tok == json.Delim('{'), wantKey: true})
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
			valueDone()
		default:
			valueDone()
		}
	}
}
