package client

import (
	"encoding/json"
	"fmt"
	"mime"
	"net/http"
	"strings"
	"time"
	"unicode/utf8"
)

// Error is an error answer of the API: its RFC 9457 problem details, or,
// for an answer that is not problem+json (a proxy's error page, say), the
// status with the start of the body as Detail.
//
// Use errors.As to inspect it:
//
//	var herr *client.Error
//	if errors.As(err, &herr) && herr.Status == http.StatusUnprocessableEntity {
//		for _, f := range herr.Errors { … }
//	}
type Error struct {
	// Status is the HTTP status code.
	Status int `json:"status"`
	// Type identifies the kind of problem, e.g. "urn:herald:problem:invalid".
	Type string `json:"type"`
	// Title is a short summary of the kind of problem.
	Title string `json:"title"`
	// Detail explains this occurrence.
	Detail string `json:"detail,omitempty"`
	// Errors name the input fields at fault, for validation problems.
	Errors []FieldError `json:"errors,omitempty"`
	// RetryAfter is the wait the server asked for with Retry-After;
	// zero when it sent none.
	RetryAfter time.Duration `json:"-"`

	hasRetryAfter bool
}

// FieldError is one input field at fault. Line and Column (1-based) are
// set for templates and JSON syntax errors, zero otherwise.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
}

func (f FieldError) String() string {
	s := f.Field + " " + f.Message
	if f.Field == "" {
		s = f.Message
	}
	if f.Line > 0 {
		s += fmt.Sprintf(" (line %d, column %d)", f.Line, f.Column)
	}
	return s
}

// Error reads, for example:
//
//	herald: 422 Validation failed: validation failed: type unknown event type "x"; data must be a JSON object
func (e *Error) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "herald: %d", e.Status)
	if e.Title != "" {
		b.WriteString(" " + e.Title)
	}
	if e.Detail != "" {
		b.WriteString(": " + e.Detail)
	}
	for i, f := range e.Errors {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(f.String())
	}
	return b.String()
}

// temporary reports whether the same request may succeed later: too many
// requests or a server-side failure (except "not implemented", which
// will not change).
func (e *Error) temporary() bool {
	return e.Status == http.StatusTooManyRequests ||
		(e.Status >= 500 && e.Status != http.StatusNotImplemented && e.Status != http.StatusHTTPVersionNotSupported)
}

// errorFrom builds the *Error of a non-2xx answer from its body.
func errorFrom(res *http.Response, body []byte) *Error {
	e := &Error{}
	mt, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type"))
	if mt == "application/problem+json" || mt == "application/json" {
		if json.Unmarshal(body, e) != nil {
			*e = Error{}
		}
	}
	e.Status = res.StatusCode // the HTTP status wins over the document's
	if e.Title == "" {
		e.Title = http.StatusText(res.StatusCode)
	}
	if e.Detail == "" && e.Type == "" {
		e.Detail = snippet(body)
	}
	e.RetryAfter, e.hasRetryAfter = retryAfter(res.Header.Get("Retry-After"), time.Now())
	return e
}

// snippet is the start of a body as one line of text, for error messages.
func snippet(body []byte) string {
	const limit = 200
	s := strings.Join(strings.Fields(string(body)), " ")
	if len(s) > limit {
		cut := limit
		for cut > 0 && !utf8.RuneStart(s[cut]) {
			cut--
		}
		s = s[:cut] + "…"
	}
	return s
}

// retryAfter parses a Retry-After header: seconds or an HTTP date. ok is
// false when the header is absent or malformed.
func retryAfter(v string, now time.Time) (d time.Duration, ok bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	secs := 0
	digits := true
	for _, c := range v {
		if c < '0' || c > '9' {
			digits = false
			break
		}
		if secs < 1<<20 {
			secs = secs*10 + int(c-'0')
		}
	}
	if digits {
		return time.Duration(secs) * time.Second, true
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0), true
	}
	return 0, false
}
