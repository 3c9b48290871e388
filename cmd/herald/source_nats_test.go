package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldhq/herald/internal/natssource/natstest"
	"github.com/heraldhq/herald/internal/secrets"
	"github.com/heraldhq/herald/internal/storetest"
)

// natsHerald is a herald child with an API key, a webhook to a ledger
// for member.verified, and a NATS source on stream.
type natsHerald struct {
	db, key string
	env     []string
	flags   []string
	child   *child
	ledger  *ledger
	source  string // id
}

func startNATSHerald(t *testing.T, db string, env []string, natsURL, stream string, flags ...string) *natsHerald {
	t.Helper()
	vars := map[string]string{"HERALD_DB": db}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	key, stderr, err := runHerald(t, envFunc(vars), "apikey", "create", "--name", "nats")
	if err != nil {
		t.Fatalf("apikey: %v %s", err, stderr)
	}
	h := &natsHerald{db: db, key: strings.TrimSpace(key), env: env, flags: append([]string{"--db", db, "--source-poll", "500ms"}, flags...)}
	h.ledger = newLedger(t, 0)
	h.child = startChild(t, env, h.flags...)
	setupHook(t, h.child.url, h.key, h.ledger.URL)
	code, src := call(t, "POST", h.child.url+"/api/v1/sources", h.key, map[string]any{"name": "orders", "type": "nats", "url": natsURL,
		"nats":    map[string]any{"stream": stream, "consumer": "herald", "subjects": []string{stream + ".>"}},
		"mapping": map[string]any{"type_from": "header:Event-Type", "data_from": "body", "id_from": "message_id"}})
	if code != 201 {
		t.Fatalf("create source: %d %v", code, src)
	}
	h.source = src["id"].(string)
	return h
}

func (h *natsHerald) status(t *testing.T) map[string]any {
	t.Helper()
	code, src := call(t, "GET", h.child.url+"/api/v1/sources/"+h.source, h.key, nil)
	if code != 200 {
		t.Fatalf("get source: %d %v", code, src)
	}
	return src
}

// publish sends events n in [from, to) to stream with the member.verified
// type header and Nats-Msg-Id m-<n>, each acknowledged by JetStream.
func publish(t *testing.T, js jetstream.JetStream, stream string, from, to int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	futures := make([]jetstream.PubAckFuture, 0, 512)
	flush := func() {
		for _, f := range futures {
			select {
			case <-f.Ok():
			case err := <-f.Err():
				t.Fatalf("publish: %v", err)
			case <-ctx.Done():
				t.Fatal("publish: no ack in time")
			}
		}
		futures = futures[:0]
	}
	for n := from; n < to; n++ {
		m := nats.NewMsg(stream + ".member")
		m.Header.Set("Event-Type", "member.verified")
		m.Header.Set(jetstream.MsgIDHeader, fmt.Sprintf("m-%d", n))
		m.Data = fmt.Appendf(nil, `{"n": %d}`, n)
		f, err := js.PublishMsgAsync(m)
		if err != nil {
			t.Fatalf("publish %d: %v", n, err)
		}
		futures = append(futures, f)
		if len(futures) == cap(futures) {
			flush()
		}
	}
	flush()
}

func numbers(from, to int) []int {
	out := make([]int, 0, to-from)
	for n := from; n < to; n++ {
		out = append(out, n)
	}
	return out
}

// sourceEvents counts the events a source ingested, and the distinct
// idempotency keys among them, reading herald's database directly.
func sourceEvents(t *testing.T, db, sourceID string) (events, keys int) {
	t.Helper()
	driver, dsn := "sqlite", "file:"+db+"?mode=ro&_pragma=busy_timeout(5000)"
	if strings.HasPrefix(db, "postgres") {
		driver, dsn = "pgx", db
	}
	conn, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	q := `SELECT COUNT(*), COUNT(DISTINCT idempotency_key) FROM events WHERE idempotency_key LIKE 'source:` + sourceID + `:%'`
	if err := conn.QueryRow(q).Scan(&events, &keys); err != nil {
		t.Fatal(err)
	}
	return events, keys
}

