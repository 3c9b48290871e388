package delivery

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/netguard"
	"github.com/heraldhq/herald/internal/payload"
	"github.com/heraldhq/herald/internal/storetest"
)

var ctx = context.Background()

// env is a running engine on a real store, in the default workspace.
type env struct {
	t      *testing.T
	store  storetest.QueueStore
	svc    *herald.Service
	engine *Engine
	clock  *FakeClock // nil when the engine runs on the real clock
	ws     string
}

type envOpts struct {
	fakeClock bool
	noAllow   bool // keep the SSRF guard closed for loopback
	cfg       Config
	store     storetest.QueueStore
	log       *slog.Logger
	transport func(*http.Transport) // adjusts the guarded transport (trusted CAs, …)
}

func setup(t *testing.T, o envOpts) *env {
	t.Helper()
	store := o.store
	if store == nil {
		store = storetest.OpenSQLite(t)
	}
	svc := herald.NewService(store, payload.Checker{})
	svc.Canceler = store
	var allow []netip.Prefix
	if !o.noAllow {
		allow = []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("::1/128")}
	}
	tr := netguard.New(allow).Transport()
	if o.transport != nil {
		o.transport(tr)
	}
	d := Deps{Service: svc, Queue: store, Transport: tr, Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
		Policy: JitteredSchedule{MinRetryAfter: time.Second, MaxRetryAfter: time.Hour}}
	if o.log != nil {
		d.Log = o.log
	}
	e := &env{t: t, store: store, svc: svc}
	if o.fakeClock {
		e.clock = NewFakeClock(time.Now().UTC().Truncate(time.Second))
		d.Clock = e.clock
		svc.Now = e.clock.Now
	}
	cfg := o.cfg
	if cfg.PollInterval == 0 {
		cfg.PollInterval = 20 * time.Millisecond
	}
	e.engine = New(cfg, d)
	e.engine.Start()
	t.Cleanup(func() {
		sctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		e.engine.Stop(sctx)
	})
	ws, err := store.EnsureWorkspace(ctx, herald.DefaultWorkspace)
	if err != nil {
		t.Fatal(err)
	}
	e.ws = ws.ID
	return e
}

// advance moves the fake clock and wakes the engine.
func (e *env) advance(d time.Duration) {
	e.clock.Advance(d)
	e.engine.Wake()
}

// webhook creates and publishes a webhook through the service.
func (e *env) webhook(spec herald.WebhookSpec) *herald.Webhook {
	e.t.Helper()
	if spec.Name == "" {
		spec.Name = "test hook"
	}
	if spec.Method == "" {
		spec.Method = "POST"
	}
	if spec.PayloadType == "" {
		spec.PayloadType = herald.PayloadJSON
	}
	if spec.Event == "" && len(spec.Events) == 0 {
		spec.Event = "member.verified"
	}
	if spec.Payload == "" && spec.Method != "GET" {
		spec.Payload = `{"member": "{{ member.id }}", "email": "{{ member.email }}"}`
	}
	w, _, err := e.svc.CreateWebhook(ctx, e.ws, spec)
	if err != nil {
		e.t.Fatal(err)
	}
	if w, err = e.svc.PublishWebhook(ctx, e.ws, w.ID); err != nil {
		e.t.Fatal(err)
	}
	return w
}

func (e *env) send(typ, data string) herald.IngestResult {
	e.t.Helper()
	res, err := e.engine.Ingest(ctx, e.ws, []herald.EventInput{{Type: typ, Data: []byte(data)}})
	if err != nil {
		e.t.Fatal(err)
	}
	return res[0]
}

// delivery waits until the webhook's delivery of the event reaches a
// status and returns it.
func (e *env) waitDelivery(hookID string, status herald.DeliveryStatus, within time.Duration) *herald.Delivery {
	e.t.Helper()
	var last []*herald.Delivery
	deadline := time.Now().Add(within)
	for time.Now().Before(deadline) {
		list, _, err := e.store.ListDeliveries(ctx, e.ws, hookID, herald.DeliveryFilter{})
		if err != nil {
			e.t.Fatal(err)
		}
		last = list
		for _, d := range list {
			if d.Status == status {
				return d
			}
		}
		time.Sleep(5 * time.Millisecond)
	}
	for _, d := range last {
		e.t.Logf("delivery %s: %s attempts=%d last=%d %s reason=%q", d.ID, d.Status, d.Attempts, d.LastStatus, d.LastError, d.StatusReason)
	}
	e.t.Fatalf("no delivery of webhook %s reached %s within %s", hookID, status, within)
	return nil
}

// receiver is an HTTP server on 127.0.0.1 that records requests.
type receiver struct {
	*httptest.Server
	mu       sync.Mutex
	requests []*recorded
	got      chan *recorded
	respond  func(n int, w http.ResponseWriter, r *http.Request) // n: 1-based request number
}

type recorded struct {
	method, path, query string
	header              http.Header
	body                []byte
	at                  time.Time
}

func newReceiver(t *testing.T, respond func(n int, w http.ResponseWriter, r *http.Request)) *receiver {
	rc := &receiver{got: make(chan *recorded, 10000), respond: respond}
	rc.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		rec := &recorded{method: r.Method, path: r.URL.Path, query: r.URL.RawQuery, header: r.Header.Clone(), body: body, at: time.Now()}
		rc.mu.Lock()
		rc.requests = append(rc.requests, rec)
		n := len(rc.requests)
		rc.mu.Unlock()
		rc.got <- rec
		if rc.respond != nil {
			rc.respond(n, w, r)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(rc.Close)
	return rc
}

// next returns the next request or fails after within.
func (rc *receiver) next(t *testing.T, within time.Duration) *recorded {
	t.Helper()
	select {
	case r := <-rc.got:
		return r
	case <-time.After(within):
		t.Fatalf("the receiver got no request within %s", within)
		return nil
	}
}

func (rc *receiver) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return len(rc.requests)
}

// logBuffer collects log lines for tests that assert them.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *logBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// count is how many lines contain s.
func (b *logBuffer) count(s string) int { return strings.Count(b.String(), s) }

func (b *logBuffer) logger() *slog.Logger { return slog.New(slog.NewTextHandler(b, nil)) }

func discardLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }
