package delivery

import (
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/storetest"
)

// counterValue reads one labelled counter of a vector.
func counterValue(t *testing.T, c *prometheus.CounterVec, label string) float64 {
	t.Helper()
	m, err := c.GetMetricWithLabelValues(label)
	if err != nil {
		t.Fatal(err)
	}
	var pb dto.Metric
	if err := m.Write(&pb); err != nil {
		t.Fatal(err)
	}
	return pb.GetCounter().GetValue()
}

// A deep queue to one healthy endpoint shared by ten webhooks: waiting
// for the endpoint's slots is not saturation, so deliveries are not
// handed back and postponed over and over (each a write on SQLite's one
// writer). Deferrals must stay a small fraction of the deliveries, and
// the deliveries that wait for a slot hold no goroutine each.
func TestDeepQueueToOneHealthyEndpoint(t *testing.T) {
	store := storetest.OpenSQLite(t)
	rc := newReceiver(t, nil)
	e := setup(t, envOpts{store: store, cfg: Config{MaxInFlight: 512, Endpoint: EndpointLimits{Concurrency: 16}}})
	e.engine.Stop(ctx) // fill the queue first, then deliver
	const hooks, events = 10, 300
	var ids []string
	for i := 0; i < hooks; i++ {
		ids = append(ids, e.webhook(herald.WebhookSpec{EndpointURL: rc.URL + "/hook/" + string(rune('a'+i))}).ID)
	}
	batch := make([]herald.EventInput, events)
	for i := range batch {
		batch[i] = herald.EventInput{Type: "member.verified", Data: []byte(memberData)}
	}
	if _, err := e.engine.Ingest(ctx, e.ws, batch); err != nil {
		t.Fatal(err)
	}
	svc := e.svc
	m := NewMetrics(prometheus.NewRegistry(), store)
	const claimBatch = 64
	eng := New(Config{MaxInFlight: 2048, ClaimBatch: claimBatch, PollInterval: 20 * time.Millisecond, Endpoint: EndpointLimits{Concurrency: 16}},
		Deps{Service: svc, Queue: store, Transport: e.engine.client.Transport, Metrics: m, Log: discardLog()})
	eng.Start()
	defer eng.Stop(ctx)
	deadline := time.Now().Add(60 * time.Second)
	peak := 0
	for {
		peak = max(peak, workerGoroutines())
		done := 0
		for _, id := range ids {
			done += countStatus(t, e, id, herald.DeliverySucceeded)
		}
		if done == hooks*events {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d delivered in 60 s", done, hooks*events)
		}
		time.Sleep(50 * time.Millisecond)
	}
	deferred := counterValue(t, m.Deliveries, "deferred")
	t.Logf("%d deliveries, %v deferred, %d worker goroutines at most while delivering", hooks*events, deferred, peak)
	if deferred > 0.25*hooks*events {
		t.Fatalf("%v deferrals for %d deliveries to one healthy endpoint", deferred, hooks*events)
	}
	// Up to 2048 deliveries in hand, 16 in flight: a worker per waiting
	// delivery would be ~2000. Allowed: the attempts in flight, a claim's
	// worth of idle workers, and twice that for the workers busy
	// parking a job while the machine is busy (3 busy loops on 2 cores:
	// 44-82, once 153, in 30 runs). Counting every goroutine instead
	// mixed in the HTTP connections' own, which churn.
	if limit := 16 + 3*claimBatch + 32; peak > limit {
		t.Fatalf("%d worker goroutines while delivering: more than %d, waiting deliveries hold goroutines", peak, limit)
	}
}

// workerGoroutines counts the goroutines running an engine's worker.
func workerGoroutines() int {
	return len(goroutinesIn("internal/delivery.(*Engine).worker("))
}