func waitUntil(t *testing.T, within time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(within)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", within, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func natsPostgres(t *testing.T) (string, []string) {
	url := storetest.PostgresURL(t)
	keyFile := filepath.Join(t.TempDir(), "herald.key")
	if _, _, err := secrets.LoadOrCreateKeyFile(keyFile); err != nil {
		t.Fatal(err)
	}
	return url, []string{"HERALD_SECRET_KEY_FILE=" + keyFile}
}

// 10,000 messages published to JetStream become 10,000 events, each
// delivered to the receiver once; the source's page counts them.
func TestNATSSourceDeliversEveryMessage(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIP: end-to-end NATS test (-short)")
	}
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			natsURL := natstest.URL(t)
			db, env := filepath.Join(t.TempDir(), "herald.db"), []string(nil)
			if dialect == "postgres" {
				db, env = natsPostgres(t)
			}
			stream := natstest.Stream(t, natsURL)
			h := startNATSHerald(t, db, env, natsURL, stream)
			_, js := natstest.Conn(t, natsURL)
			const n = 10000
			publish(t, js, stream, 0, n)
			waitAllDelivered(t, h.ledger, numbers(0, n), 2*time.Minute)
			if d := h.ledger.duplicates(); d != 0 {
				t.Fatalf("%d duplicate receipts without any failure", d)
			}
			waitUntil(t, 10*time.Second, "the source's counts", func() bool {
				s := h.status(t)
				return s["ingested"] == float64(n) && s["state"] == "connected" && s["last_message_at"] != nil && s["rejected"] == 0.0
			})
			if events, keys := sourceEvents(t, db, h.source); events != n || keys != n {
				t.Fatalf("store holds %d events (%d keys) from the source, want %d", events, keys, n)
			}
			code, metrics := getText(t, h.child.url+"/metrics")
			want := fmt.Sprintf(`herald_source_messages_total{outcome="ingested",source="%s"} %d`, h.source, n)
			if code != 200 || !strings.Contains(metrics, want) || !strings.Contains(metrics, `herald_source_state{source="`+h.source+`",state="connected"} 1`) {
				t.Fatalf("/metrics lacks %q or the connected state:\n%s", want, grepLines(metrics, "herald_source"))
			}
		})
	}
}

// A herald killed with SIGKILL in the middle of a stream and started
// again: every message is delivered at least once and ingested exactly
// once (one event per message id in the store).
func TestNATSSourceSurvivesSIGKILL(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIP: crash test (-short)")
	}
	for _, dialect := range []string{"sqlite", "postgres"} {
		t.Run(dialect, func(t *testing.T) {
			natsURL := natstest.URL(t)
			db, env := filepath.Join(t.TempDir(), "herald.db"), []string(nil)
			if dialect == "postgres" {
				db, env = natsPostgres(t)
			}
			stream := natstest.Stream(t, natsURL)
			// The consumer is created here with a short AckWait, so what the
			// killed process held unacknowledged comes back in seconds;
			// herald binds to it.
			_, js := natstest.Conn(t, natsURL)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			st, err := js.Stream(ctx, stream)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := st.CreateConsumer(ctx, jetstream.ConsumerConfig{Durable: "herald", AckPolicy: jetstream.AckExplicitPolicy,
				AckWait: 2 * time.Second, MaxDeliver: -1, FilterSubject: stream + ".>"}); err != nil {
				t.Fatal(err)
			}
			// A short lease, as in the crash test: the deliveries the killed
			// process had claimed are taken over in seconds, not minutes.
			h := startNATSHerald(t, db, env, natsURL, stream, "--attempt-timeout", "1s", "--lease", "3s")
			const n = 20000
			done := make(chan struct{})
			go func() { defer close(done); publish(t, js, stream, 0, n) }()
			waitUntil(t, time.Minute, "some messages ingested", func() bool {
				h.ledger.mu.Lock()
				defer h.ledger.mu.Unlock()
				return h.ledger.total >= 2000
			})
			h.child.kill(t)
			h.ledger.mu.Lock()
			before := h.ledger.total
			h.ledger.mu.Unlock()
			t.Logf("killed herald with SIGKILL after %d receipts", before)
			<-done
			h.child = startChild(t, env, h.flags...)
			waitAllDelivered(t, h.ledger, numbers(0, n), 2*time.Minute)
			if before >= n {
				t.Fatalf("everything was delivered before the kill (%d); the test exercised nothing", before)
			}
			waitUntil(t, 20*time.Second, "the store to settle", func() bool { e, _ := sourceEvents(t, db, h.source); return e >= n })
			events, keys := sourceEvents(t, db, h.source)
			if events != n || keys != n {
				t.Fatalf("store holds %d events with %d distinct keys from %d messages; want each ingested exactly once", events, keys, n)
			}
			t.Logf("after restart: lost 0 of %d messages, %d events in the store (one per message), %d duplicate receipts", n, events, h.ledger.duplicates())
		})
	}
}

