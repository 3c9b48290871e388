package delivery

import (
	"fmt"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"

	"github.com/heraldhq/herald/internal/herald"
)

// A condition decides per event; the engine counts matched and filtered
// events per webhook from what was committed, duplicates excluded.
func TestConditionCountsMatchedAndFiltered(t *testing.T) {
	e := setup(t, envOpts{})
	rc := newReceiver(t, nil)
	w := e.webhook(herald.WebhookSpec{Events: []string{"member.*"}, EndpointURL: rc.URL, Condition: `member.tier == "gold"`})
	plain := e.webhook(herald.WebhookSpec{Events: []string{"member.verified"}, EndpointURL: rc.URL + "/plain"})
	for i, tier := range []string{"gold", "silver", "gold", "bronze", "gold"} {
		res := e.send("member.verified", fmt.Sprintf(`{"member": {"id": "m%d", "email": "a@example.com", "tier": %q}}`, i, tier))
		want := 1
		if tier == "gold" {
			want = 2
		}
		if res.Deliveries != want {
			t.Errorf("event %d (%s): %d deliveries, want %d", i, tier, res.Deliveries, want)
		}
	}
	// A repeat of an idempotency key counts nothing.
	for range 2 {
		if _, err := e.engine.Ingest(ctx, e.ws, []herald.EventInput{{Type: "member.updated", IdempotencyKey: "k1", Data: []byte(`{"member": {"tier": "gold"}}`)}}); err != nil {
			t.Fatal(err)
		}
	}
	matched := counterOf(t, e.engine.metrics.ConditionEvents.WithLabelValues(w.ID, "matched"))
	filtered := counterOf(t, e.engine.metrics.ConditionEvents.WithLabelValues(w.ID, "filtered"))
	if matched != 4 || filtered != 2 {
		t.Errorf("matched %v filtered %v, want 4 and 2", matched, filtered)
	}
	if n := counterOf(t, e.engine.metrics.ConditionEvents.WithLabelValues(plain.ID, "matched")); n != 0 {
		t.Errorf("a webhook without a condition is counted: %v", n)
	}
	deadline := time.Now().Add(10 * time.Second)
	for rc.count() < 4+5 && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if rc.count() != 9 {
		t.Errorf("receiver got %d requests, want 9 (4 gold to the conditioned webhook, 5 to the plain one)", rc.count())
	}
}

func counterOf(t *testing.T, c interface{ Write(*dto.Metric) error }) float64 {
	t.Helper()
	var m dto.Metric
	if err := c.Write(&m); err != nil {
		t.Fatal(err)
	}
	return m.GetCounter().GetValue()
}
