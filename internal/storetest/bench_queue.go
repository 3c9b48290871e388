package storetest

import (
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/herald"
)

// BenchQueue measures what the queue costs per delivery, alone: no HTTP,
// no engine, the store's own writes as the engine makes them in `herald
// bench` (a webhook that logs only errors, so a success writes no attempt
// row). Each benchmark reports the process's CPU time (user+system, as
// `herald bench` counts herald's) per delivery, so on a machine shared
// with other work the figure still means something. They are the floor
// the end-to-end CPU targets stand on (docs/PERFORMANCE.md, "What bounds
// the CPU per delivery").
//
//   - IngestOne: one event per commit, durable — what each event pays
//     at a steady low rate, where no other ingest shares its commit; flat
//     out, and paced at 1,000 and 200 events/s (run it with -benchtime 2000x).
//   - Cycle/events=N: the life of N deliveries: one ingest of N events
//     that leases their deliveries (as the engine's ingest does), then one
//     outcome transaction recording them all delivered.
func BenchQueue(b *testing.B, open func(t testing.TB) QueueStore) {
	for _, rate := range []int{0, 1000, 200} {
		name := "IngestOne"
		if rate > 0 {
			name += "/steady-" + strconv.Itoa(rate) + "-per-s"
		}
		b.Run(name, func(b *testing.B) {
			s := open(b)
			ws := benchWebhook(b, s)
			tmpl := newEvent(ws, "member.verified", "", now())
			b.ReportAllocs()
			cpu := StartCPU(b)
			ingest := func() {
				if err := s.Ingest(ctx, []*herald.IngestRequest{{Event: benchEvent(tmpl, now()), ClaimLease: time.Minute}}); err != nil {
					b.Fatal(err)
				}
			}
			if rate > 0 {
				Paced(b.N, rate, ingest)
			} else {
				for range b.N {
					ingest()
				}
			}
			cpu.Report(b, b.N, "delivery")
		})
	}
	for _, n := range []int{1, 100} {
		b.Run("Cycle/events="+strconv.Itoa(n), func(b *testing.B) {
			s := open(b)
			ws := benchWebhook(b, s)
			tmpl := newEvent(ws, "member.verified", "", now())
			b.ReportAllocs()
			reqs := make([]*herald.IngestRequest, n)
			recs := make([]*herald.OutcomeRecord, 0, n)
			cpu := StartCPU(b)
			for b.Loop() {
				at := now()
				for i := range reqs {
					reqs[i] = &herald.IngestRequest{Event: benchEvent(tmpl, at), ClaimLease: time.Minute}
				}
				if err := s.Ingest(ctx, reqs); err != nil {
					b.Fatal(err)
				}
				recs = recs[:0]
				for _, r := range reqs {
					for _, c := range r.Claims {
						recs = append(recs, &herald.OutcomeRecord{DeliveryID: c.ID, WebhookID: c.WebhookID, Token: c.Token,
							Status: herald.DeliverySucceeded, Counted: true, LastStatus: 200, At: at})
					}
				}
				if len(recs) != n {
					b.Fatalf("%d deliveries leased by the ingest of %d events, want %d", len(recs), n, n)
				}
				if err := s.RecordOutcomes(ctx, recs); err != nil {
					b.Fatal(err)
				}
			}
			cpu.Report(b, b.N*n, "delivery")
		})
	}
}

// benchWebhook makes a workspace with one published webhook for
// member.verified that logs only errors, as `herald bench` does.
func benchWebhook(b *testing.B, s QueueStore) string {
	b.Helper()
	w, err := s.EnsureWorkspace(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	h := newWebhook(w.ID, "bench", "member.verified")
	h.LogOnlyErrors = true
	if err := s.CreateWebhook(ctx, h); err != nil {
		b.Fatal(err)
	}
	if _, err := s.SetWebhookStatus(ctx, w.ID, h.ID, herald.Published, ""); err != nil {
		b.Fatal(err)
	}
	return w.ID
}

// benchEvent is a new event like tmpl, received at at: its data is
// shared, not encoded again, so the benchmark counts the store's work and
// not the making of its input.
func benchEvent(tmpl *herald.Event, at time.Time) *herald.Event {
	ev := *tmpl
	ev.ID, ev.OccurredAt, ev.ReceivedAt = herald.NewID(), at, at
	return &ev
}

// CPUMeter reads the process's CPU time (user+system) at the start of a
// benchmark's loop.
type CPUMeter struct{ start time.Duration }

// StartCPU starts a CPUMeter.
func StartCPU(b *testing.B) CPUMeter { return CPUMeter{start: processCPU(b)} }

// Report adds the metric cpu-µs/<per>: the process's CPU time since
// StartCPU divided by n.
func (m CPUMeter) Report(b *testing.B, n int, per string) {
	if n > 0 {
		b.ReportMetric(float64((processCPU(b)-m.start).Nanoseconds())/1e3/float64(n), "cpu-µs/"+per)
	}
}

// processCPU is this process's user+system time so far.
func processCPU(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatalf("getrusage: %v", err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// Paced calls f n times, call i at start + i/rate (as `herald bench
// --rate` sends), one at a time.
func Paced(n, rate int, f func()) {
	start := time.Now()
	for i := range n {
		if d := time.Until(start.Add(time.Duration(i) * time.Second / time.Duration(rate))); d > 0 {
			time.Sleep(d)
		}
		f()
	}
}