// The test's own NATS server is killed in the middle of a stream and
// started again on the same port and store: herald shows the error,
// reconnects with backoff and delivers every message JetStream accepted.
func TestNATSSourceRecoversFromBrokerRestart(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIP: broker restart test (-short)")
	}
	srv := natstest.StartServer(t)
	stream := natstest.Stream(t, srv.URL)
	h := startNATSHerald(t, filepath.Join(t.TempDir(), "herald.db"), nil, srv.URL, stream)
	nc, js := natstest.Conn(t, srv.URL)
	publish(t, js, stream, 0, 3000)
	waitUntil(t, time.Minute, "some deliveries", func() bool { h.ledger.mu.Lock(); defer h.ledger.mu.Unlock(); return h.ledger.total > 0 })
	srv.Stop()
	waitUntil(t, 30*time.Second, "the source to show the outage", func() bool { return h.status(t)["state"] == "error" })
	if e, _ := h.status(t)["last_error"].(string); e == "" {
		t.Fatal("state error without last_error")
	}
	srv.Restart()
	waitUntil(t, 30*time.Second, "the publisher to reconnect", func() bool { return nc.IsConnected() })
	publish(t, js, stream, 3000, 6000)
	waitAllDelivered(t, h.ledger, numbers(0, 6000), 2*time.Minute)
	waitUntil(t, 30*time.Second, "the source to be connected again", func() bool { return h.status(t)["state"] == "connected" })
	if !strings.Contains(h.child.stderr.String(), "source: error") || !strings.Contains(h.child.stderr.String(), "source: connected") {
		t.Fatalf("the state changes were not logged:\n%s", grepLines(h.child.stderr.String(), "source"))
	}
	if n := strings.Count(h.child.stderr.String(), "source: error"); n > 3 {
		t.Fatalf("the outage was logged %d times; want once per state change:\n%s", n, grepLines(h.child.stderr.String(), "source"))
	}
}

// Poison messages (not JSON, unknown type, no type header) are rejected
// with their reason and shown by the API; the good messages around them,
// in the same batches, are delivered.
func TestNATSSourceRejectsPoisonMessages(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIP: end-to-end NATS test (-short)")
	}
	natsURL := natstest.URL(t)
	stream := natstest.Stream(t, natsURL)
	h := startNATSHerald(t, filepath.Join(t.TempDir(), "herald.db"), nil, natsURL, stream)
	_, js := natstest.Conn(t, natsURL)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	send := func(typ, id string, body string) {
		m := nats.NewMsg(stream + ".member")
		if typ != "" {
			m.Header.Set("Event-Type", typ)
		}
		m.Header.Set(jetstream.MsgIDHeader, id)
		m.Data = []byte(body)
		if _, err := js.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); publish(t, js, stream, 0, 100) }()
	wg.Wait()
	send("member.verified", "bad-json", `{"n": 1,`)
	send("member.exploded", "unknown-type", `{"n": 2}`)
	send("", "no-type", `{"n": 3}`)
	send("member.verified", "not-object", `[1, 2]`)
	publish(t, js, stream, 100, 200)
	waitAllDelivered(t, h.ledger, numbers(0, 200), time.Minute)
	waitUntil(t, 10*time.Second, "4 rejects counted", func() bool { return h.status(t)["rejected"] == 4.0 })
	code, list := call(t, "GET", h.child.url+"/api/v1/sources/"+h.source+"/rejected", h.key, nil)
	if code != 200 {
		t.Fatalf("rejected: %d %v", code, list)
	}
	reasons := map[string]string{}
	for _, item := range list["data"].([]any) {
		m := item.(map[string]any)
		reasons[m["message_id"].(string)] = m["reason"].(string) + " | raw " + m["raw"].(string)
	}
	for id, want := range map[string]string{"bad-json": "not JSON", "unknown-type": "member.exploded", "no-type": "Event-Type header", "not-object": "data"} {
		if !strings.Contains(reasons[id], want) {
			t.Errorf("reject %s: %q, want it to mention %q", id, reasons[id], want)
		}
	}
	if !strings.Contains(reasons["bad-json"], `{"n": 1,`) {
		t.Errorf("the raw content is not kept: %q", reasons["bad-json"])
	}
	if s := h.status(t); s["ingested"] != 200.0 {
		t.Fatalf("ingested = %v, want 200", s["ingested"])
	}
}

