package herald

import (
	"errors"
	"fmt"
	"testing"
)

func TestSentinelsMatchByCode(t *testing.T) {
	for _, c := range []struct {
		name     string
		err      error
		notFound bool
		conflict bool
		code     ErrorCode
	}{
		{"the sentinel", ErrNotFound, true, false, ENotFound},
		{"the sentinel wrapped", fmt.Errorf("api key k1: %w", ErrNotFound), true, false, ENotFound},
		{"an *Error of the code", &Error{Code: ENotFound, Message: "no such webhook"}, true, false, ENotFound},
		{"an *Error of the code wrapped", fmt.Errorf("load: %w", Errorf(ENotFound, "event %s", "e1")), true, false, ENotFound},
		{"conflict sentinel", ErrConflict, false, true, EConflict},
		{"an *Error of another code", &Error{Code: EInvalid, Message: "not found"}, false, false, EInvalid},
		{"a plain error", errors.New("not found"), false, false, EInternal},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := errors.Is(c.err, ErrNotFound); got != c.notFound {
				t.Errorf("errors.Is(%v, ErrNotFound) = %v", c.err, got)
			}
			if got := errors.Is(c.err, ErrConflict); got != c.conflict {
				t.Errorf("errors.Is(%v, ErrConflict) = %v", c.err, got)
			}
			if got := ErrorCodeOf(c.err); got != c.code {
				t.Errorf("ErrorCodeOf(%v) = %q, want %q", c.err, got, c.code)
			}
		})
	}
}

// A caller that changes the *Error it found in a sentinel changes only
// its copy.
func TestSentinelsCannotBeChanged(t *testing.T) {
	var e *Error
	if !errors.As(fmt.Errorf("wrapped: %w", ErrNotFound), &e) {
		t.Fatal("errors.As finds no *Error in ErrNotFound")
	}
	if e.Code != ENotFound || e.Message != "not found" {
		t.Fatalf("found %+v", e)
	}
	e.Code, e.Message = EInternal, "changed"
	if ErrorCodeOf(ErrNotFound) != ENotFound || ErrNotFound.Error() != "not found" {
		t.Fatalf("the sentinel changed: %q %q", ErrorCodeOf(ErrNotFound), ErrNotFound.Error())
	}
	if !errors.Is(ErrNotFound, ErrNotFound) || errors.Is(ErrNotFound, ErrConflict) {
		t.Fatal("sentinels do not match themselves only")
	}
}
