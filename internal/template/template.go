package template

import (
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode/utf8"
)

// Format says how interpolated values are escaped and what well-formed means.
type Format string

// The payload formats. URL and Header are used for the endpoint URL and for
// custom header values, which are templates too.
const (
	JSON   Format = "JSON"
	XML    Format = "XML"
	PLAIN  Format = "PLAIN"
	FORM   Format = "FORM"
	URL    Format = "URL"    // endpoint URL: each value path- or query-escaped for where it stands
	Header Format = "HEADER" // header value: CR/LF/NUL in the output refused at render time
)

// Default limits, used where an Options field is zero.
const (
	DefaultMaxSourceBytes = 64 << 10
	DefaultMaxOutputBytes = 1 << 20
	DefaultMaxSteps       = 1_000_000
)

// Options configure Compile. The zero value means PLAIN, UTC and the
// default limits.
type Options struct {
	Format         Format         // "" means PLAIN; matched case-insensitively
	Location       *time.Location // for date-only values and date()'s default time zone; nil = UTC
	MaxSourceBytes int            // 0 = 64 KiB
	MaxOutputBytes int            // 0 = 1 MiB
	MaxSteps       int            // 0 = 1e6: bounds loop iterations and evaluation work per render
}

// Diagnostic is one problem or warning at a position in the template.
// Line and Column are 1-based; columns count characters (runes), not bytes.
type Diagnostic struct {
	Line, Column int
	Message      string
}

func (d Diagnostic) String() string {
	return fmt.Sprintf("line %d, column %d: %s", d.Line, d.Column, d.Message)
}

// Error is returned by Compile and Check, and by Render when the output is
// malformed for its format or a limit is hit. It lists one or more
// diagnostics, each with a position in the template source.
type Error struct {
	Diagnostics []Diagnostic
}

func (e *Error) Error() string {
	if len(e.Diagnostics) == 0 {
		return "template error"
	}
	parts := make([]string, len(e.Diagnostics))
	for i, d := range e.Diagnostics {
		parts[i] = d.String()
	}
	return strings.Join(parts, "; ")
}

// PathRef is one variable path the template reads, such as
// "member.param.first_name" or "transaction.items[].sku", and where.
type PathRef struct {
	Path         string
	Line, Column int
}

// Template is a compiled template. It is immutable and safe for concurrent
// use by many goroutines.
type Template struct {
	src      string
	format   Format
	loc      *time.Location
	maxOut   int
	maxSteps int
	root     []node
	nslots   int
	paths    []PathRef
	varPaths []varPath
	lines    []int  // byte offsets where each line starts
	ascii    []bool // whether each line is ASCII, so columns are byte counts
	sizeHint int
	// slotNames maps the names that set, for, with, macros and arrows
	// bind to their local slots.
	slotNames map[string]int
	macros    []*macroDef
}

// Compile parses src once. The result can be rendered any number of times.
// A template that does not parse, or whose expressions stand where the
// format cannot escape them (such as inside an XML tag name), is refused
// with an *Error listing each problem with its line and column.
func Compile(src string, opts Options) (*Template, error) {
	format, ok := normalizeFormat(opts.Format)
	t := &Template{src: src, format: format, loc: opts.Location, maxOut: opts.MaxOutputBytes, maxSteps: opts.MaxSteps}
	t.lines, t.ascii = lineStarts(src)
	if !ok {
		return nil, t.errorAt(0, fmt.Sprintf("unknown format %q (want JSON, XML, PLAIN, FORM, URL or HEADER)", string(opts.Format)))
	}
	if t.loc == nil {
		t.loc = time.UTC
	}
	if t.maxOut <= 0 {
		t.maxOut = DefaultMaxOutputBytes
	}
	if t.maxSteps <= 0 {
		t.maxSteps = DefaultMaxSteps
	}
	maxSrc := opts.MaxSourceBytes
	if maxSrc <= 0 {
		maxSrc = DefaultMaxSourceBytes
	}
	if len(src) > maxSrc {
		return nil, t.errorAt(0, fmt.Sprintf("template is %d bytes, more than the limit of %d bytes", len(src), maxSrc))
	}
	if !utf8.ValidString(src) {
		off := 0
		for off < len(src) {
			r, n := utf8.DecodeRuneInString(src[off:])
			if r == utf8.RuneError && n <= 1 {
				break
			}
			off += n
		}
		return nil, t.errorAt(off, "template is not valid UTF-8")
	}
	if err := t.parse(); err != nil {
		return nil, err
	}
	return t, nil
}

func normalizeFormat(f Format) (Format, bool) {
	switch Format(strings.ToUpper(strings.TrimSpace(string(f)))) {
	case "", PLAIN:
		return PLAIN, true
	case JSON:
		return JSON, true
	case XML:
		return XML, true
	case FORM:
		return FORM, true
	case URL:
		return URL, true
	case Header:
		return Header, true
	}
	return "", false
}

// Format reports the format the template was compiled for.
func (t *Template) Format() Format { return t.format }

// Source returns the template text.
func (t *Template) Source() string { return t.src }

// Paths returns every variable path the template reads, in source order.
// Names bound by set or for are resolved: `item.sku` inside
// `for item in transaction.items` is "transaction.items[].sku", and
// `x` after `set x = member.param` is "member.param". Locals that are not
// plain paths, and loop.*, are left out.
func (t *Template) Paths() []PathRef {
	out := make([]PathRef, len(t.paths))
	copy(out, t.paths)
	return out
}

// Render renders the template with vars: `event` ({id, type, created_at})
// plus the event's data keys. Values are what encoding/json produces with
// Decoder.UseNumber (float64, int and int64 are accepted too). The output is
// checked to be well-formed for the format; if it is not, or a limit is hit,
// the error is an *Error pointing at the template position responsible.
func (t *Template) Render(vars map[string]any) ([]byte, error) {
	return t.AppendRender(make([]byte, 0, t.sizeHint), vars)
}

// lineStarts returns the byte offset of the start of every line, and
// whether each line is pure ASCII.
func lineStarts(src string) ([]int, []bool) {
	starts := []int{0}
	ascii := []bool{true}
	for i := 0; i < len(src); i++ {
		switch c := src[i]; {
		case c == '\n':
			starts = append(starts, i+1)
			ascii = append(ascii, true)
		case c >= utf8.RuneSelf:
			ascii[len(ascii)-1] = false
		}
	}
	return starts, ascii
}

// position converts a byte offset in the source to a 1-based line and
// rune column.
func (t *Template) position(off int) (line, col int) {
	if off < 0 {
		off = 0
	}
	if off > len(t.src) {
		off = len(t.src)
	}
	i := sort.Search(len(t.lines), func(i int) bool { return t.lines[i] > off }) - 1
	if i < 0 {
		i = 0
	}
	if t.ascii[i] {
		return i + 1, off - t.lines[i] + 1
	}
	return i + 1, utf8.RuneCountInString(t.src[t.lines[i]:off]) + 1
}

func (t *Template) diag(off int, msg string) Diagnostic {
	line, col := t.position(off)
	return Diagnostic{Line: line, Column: col, Message: msg}
}

func (t *Template) errorAt(off int, msg string) *Error {
	return &Error{Diagnostics: []Diagnostic{t.diag(off, msg)}}
}