func getText(t *testing.T, url string) (int, string) {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

// Two herald processes on one PostgreSQL share a source as competing
// consumers of one durable consumer: each message ingested once, both
// take part. Pausing in one process stops both; resuming starts both.
func TestNATSSourceSharedByTwoProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIP: multi-process test (-short)")
	}
	natsURL := natstest.URL(t)
	db, env := natsPostgres(t)
	stream := natstest.Stream(t, natsURL)
	h := startNATSHerald(t, db, env, natsURL, stream)
	other := startChild(t, env, h.flags...)
	_, js := natstest.Conn(t, natsURL)
	// Both processes connected before the stream fills, so both compete.
	waitUntil(t, 30*time.Second, "both processes connected", func() bool {
		for _, u := range []string{h.child.url, other.url} {
			if _, m := getText(t, u+"/metrics"); !strings.Contains(m, `herald_source_state{source="`+h.source+`",state="connected"} 1`) {
				return false
			}
		}
		return true
	})
	const n = 10000
	publish(t, js, stream, 0, n)
	waitAllDelivered(t, h.ledger, numbers(0, n), 2*time.Minute)
	waitUntil(t, 20*time.Second, "the store to settle", func() bool { e, _ := sourceEvents(t, db, h.source); return e >= n })
	if events, keys := sourceEvents(t, db, h.source); events != n || keys != n {
		t.Fatalf("store holds %d events (%d keys) from %d messages; want one each", events, keys, n)
	}
	shares := map[string]int{}
	for name, u := range map[string]string{"first": h.child.url, "second": other.url} {
		_, m := getText(t, u+"/metrics")
		var got int
		for _, l := range strings.Split(m, "\n") {
			if strings.HasPrefix(l, `herald_source_messages_total{outcome="ingested",source="`+h.source+`"} `) {
				fmt.Sscan(strings.Fields(l)[1], &got)
			}
		}
		shares[name] = got
	}
	if shares["first"] == 0 || shares["second"] == 0 || shares["first"]+shares["second"] != n {
		t.Fatalf("ingested per process = %v; want both to take part and %d in all", shares, n)
	}
	t.Logf("two processes shared %d messages: %v", n, shares)

	if code, _ := call(t, "POST", h.child.url+"/api/v1/sources/"+h.source+"/pause", h.key, nil); code != 200 {
		t.Fatalf("pause: %d", code)
	}
	waitUntil(t, 10*time.Second, "both processes paused", func() bool {
		for _, u := range []string{h.child.url, other.url} {
			if _, m := getText(t, u+"/metrics"); !strings.Contains(m, `herald_source_state{source="`+h.source+`",state="paused"} 1`) {
				return false
			}
		}
		return true
	})
	publish(t, js, stream, n, n+100)
	time.Sleep(1500 * time.Millisecond) // three polls: a paused source must take nothing meanwhile
	if s := h.status(t); s["ingested"] != float64(n) || s["state"] != "paused" {
		t.Fatalf("while paused: ingested %v state %v; want %d and paused", s["ingested"], s["state"], n)
	}
	if code, _ := call(t, "POST", other.url+"/api/v1/sources/"+h.source+"/resume", h.key, nil); code != 200 {
		t.Fatalf("resume: %d", code)
	}
	waitAllDelivered(t, h.ledger, numbers(0, n+100), time.Minute)
}
