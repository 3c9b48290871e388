package natssource_test

import (
	"context"
	"fmt"
	"log/slog"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldhq/herald/internal/delivery"
	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/natssource"
	"github.com/heraldhq/herald/internal/natssource/natstest"
	"github.com/heraldhq/herald/internal/source"
	"github.com/heraldhq/herald/internal/storetest"
)

// The runner with the NATS consumer on a real store and engine: a source
// created through the service connects (Reload, not the poll), ingests
// what is published with the broker's id as key, pauses, and Stop
// leaves no goroutine of the runner, the consumer or the NATS client.
func TestRunnerLifecycleWithNATS(t *testing.T) {
	url := natstest.URL(t)
	stream := natstest.Stream(t, url)
	store := storetest.OpenSQLite(t)
	ctx := context.Background()
	ws, err := store.EnsureWorkspace(ctx, herald.DefaultWorkspace)
	if err != nil {
		t.Fatal(err)
	}
	svc := herald.NewService(store, nil)
	engine := delivery.New(delivery.Config{}, delivery.Deps{Service: svc, Queue: store, Metrics: delivery.NewMetrics(prometheus.NewRegistry(), store), Log: slog.Default()})
	_, js := natstest.Conn(t, url) // before counting: the test's own clients stay
	natsBefore := countGoroutines("nats%2ego.Options.Connect")
	r := source.New(source.Config{Poll: time.Hour}, source.Deps{Store: store, Ingester: engine, Log: slog.Default(), Registerer: prometheus.NewRegistry(),
		Consumers: map[herald.SourceType]source.Consumer{herald.SourceNATS: &natssource.Consumer{}}})
	svc.SourcesChanged = r.Reload
	r.Start()
	src, err := svc.CreateSource(ctx, ws.ID, herald.Source{Name: "s", Type: herald.SourceNATS, URL: url,
		NATS: &herald.NATSSource{Stream: stream}, Mapping: herald.SourceMapping{TypeFrom: "fixed:member.verified"}})
	if err != nil {
		t.Fatal(err)
	}
	state := func() herald.SourceStatus {
		got, err := store.Source(ctx, ws.ID, src.ID)
		if err != nil {
			t.Fatal(err)
		}
		return got.Status
	}
	waitFor(t, "connected", func() bool { return state().State == herald.SourceConnected })
	for i := 0; i < 50; i++ {
		if _, err := js.Publish(ctx, stream+".x", fmt.Appendf(nil, `{"i": %d}`, i)); err != nil {
			t.Fatal(err)
		}
	}
	waitFor(t, "50 ingested", func() bool { return state().Ingested == 50 })
	events, err := store.ListEvents(ctx, ws.ID, herald.EventFilter{Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	if len(events) != 50 || !strings.HasPrefix(events[0].IdempotencyKey, "source:"+src.ID+":"+stream+":") {
		t.Fatalf("%d events, first key %q; want 50 keyed by stream and sequence", len(events), events[0].IdempotencyKey)
	}
	// Paused: once the runner reloaded (it waits for the stopped consumer
	// to return), nobody pulls, so a new message stays pending in the broker.
	reloaded := r.Loaded()
	if _, err := svc.PauseSource(ctx, ws.ID, src.ID); err != nil {
		t.Fatal(err)
	}
	select {
	case <-reloaded:
	case <-time.After(15 * time.Second):
		t.Fatal("no reload after the pause")
	}
	if _, err := js.Publish(ctx, stream+".x", []byte(`{}`)); err != nil {
		t.Fatal(err)
	}
	st, err := js.Stream(ctx, stream)
	if err != nil {
		t.Fatal(err)
	}
	cons, err := st.Consumer(ctx, herald.DefaultNATSConsumer)
	if err != nil {
		t.Fatal(err)
	}
	info, err := cons.Info(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if info.NumPending != 1 || info.NumAckPending != 0 || state().Ingested != 50 {
		t.Fatalf("while paused: pending %d, ack pending %d, ingested %d; want the message waiting in the broker", info.NumPending, info.NumAckPending, state().Ingested)
	}
	if _, err := svc.ResumeSource(ctx, ws.ID, src.ID); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the message published while paused", func() bool { return state().Ingested == 51 })

	sctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	r.Stop(sctx)
	// Nothing of the runner, the consumer or its NATS connection is left
	// (the store's committer and the test's clients are not the runner's).
	deadline := time.Now().Add(10 * time.Second)
	for countGoroutines("herald/internal/source.", "herald/internal/natssource.") > 0 || countGoroutines("nats%2ego.Options.Connect") > natsBefore {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("goroutines left after Stop:\n%s", buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// countGoroutines counts the goroutines whose stack (or creator) mentions any of subs.
func countGoroutines(subs ...string) int {
	buf := make([]byte, 1<<20)
	n := 0
	for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
		if strings.Contains(g, "TestRunnerLifecycleWithNATS") && !strings.Contains(g, "created by") {
			continue
		}
		for _, sub := range subs {
			if strings.Contains(g, sub) {
				n++
				break
			}
		}
	}
	return n
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
