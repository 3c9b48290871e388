// Package sourcetest holds what the broker consumers' tests share: a
// Sink that commits to a real herald store, and helpers that find the
// shared RabbitMQ and PostgreSQL servers or start a test's own instance
// (for outages), stopped by PID.
package sourcetest

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/storetest"
)

// StoreSink is a source.Sink that commits each message as an event of
// type EventType to a real store, with the message's ID as idempotency
// key — the way the runner does, without its mapping — and counts what
// was ingested fresh and what was recognised as a duplicate.
type StoreSink struct {
	Queue       herald.Queue
	WorkspaceID string
	EventType   string // default: "member.verified"
	// Refuse, when set, is asked before each batch; a non-nil answer is
	// returned by Accept and nothing of the batch is stored.
	Refuse func(batch int, msgs []herald.SourceMessage) error
	// AfterCommit, when set, is asked after a batch was committed; a
	// non-nil answer is returned by Accept although the events are on
	// disk — a crash between herald's commit and the acknowledgement.
	AfterCommit func(batch int) error
	// Record keeps every message Accept was given (Messages returns them).
	Record bool

	mu        sync.Mutex
	batches   int
	refused   int
	fresh     map[string]int // idempotency key → times ingested fresh
	dups      int
	connected int
	lag       []int64
	changed   chan struct{}
	seen      []herald.SourceMessage
}

// Messages returns the messages Accept was given, when Record is set.
func (s *StoreSink) Messages() []herald.SourceMessage {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]herald.SourceMessage(nil), s.seen...)
}

// NewStoreSink returns a StoreSink on store, with the event type
// member.verified created in the default workspace.
func NewStoreSink(t testing.TB, store storetest.QueueStore) *StoreSink {
	t.Helper()
	ws, err := store.EnsureWorkspace(context.Background(), herald.DefaultWorkspace)
	if err != nil {
		t.Fatalf("workspace: %v", err)
	}
	et := &herald.EventType{Key: "member.verified", DisplayName: "Member verified", WorkspaceID: ws.ID,
		Sample: map[string]any{"n": 1}, CreatedAt: time.Now().UTC()}
	if err := store.CreateEventType(context.Background(), et); err != nil {
		t.Fatalf("create event type: %v", err)
	}
	return &StoreSink{Queue: store, WorkspaceID: ws.ID}
}

// Accept implements source.Sink.
func (s *StoreSink) Accept(ctx context.Context, msgs []herald.SourceMessage) error {
	s.mu.Lock()
	s.batches++
	n := s.batches
	if s.Record {
		for _, m := range msgs {
			m.Body = append([]byte(nil), m.Body...)
			s.seen = append(s.seen, m)
		}
	}
	s.mu.Unlock()
	if s.Refuse != nil {
		if err := s.Refuse(n, msgs); err != nil {
			s.mu.Lock()
			s.refused += len(msgs)
			s.mu.Unlock()
			s.signal()
			return err
		}
	}
	ws, typ := s.WorkspaceID, s.EventType
	if typ == "" {
		typ = "member.verified"
	}
	now := time.Now().UTC().Truncate(time.Microsecond)
	reqs := make([]*herald.IngestRequest, len(msgs))
	for i, m := range msgs {
		if m.ID == "" {
			return errors.New("sourcetest: a message without an id")
		}
		body := m.Body
		if len(body) == 0 || body[0] != '{' {
			body = []byte(`{}`)
		}
		reqs[i] = &herald.IngestRequest{Event: &herald.Event{ID: herald.NewID(), WorkspaceID: ws, Type: typ,
			OccurredAt: now, ReceivedAt: now, RawData: body, IdempotencyKey: m.ID}}
	}
	if err := s.Queue.Ingest(ctx, reqs); err != nil {
		return fmt.Errorf("sourcetest: ingest: %w", err)
	}
	s.mu.Lock()
	if s.fresh == nil {
		s.fresh = map[string]int{}
	}
	for _, r := range reqs {
		if r.Result.Duplicate {
			s.dups++
		} else {
			s.fresh[r.Event.IdempotencyKey]++
		}
	}
	s.mu.Unlock()
	s.signal()
	if s.AfterCommit != nil {
		return s.AfterCommit(n)
	}
	return nil
}

// Connected implements source.Sink.
func (s *StoreSink) Connected() {
	s.mu.Lock()
	s.connected++
	s.mu.Unlock()
	s.signal()
}

// Lag implements source.Sink.
func (s *StoreSink) Lag(n int64) {
	s.mu.Lock()
	s.lag = append(s.lag, n)
	s.mu.Unlock()
}

func (s *StoreSink) signal() {
	s.mu.Lock()
	ch := s.changed
	s.changed = nil
	s.mu.Unlock()
	if ch != nil {
		close(ch)
	}
}

// Stats is what a StoreSink saw.
type Stats struct {
	Batches    int
	Refused    int            // messages in refused batches
	Fresh      int            // distinct keys ingested
	Duplicates int            // messages recognised by their key
	Twice      []string       // keys ingested fresh more than once (must stay empty)
	Keys       map[string]int // idempotency key → times ingested fresh
	Connected  int
	Lag        []int64
}

// Stats returns a snapshot.
func (s *StoreSink) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := Stats{Batches: s.batches, Refused: s.refused, Fresh: len(s.fresh), Duplicates: s.dups,
		Connected: s.connected, Lag: append([]int64(nil), s.lag...), Keys: make(map[string]int, len(s.fresh))}
	for k, n := range s.fresh {
		st.Keys[k] = n
		if n > 1 {
			st.Twice = append(st.Twice, k)
		}
	}
	return st
}

// WaitFor waits until cond holds on the sink's stats or timeout passes,
// and returns the last stats and whether cond held.
func (s *StoreSink) WaitFor(timeout time.Duration, cond func(Stats) bool) (Stats, bool) {
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		if s.changed == nil {
			s.changed = make(chan struct{})
		}
		ch := s.changed
		s.mu.Unlock()
		st := s.Stats()
		if cond(st) {
			return st, true
		}
		select {
		case <-ch:
		case <-deadline:
			return s.Stats(), false
		case <-time.After(200 * time.Millisecond): // lag reports do not signal
		}
	}
}
