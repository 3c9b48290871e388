package sqlstore

import (
	"bytes"
	"errors"
	"log/slog"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/herald"
)

// One line when an outage starts, one when it ends — however many errors
// in between — and only a commit begun during the outage ends it.
func TestAvailabilityLogsEachChangeOnce(t *testing.T) {
	var buf bytes.Buffer
	s := New(nil, nil, Dialect{}, nil, WithLogger(slog.New(slog.NewTextHandler(&buf, nil))))
	a := &s.avail
	count := func(msg string) int { return strings.Count(buf.String(), `msg="`+msg) }
	unavailable := &herald.Error{Code: herald.EUnavailable, Message: "the database is unavailable", Err: errors.New("connection refused")}

	before := a.during() // a transaction that began while all was well
	if before != 0 || !s.Available() {
		t.Fatalf("fresh store: outage %d, available %v", before, s.Available())
	}
	for i := 0; i < 100; i++ {
		if err := s.noteErr(unavailable); err != unavailable {
			t.Fatalf("noteErr changed the error: %v", err)
		}
	}
	s.noteErr(errors.New("some other failure"))
	s.noteErr(herald.ErrNotFound)
	first := a.during()
	if count("database unavailable") != 1 || s.Available() || first == 0 {
		t.Fatalf("after 100 errors (outage %d):\n%s", first, &buf)
	}
	a.up(before) // began before the outage: does not end it
	if count("database available again") != 0 || s.Available() {
		t.Fatalf("a commit begun before the outage ended it:\n%s", &buf)
	}
	a.up(first)
	a.up(first)
	if count("database available again") != 1 || !s.Available() || !strings.Contains(buf.String(), "errors=100") {
		t.Fatalf("after the first commit:\n%s", &buf)
	}
	s.noteErr(unavailable) // a second outage
	second := a.during()
	a.up(first) // a straggler from the first outage
	if count("database unavailable") != 2 || s.Available() || second == first {
		t.Fatalf("second outage:\n%s", &buf)
	}
	a.up(second)
	if count("database available again") != 2 || !s.Available() {
		t.Fatalf("end of the second outage:\n%s", &buf)
	}
}
