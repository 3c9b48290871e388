package source

import (
	"context"
	"database/sql"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldhq/herald/internal/delivery"
	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/storetest"
)

// The sink on a real store and the real engine's ingest: a batch with
// good messages, an unknown type, data that is not an object, bad JSON
// and a redelivery commits the good ones once, rejects each bad one
// with its reason, and is acknowledgeable (nil) as a whole.
func TestAcceptSplitsABatch(t *testing.T) {
	for name, open := range map[string]func(testing.TB) storetest.SourcesStore{
		"sqlite":   func(t testing.TB) storetest.SourcesStore { return storetest.OpenSQLite(t) },
		"postgres": func(t testing.TB) storetest.SourcesStore { return storetest.OpenPostgres(t) },
	} {
		t.Run(name, func(t *testing.T) {
			store := open(t)
			ctx := context.Background()
			ws, err := store.EnsureWorkspace(ctx, herald.DefaultWorkspace)
			if err != nil {
				t.Fatal(err)
			}
			svc := herald.NewService(store, nil)
			queue := store.(herald.Queue)
			engine := delivery.New(delivery.Config{}, delivery.Deps{Service: svc, Queue: queue, Metrics: delivery.NewMetrics(prometheus.NewRegistry(), queue), Log: slog.Default()})
			src, err := svc.CreateSource(ctx, ws.ID, herald.Source{Name: "s", Type: herald.SourceNATS, URL: "nats://127.0.0.1:4222",
				NATS: &herald.NATSSource{Stream: "S"}, Mapping: herald.SourceMapping{TypeFrom: "header:Event-Type"}})
			if err != nil {
				t.Fatal(err)
			}
			r := New(Config{}, Deps{Store: store, Ingester: engine, Log: slog.Default(), Registerer: prometheus.NewRegistry()})
			s := newSink(r, src)
			msg := func(id, typ, body string) herald.SourceMessage {
				return herald.SourceMessage{ID: id, Headers: map[string]string{"Event-Type": typ}, Body: []byte(body), PublishedAt: time.Now()}
			}
			batch := []herald.SourceMessage{
				msg("1", "member.verified", `{"member": {"id": "a"}}`),
				msg("2", "member.exploded", `{"member": {"id": "b"}}`),
				msg("3", "member.verified", `[1, 2]`),
				msg("4", "member.verified", `{"member": `),
				msg("5", "coupon.redeemed", `{"coupon": {"id": "c"}}`),
				msg("6", "herald.delivery.exhausted", `{}`),
			}
			if err := s.Accept(ctx, batch); err != nil {
				t.Fatalf("Accept = %v, want nil: bad messages are rejects, not failures", err)
			}
			// The same batch again (a redelivery): nothing new.
			if err := s.Accept(ctx, batch); err != nil {
				t.Fatal(err)
			}
			got, err := store.Source(ctx, ws.ID, src.ID)
			if err != nil {
				t.Fatal(err)
			}
			if got.Status.Ingested != 2 || got.Status.Rejected != 4 {
				t.Fatalf("ingested %d rejected %d, want 2 and 4", got.Status.Ingested, got.Status.Rejected)
			}
			rejects, _, err := store.ListRejects(ctx, ws.ID, src.ID, herald.RejectFilter{})
			if err != nil {
				t.Fatal(err)
			}
			reasons := map[string]string{}
			for _, rj := range rejects {
				reasons[rj.MessageID] = rj.Reason
			}
			for id, want := range map[string]string{"2": "unknown event type \"member.exploded\"", "3": "data must be a JSON object", "4": "body is not JSON", "6": "herald's own alerts"} {
				if !strings.Contains(reasons[id], want) {
					t.Errorf("reject %s: %q, want it to say %q", id, reasons[id], want)
				}
			}
			db := store.(interface{ DB() *sql.DB }).DB()
			var events, keys int
			// src.ID is a ULID: safe to put in the query as it is.
			if err := db.QueryRowContext(ctx, `SELECT COUNT(*), COUNT(DISTINCT idempotency_key) FROM events WHERE idempotency_key LIKE 'source:`+src.ID+`:%'`).Scan(&events, &keys); err != nil {
				t.Fatal(err)
			}
			if events != 2 || keys != 2 {
				t.Fatalf("%d events (%d keys) in the store, want 2", events, keys)
			}
		})
	}
}
