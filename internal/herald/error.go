package herald

import (
	"errors"
	"fmt"
	"strings"
)

// ErrorCode is a stable class of failure that callers branch on. The HTTP
// layers map each code to one status in one table; codes are never renamed.
type ErrorCode string

const (
	EInvalid      ErrorCode = "invalid"      // the input breaks a validation rule (422)
	ENotFound     ErrorCode = "not_found"    // no such object in this workspace (404)
	EConflict     ErrorCode = "conflict"     // the object's state forbids the change (409)
	EUnauthorized ErrorCode = "unauthorized" // no or bad credentials (401)
	EForbidden    ErrorCode = "forbidden"    // credentials lack the scope (403)
	ETooLarge     ErrorCode = "too_large"    // a configured size limit was exceeded (413)
	EInternal     ErrorCode = "internal"     // anything else (500); details are logged, not shown
	EBadRequest   ErrorCode = "bad_request"  // the request itself is malformed (400)
	// EUnavailable: the database cannot be reached or cannot take writes
	// (connection refused, shutting down, disk full); nothing was changed
	// and the same request may succeed later (503 with Retry-After).
	EUnavailable ErrorCode = "unavailable"
)

// UnavailableRetrySeconds is how soon a client should try again after an
// EUnavailable answer (the HTTP layers send it as Retry-After). Short,
// because an outage often ends in seconds (a restart, a failover), and a
// refused request changed nothing, so trying again is always safe.
const UnavailableRetrySeconds = 2

// FieldError names the input field at fault. Line and Column are set for
// template fields (1-based) and zero otherwise.
type FieldError struct {
	Field   string `json:"field"`
	Message string `json:"message"`
	Line    int    `json:"line,omitempty"`
	Column  int    `json:"column,omitempty"`
}

// Error is herald's application error: a code, a message safe to show to
// the caller, optional field errors, and the wrapped cause (never shown).
type Error struct {
	Code    ErrorCode
	Message string
	Fields  []FieldError
	Err     error
}

func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Message)
	for i, f := range e.Fields {
		if i == 0 {
			b.WriteString(": ")
		} else {
			b.WriteString("; ")
		}
		b.WriteString(f.Field)
		b.WriteString(" ")
		b.WriteString(f.Message)
	}
	if e.Err != nil {
		b.WriteString(": ")
		b.WriteString(e.Err.Error())
	}
	return b.String()
}

func (e *Error) Unwrap() error { return e.Err }

// Is reports whether target is the sentinel of e's code, so that
// errors.Is(err, ErrNotFound) holds for any *Error with code ENotFound,
// whatever its message.
func (e *Error) Is(target error) bool {
	s, ok := target.(sentinel)
	return ok && e.Code == ErrorCode(s)
}

// Errorf returns an *Error with the given code and a formatted message.
func Errorf(code ErrorCode, format string, args ...any) *Error {
	return &Error{Code: code, Message: fmt.Sprintf(format, args...)}
}

// ErrorCodeOf returns the code of the first *Error in err's chain, or
// EInternal for any other non-nil error.
func ErrorCodeOf(err error) ErrorCode {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return EInternal
}

// Sentinel errors that stores return; wrap them with context. They are
// constants, so no caller can change them; errors.Is matches them against
// any *Error of their code, and errors.As(err, &e *Error) finds them as a
// fresh *Error (code and message), so ErrorCodeOf and the HTTP layers
// treat them like any other *Error.
const (
	ErrNotFound = sentinel(ENotFound)
	ErrConflict = sentinel(EConflict)
)

// sentinel is an immutable error that stands for an error code.
type sentinel ErrorCode

func (s sentinel) Error() string { return strings.ReplaceAll(string(s), "_", " ") }

// As lets errors.As find a sentinel as an *Error: a copy each time, so a
// caller that changes what it got changes nobody else's error.
func (s sentinel) As(target any) bool {
	t, ok := target.(**Error)
	if ok {
		*t = &Error{Code: ErrorCode(s), Message: s.Error()}
	}
	return ok
}

// Validation collects field errors; its Err method returns nil when none.
type Validation struct {
	Fields []FieldError
}

// Add records that field is invalid.
func (v *Validation) Add(field, format string, args ...any) {
	v.Fields = append(v.Fields, FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

// AddAt records a template error at a line and column.
func (v *Validation) AddAt(field string, line, column int, msg string) {
	v.Fields = append(v.Fields, FieldError{Field: field, Message: msg, Line: line, Column: column})
}

// Err returns an EInvalid *Error listing the fields, or nil.
func (v *Validation) Err() error {
	if len(v.Fields) == 0 {
		return nil
	}
	return &Error{Code: EInvalid, Message: "validation failed", Fields: v.Fields}
}
