package storetest

import (
	"bytes"
	"database/sql"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/herald"
)

// SourcesStore is a store that also keeps event sources.
type SourcesStore interface {
	herald.Store
	herald.SourceStore
}

// RunSources runs the conformance suite of herald.SourceStore against
// stores made by open; each subtest gets a fresh, empty store.
func RunSources(t *testing.T, open func(t testing.TB) SourcesStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s SourcesStore)
	}{
		{"Sources", testSources},
		{"SourceURLSealed", testSourceURLSealed},
		{"SourceStatus", testSourceStatus},
		{"SourceRejects", testSourceRejects},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

const sourcePassword = "s3cret-nats-password-4711"

func newSource(ws, name string) *herald.Source {
	return &herald.Source{ID: herald.NewID(), WorkspaceID: ws, Name: name, Type: herald.SourceNATS,
		URL:       "nats://herald:" + sourcePassword + "@127.0.0.1:4222",
		NATS:      &herald.NATSSource{Stream: "ORDERS", Consumer: "herald", Subjects: []string{"orders.>", "members.*"}},
		Mapping:   herald.SourceMapping{TypeFrom: "header:Event-Type", DataFrom: "body", IDFrom: "message_id"},
		CreatedAt: now(), UpdatedAt: now()}
}

func testSources(t *testing.T, s SourcesStore) {
	ws := workspace(t, s, "default")
	other := workspace(t, s, "other")
	a := newSource(ws, "orders")
	if err := s.CreateSource(ctx, a); err != nil {
		t.Fatal(err)
	}
	got, err := s.Source(ctx, ws, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.URL != a.URL || got.NATS == nil || got.NATS.Stream != "ORDERS" || strings.Join(got.NATS.Subjects, ",") != "orders.>,members.*" ||
		got.Mapping != a.Mapping || got.Paused || !got.CreatedAt.Equal(a.CreatedAt) || got.AMQP != nil || got.Outbox != nil {
		t.Fatalf("read back %+v (nats %+v), want %+v", got, got.NATS, a)
	}
	if got.Status.State != herald.SourceConnecting || got.Status.Ingested != 0 || got.Status.Lag != -1 || !got.Status.LastMessageAt.IsZero() {
		t.Fatalf("fresh status = %+v", got.Status)
	}
	// A second source of the same name in the workspace is a conflict; in another workspace it is not.
	wantCode(t, s.CreateSource(ctx, newSource(ws, "orders")), herald.EConflict)
	if err := s.CreateSource(ctx, newSource(other, "orders")); err != nil {
		t.Fatal(err)
	}
	_, err = s.Source(ctx, other, a.ID)
	wantCode(t, err, herald.ENotFound)

	b := &herald.Source{ID: herald.NewID(), WorkspaceID: ws, Name: "crm", Type: herald.SourceAMQP, URL: "amqp://guest:guest@127.0.0.1:5672/",
		AMQP: &herald.AMQPSource{Queue: "events", Declare: true, Prefetch: 64}, Paused: true,
		Mapping: herald.SourceMapping{TypeFrom: "field:type", DataFrom: "field:data", IDFrom: "field:id"}, CreatedAt: now(), UpdatedAt: now()}
	c := &herald.Source{ID: herald.NewID(), WorkspaceID: ws, Name: "outbox", Type: herald.SourceOutbox, URL: "postgres://app@db/app",
		Outbox: &herald.OutboxSource{Table: "herald_outbox"}, Mapping: herald.SourceMapping{TypeFrom: "fixed:member.verified", DataFrom: "body", IDFrom: "message_id"},
		CreatedAt: now(), UpdatedAt: now()}
	for _, src := range []*herald.Source{b, c} {
		if err := s.CreateSource(ctx, src); err != nil {
			t.Fatal(err)
		}
	}
	list, next, err := s.ListSources(ctx, ws, herald.SourceFilter{Limit: 2})
	if err != nil || len(list) != 2 || list[0].ID != c.ID || list[1].ID != b.ID || next == "" {
		t.Fatalf("first page = %v, %q, %v", ids(list), next, err)
	}
	list, next, err = s.ListSources(ctx, ws, herald.SourceFilter{Limit: 2, Cursor: next})
	if err != nil || len(list) != 1 || list[0].ID != a.ID || next != "" {
		t.Fatalf("second page = %v, %q, %v", ids(list), next, err)
	}
	list, _, err = s.ListSources(ctx, ws, herald.SourceFilter{Type: herald.SourceAMQP})
	if err != nil || len(list) != 1 || list[0].AMQP == nil || *list[0].AMQP != *b.AMQP || !list[0].Paused {
		t.Fatalf("amqp filter = %v, %v", list, err)
	}
	all, err := s.AllSources(ctx)
	if err != nil || len(all) != 4 {
		t.Fatalf("AllSources = %d sources, %v; want 4 across both workspaces", len(all), err)
	}

	a.Name, a.URL, a.Paused = "orders-eu", "nats://127.0.0.1:4223", true
	a.NATS.Subjects = nil
	a.UpdatedAt = now().Add(time.Second)
	if err := s.UpdateSource(ctx, a); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Source(ctx, ws, a.ID)
	if got.Name != "orders-eu" || got.URL != a.URL || !got.Paused || len(got.NATS.Subjects) != 0 || !got.UpdatedAt.Equal(a.UpdatedAt) {
		t.Fatalf("after update %+v", got)
	}
	a.Name = "crm"
	wantCode(t, s.UpdateSource(ctx, a), herald.EConflict)
	missing := newSource(ws, "missing")
	wantCode(t, s.UpdateSource(ctx, missing), herald.ENotFound)
	wantCode(t, s.DeleteSource(ctx, other, a.ID), herald.ENotFound)
	if err := s.DeleteSource(ctx, ws, a.ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.Source(ctx, ws, a.ID)
	wantCode(t, err, herald.ENotFound)
}

func ids(list []*herald.Source) []string {
	var out []string
	for _, s := range list {
		out = append(out, s.Name)
	}
	return out
}

// testSourceURLSealed reads the raw row: the URL (with its password) is
// never stored in clear.
func testSourceURLSealed(t *testing.T, s SourcesStore) {
	raw, ok := s.(interface{ DB() *sql.DB })
	if !ok {
		t.Skip("SKIP: store does not expose its database")
	}
	ws := workspace(t, s, "default")
	if err := s.CreateSource(ctx, newSource(ws, "orders")); err != nil {
		t.Fatal(err)
	}
	var url []byte
	var config string
	if err := raw.DB().QueryRowContext(ctx, `SELECT url, config FROM sources`).Scan(&url, &config); err != nil {
		t.Fatal(err)
	}
	if len(url) == 0 || bytes.Contains(url, []byte(sourcePassword)) || bytes.Contains(url, []byte("127.0.0.1")) || strings.Contains(config, sourcePassword) {
		t.Fatalf("stored url %q / config %q holds the URL in clear", url, config)
	}
}

func testSourceStatus(t *testing.T, s SourcesStore) {
	ws := workspace(t, s, "default")
	src := newSource(ws, "orders")
	if err := s.CreateSource(ctx, src); err != nil {
		t.Fatal(err)
	}
	at := now()
	if err := s.SetSourceState(ctx, src.ID, herald.SourceError, "dial tcp 127.0.0.1:4222: connection refused", at); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		if err := s.RecordSourceProgress(ctx, src.ID, herald.SourceProgress{Ingested: 10, LastMessageAt: at.Add(time.Duration(i) * time.Second), Lag: int64(100 - i)}); err != nil {
			t.Fatal(err)
		}
	}
	// An older message time and an unknown lag leave both as they are.
	if err := s.RecordSourceProgress(ctx, src.ID, herald.SourceProgress{Ingested: 1, LastMessageAt: at, Lag: -1}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Source(ctx, ws, src.ID)
	if err != nil {
		t.Fatal(err)
	}
	st := got.Status
	if st.State != herald.SourceError || !strings.Contains(st.LastError, "refused") || !st.StateAt.Equal(at) || st.Ingested != 31 ||
		!st.LastMessageAt.Equal(at.Add(2*time.Second)) || st.Lag != 98 {
		t.Fatalf("status = %+v", st)
	}
	// A configuration write leaves the status alone.
	got.Name = "renamed"
	if err := s.UpdateSource(ctx, got); err != nil {
		t.Fatal(err)
	}
	again, _ := s.Source(ctx, ws, src.ID)
	if again.Status != st {
		t.Fatalf("status after a config update = %+v, want %+v", again.Status, st)
	}
	wantCode(t, s.SetSourceState(ctx, herald.NewID(), herald.SourceConnected, "", at), herald.ENotFound)
}

func testSourceRejects(t *testing.T, s SourcesStore) {
	ws := workspace(t, s, "default")
	other := workspace(t, s, "other")
	src := newSource(ws, "orders")
	if err := s.CreateSource(ctx, src); err != nil {
		t.Fatal(err)
	}
	big := bytes.Repeat([]byte("x"), herald.MaxRejectRaw*2)
	first := []*herald.SourceReject{
		{MessageID: "ORDERS:1", Subject: "orders.created", Reason: "body is not JSON", Raw: []byte("not json \x00\xff"), RawSize: 11, At: now()},
		{MessageID: "ORDERS:2", Reason: "unknown event type", Raw: big, RawSize: len(big), At: now()},
	}
	n, err := s.RecordRejects(ctx, src.ID, first)
	if err != nil || n != 2 {
		t.Fatalf("RecordRejects = %d, %v", n, err)
	}
	// A redelivered reject is not stored or counted again.
	n, err = s.RecordRejects(ctx, src.ID, []*herald.SourceReject{{MessageID: "ORDERS:2", Reason: "again", Raw: []byte("{}"), At: now()}})
	if err != nil || n != 0 {
		t.Fatalf("RecordRejects of a known message = %d, %v; want 0", n, err)
	}
	list, _, err := s.ListRejects(ctx, ws, src.ID, herald.RejectFilter{})
	if err != nil || len(list) != 2 {
		t.Fatalf("ListRejects = %d, %v", len(list), err)
	}
	if list[0].MessageID != "ORDERS:2" || len(list[0].Raw) != herald.MaxRejectRaw || list[0].RawSize != len(big) || list[0].Reason != "unknown event type" {
		t.Fatalf("newest reject = %+v (raw %d bytes)", list[0], len(list[0].Raw))
	}
	if !bytes.Equal(list[1].Raw, first[0].Raw) || list[1].Subject != "orders.created" {
		t.Fatalf("oldest reject raw = %q subject %q", list[1].Raw, list[1].Subject)
	}
	if got, _ := s.Source(ctx, ws, src.ID); got.Status.Rejected != 2 || got.Status.LastMessageAt.IsZero() {
		t.Fatalf("status after rejects = %+v", got.Status)
	}
	list, _, err = s.ListRejects(ctx, other, src.ID, herald.RejectFilter{})
	if err != nil || len(list) != 0 {
		t.Fatalf("another workspace sees %d rejects, %v", len(list), err)
	}
	// The list is bounded: the oldest go beyond MaxRejectsPerSource.
	var many []*herald.SourceReject
	for i := 0; i < herald.MaxRejectsPerSource+5; i++ {
		many = append(many, &herald.SourceReject{MessageID: fmt.Sprintf("m%d", i), Reason: "bad", Raw: []byte("x"), RawSize: 1, At: now()})
	}
	if n, err := s.RecordRejects(ctx, src.ID, many); err != nil || n != len(many) {
		t.Fatalf("RecordRejects(many) = %d, %v", n, err)
	}
	total, cursor := 0, ""
	for page := 0; page < 20; page++ {
		l, next, err := s.ListRejects(ctx, ws, src.ID, herald.RejectFilter{Cursor: cursor, Limit: herald.MaxPageSize})
		if err != nil {
			t.Fatal(err)
		}
		total += len(l)
		if next == "" {
			break
		}
		cursor = next
	}
	if total != herald.MaxRejectsPerSource {
		t.Fatalf("source keeps %d rejects, want %d", total, herald.MaxRejectsPerSource)
	}
	// Deleting the source deletes its rejects.
	if err := s.DeleteSource(ctx, ws, src.ID); err != nil {
		t.Fatal(err)
	}
	if raw, ok := s.(interface{ DB() *sql.DB }); ok {
		var left int
		raw.DB().QueryRowContext(ctx, `SELECT COUNT(*) FROM source_rejects`).Scan(&left)
		if left != 0 {
			t.Fatalf("%d rejects left after the source was deleted", left)
		}
	}
}
