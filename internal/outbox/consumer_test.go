package outbox

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/sourcetest"
	"github.com/heraldhq/herald/internal/storetest"
)

// platform is the platform's database: a fresh schema on the test
// server (dropped when the test ends) holding an outbox table made from
// Schema's DDL.
type platform struct {
	t     *testing.T
	url   string
	table string
	conn  *pgx.Conn
}

func newPlatform(t *testing.T, url string, trigger bool) *platform {
	t.Helper()
	p := &platform{t: t, url: url, table: "events_outbox"}
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatalf("connect: %v", err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	p.conn = conn
	ddl, err := Schema(p.table)
	if err != nil {
		t.Fatal(err)
	}
	if !trigger {
		ddl, _, _ = strings.Cut(ddl, "-- Optional:")
	}
	if _, err := conn.Exec(context.Background(), ddl); err != nil {
		t.Fatalf("the DDL of Schema fails: %v\n%s", err, ddl)
	}
	return p
}

// insert adds rows {"n": from…} in one transaction, as a platform does.
func (p *platform) insert(from, n int) {
	p.t.Helper()
	p.reconnect()
	ctx := context.Background()
	batch := &pgx.Batch{}
	for i := from; i < from+n; i++ {
		batch.Queue(`INSERT INTO `+p.table+` (event_type, payload) VALUES ('member.verified', $1)`, fmt.Sprintf(`{"n": %d}`, i))
	}
	tx, err := p.conn.Begin(ctx)
	if err != nil {
		p.t.Fatal(err)
	}
	if err := tx.SendBatch(ctx, batch).Close(); err != nil {
		p.t.Fatalf("insert: %v", err)
	}
	if err := tx.Commit(ctx); err != nil {
		p.t.Fatal(err)
	}
}

func (p *platform) reconnect() {
	if !p.conn.IsClosed() && p.conn.Ping(context.Background()) == nil {
		return
	}
	conn, err := pgx.Connect(context.Background(), p.url)
	if err != nil {
		p.t.Fatalf("reconnect: %v", err)
	}
	p.conn = conn
	p.t.Cleanup(func() { conn.Close(context.Background()) })
}

// rows counts the rows left in the table.
func (p *platform) rows() int {
	p.t.Helper()
	p.reconnect()
	var n int
	if err := p.conn.QueryRow(context.Background(), `SELECT count(*) FROM `+p.table).Scan(&n); err != nil {
		p.t.Fatal(err)
	}
	return n
}

func (p *platform) source() *herald.Source {
	return &herald.Source{ID: "src-test", Name: "test", Type: herald.SourceOutbox, URL: p.url, Outbox: &herald.OutboxSource{Table: p.table}}
}

type running struct {
	cancel context.CancelFunc
	done   chan error
}

func start(c *Consumer, src *herald.Source, sink *sourcetest.StoreSink) *running {
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan error, 1)}
	go func() { r.done <- c.Run(ctx, src, sink) }()
	return r
}

func (r *running) stop(t *testing.T) error {
	t.Helper()
	r.cancel()
	select {
	case err := <-r.done:
		return err
	case <-time.After(15 * time.Second):
		t.Fatal("Run did not return within 15 s of its context ending")
		return nil
	}
}

func newSink(t *testing.T) *sourcetest.StoreSink {
	return sourcetest.NewStoreSink(t, storetest.OpenSQLite(t))
}

func TestTenThousandRowsAreIngestedOnceAndDeleted(t *testing.T) {
	p := newPlatform(t, storetest.PostgresURL(t), true)
	const n = 10000
	p.insert(0, n)
	sink := newSink(t)
	r := start(&Consumer{}, p.source(), sink)
	st, ok := sink.WaitFor(2*time.Minute, func(s sourcetest.Stats) bool { return s.Fresh >= n })
	if err := r.stop(t); err != nil {
		t.Fatalf("Run returned %v after its context ended; want nil", err)
	}
	if !ok || st.Fresh != n || len(st.Twice) > 0 {
		t.Fatalf("ingested %d distinct rows (%d twice); want %d", st.Fresh, len(st.Twice), n)
	}
	if got := p.rows(); got != 0 {
		t.Fatalf("%d rows left in the outbox; want 0 (each deleted once committed)", got)
	}
	if _, ok := st.Keys[MessageID(p.table, 1)]; !ok {
		t.Errorf("no event with the idempotency key %q", MessageID(p.table, 1))
	}
}

// TestNotificationWakesTheConsumer: with the trigger and a poll of an
// hour, a row inserted after the consumer went idle arrives — only the
// notification can have woken it.
func TestNotificationWakesTheConsumer(t *testing.T) {
	p := newPlatform(t, storetest.PostgresURL(t), true)
	sink := newSink(t)
	sink.Record = true
	r := start(&Consumer{Poll: time.Hour}, p.source(), sink)
	defer r.stop(t)
	if _, ok := sink.WaitFor(15*time.Second, func(s sourcetest.Stats) bool { return s.Connected == 1 }); !ok {
		t.Fatal("not connected")
	}
	time.Sleep(100 * time.Millisecond) // let it reach its wait (the test passes either way if it is early)
	if _, err := p.conn.Exec(context.Background(), `INSERT INTO `+p.table+` (event_type, payload, headers)
		VALUES ('member.verified', '{"member": {"id": "m-1"}}', '{"tenant": "acme", "attempt": 2}')`); err != nil {
		t.Fatal(err)
	}
	if _, ok := sink.WaitFor(20*time.Second, func(s sourcetest.Stats) bool { return s.Fresh == 1 }); !ok {
		t.Fatal("the notification did not wake the consumer")
	}
	m := sink.Messages()[0]
	want := map[string]string{"event_type": "member.verified", "tenant": "acme", "attempt": "2"}
	for k, v := range want {
		if m.Headers[k] != v {
			t.Errorf("header %q = %q; want %q", k, m.Headers[k], v)
		}
	}
	if m.Subject != "member.verified" || string(m.Body) != `{"member": {"id": "m-1"}}` || m.PublishedAt.IsZero() || !strings.HasPrefix(m.ID, p.table+":") {
		t.Errorf("message = %+v", m)
	}
}

// TestPollFindsRowsWithoutTheTrigger: no trigger, no notification: the
// poll finds the row.
func TestPollFindsRowsWithoutTheTrigger(t *testing.T) {
	p := newPlatform(t, storetest.PostgresURL(t), false)
	sink := newSink(t)
	r := start(&Consumer{Poll: 20 * time.Millisecond}, p.source(), sink)
	defer r.stop(t)
	if _, ok := sink.WaitFor(15*time.Second, func(s sourcetest.Stats) bool { return s.Connected == 1 }); !ok {
		t.Fatal("not connected")
	}
	p.insert(0, 3)
	if _, ok := sink.WaitFor(20*time.Second, func(s sourcetest.Stats) bool { return s.Fresh == 3 }); !ok {
		t.Fatalf("the poll did not find the rows: %+v", sink.Stats())
	}
}

func TestRefusedBatchLeavesTheRows(t *testing.T) {
	p := newPlatform(t, storetest.PostgresURL(t), true)
	p.insert(0, 50)
	sink := newSink(t)
	sink.Refuse = func(int, []herald.SourceMessage) error { return errors.New("database unavailable") }
	r := start(&Consumer{RetryWait: 10 * time.Millisecond}, p.source(), sink)
	if _, ok := sink.WaitFor(30*time.Second, func(s sourcetest.Stats) bool { return s.Refused >= 150 }); !ok {
		t.Fatalf("the refused rows were not offered again: %+v", sink.Stats())
	}
	if err := r.stop(t); err != nil {
		t.Fatal(err)
	}
	if st := sink.Stats(); st.Fresh != 0 {
		t.Fatalf("%d ingested although every batch was refused", st.Fresh)
	}
	if got := p.rows(); got != 50 {
		t.Fatalf("%d rows left after every batch was refused; want all 50", got)
	}
	sink.Refuse = nil
	r = start(&Consumer{}, p.source(), sink)
	st, ok := sink.WaitFor(30*time.Second, func(s sourcetest.Stats) bool { return s.Fresh >= 50 })
	r.stop(t)
	if !ok || st.Fresh != 50 || len(st.Twice) > 0 || p.rows() != 0 {
		t.Fatalf("after the refusals: %d distinct ingested, %d twice, %d rows left; want 50, 0, 0", st.Fresh, len(st.Twice), p.rows())
	}
}

// TestCrashBetweenCommitsIsIngestedOnce: herald commits, then the outbox
// transaction does not (Accept fails after the commit): the rows come
// again and are recognised by their idempotency key.
func TestCrashBetweenCommitsIsIngestedOnce(t *testing.T) {
	p := newPlatform(t, storetest.PostgresURL(t), true)
	p.insert(0, 1000)
	sink := newSink(t)
	sink.AfterCommit = func(batch int) error {
		if batch <= 3 {
			return errors.New("crash after herald's commit")
		}
		return nil
	}
	r := start(&Consumer{Batch: 100, RetryWait: 10 * time.Millisecond}, p.source(), sink)
	st, ok := sink.WaitFor(30*time.Second, func(s sourcetest.Stats) bool { return s.Fresh >= 1000 && s.Duplicates >= 100 })
	r.stop(t)
	if !ok || st.Fresh != 1000 || len(st.Twice) > 0 || st.Duplicates < 100 {
		t.Fatalf("%d distinct ingested (%d twice), %d duplicates recognised; want 1000, 0, ≥ 100", st.Fresh, len(st.Twice), st.Duplicates)
	}
	if got := p.rows(); got != 0 {
		t.Fatalf("%d rows left; want 0", got)
	}
}

// TestCompetingConsumers: two herald processes read one table; every row
// is ingested once (SKIP LOCKED hands each row to one of them).
func TestCompetingConsumers(t *testing.T) {
	p := newPlatform(t, storetest.PostgresURL(t), true)
	const n = 5000
	p.insert(0, n)
	var calls [2]int
	var mu sync.Mutex
	a, b := sourcetest.NewStoreSink(t, storetest.OpenSQLite(t)), sourcetest.NewStoreSink(t, storetest.OpenSQLite(t))
	count := func(i int) func(int, []herald.SourceMessage) error {
		return func(int, []herald.SourceMessage) error { mu.Lock(); calls[i]++; mu.Unlock(); return nil }
	}
	a.Refuse, b.Refuse = count(0), count(1)
	ra := start(&Consumer{Batch: 50}, p.source(), a)
	rb := start(&Consumer{Batch: 50}, p.source(), b)
	total := func() (int, map[string]int) {
		keys := map[string]int{}
		for _, s := range []*sourcetest.StoreSink{a, b} {
			for k, c := range s.Stats().Keys {
				keys[k] += c
			}
		}
		return len(keys), keys
	}
	ok := sourcetest.Eventually(context.Background(), 2*time.Minute, func() bool { n2, _ := total(); return n2 >= n })
	ra.stop(t)
	rb.stop(t)
	got, keys := total()
	for k, c := range keys {
		if c > 1 {
			t.Fatalf("row %s ingested %d times by the two consumers", k, c)
		}
	}
	if !ok || got != n || p.rows() != 0 {
		t.Fatalf("%d distinct rows ingested, %d left; want %d, 0", got, p.rows(), n)
	}
	t.Logf("batches taken: %d and %d", calls[0], calls[1])
}

func TestLagIsReported(t *testing.T) {
	p := newPlatform(t, storetest.PostgresURL(t), true)
	p.insert(0, 120)
	sink := newSink(t)
	sink.Refuse = func(int, []herald.SourceMessage) error { return errors.New("not now") }
	r := start(&Consumer{LagEvery: time.Millisecond, RetryWait: 5 * time.Millisecond}, p.source(), sink)
	st, ok := sink.WaitFor(20*time.Second, func(s sourcetest.Stats) bool { return len(s.Lag) > 0 })
	r.stop(t)
	if !ok || st.Lag[0] != 120 {
		t.Fatalf("lag reported %v; want 120 first", st.Lag)
	}
}

func TestMissingTableIsAnError(t *testing.T) {
	url := storetest.PostgresURL(t)
	src := &herald.Source{Name: "x", URL: url, Outbox: &herald.OutboxSource{Table: "no_such_table"}}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	err := (&Consumer{}).Run(ctx, src, newSink(t))
	if err == nil || !strings.Contains(err.Error(), "herald outbox schema") {
		t.Fatalf("Run on a missing table returned %v; want an error pointing at herald outbox schema", err)
	}
}

func TestValidTable(t *testing.T) {
	for name, ok := range map[string]bool{
		"herald_outbox": true, "app.herald_outbox": true, "_x1": true,
		"": false, "Outbox": true, "1x": false, "a.b.c": false, `x"; DROP TABLE y; --`: false,
		"a-b": false, strings.Repeat("x", 64): false, strings.Repeat("x", 63): true, "app.": false,
	} {
		if err := ValidTable(name); (err == nil) != ok {
			t.Errorf("ValidTable(%q) = %v; want ok=%v", name, err, ok)
		}
	}
	if _, err := Schema("bad name"); err == nil {
		t.Error("Schema accepted a bad name")
	}
}

// TestDatabaseRestart stops the test's own PostgreSQL mid-stream and
// starts it again: Run returns the error, is run again, and every row is
// ingested once.
func TestDatabaseRestart(t *testing.T) {
	sourcetest.PostgresBaseURL(t)
	db := sourcetest.StartPostgres(t)
	p := newPlatform(t, db.URL, true)
	const n = 3000
	p.insert(0, n)
	sink := newSink(t)
	sink.AfterCommit = func(int) error { time.Sleep(20 * time.Millisecond); return nil }

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	var mu sync.Mutex
	var runErrs []error
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 0; i < 200 && ctx.Err() == nil; i++ {
			if err := (&Consumer{Batch: 50}).Run(ctx, p.source(), sink); err != nil {
				mu.Lock()
				runErrs = append(runErrs, err)
				mu.Unlock()
			}
			select {
			case <-ctx.Done():
			case <-time.After(200 * time.Millisecond):
			}
		}
	}()
	defer func() { cancel(); wg.Wait() }()
	if _, ok := sink.WaitFor(time.Minute, func(s sourcetest.Stats) bool { return s.Fresh >= 500 }); !ok {
		t.Fatalf("not started: %+v", sink.Stats())
	}
	db.Stop()
	mid := sink.Stats().Fresh
	if mid >= n {
		t.Fatalf("all %d rows were ingested before the database stopped; the test proves nothing", n)
	}
	db.Start()
	p.insert(n, 500)
	st, ok := sink.WaitFor(2*time.Minute, func(s sourcetest.Stats) bool { return s.Fresh >= n+500 })
	cancel()
	wg.Wait()
	if !ok || st.Fresh != n+500 || len(st.Twice) > 0 {
		t.Fatalf("after the restart: %d distinct ingested (%d twice); want %d, 0 (%d before the stop)", st.Fresh, len(st.Twice), n+500, mid)
	}
	if got := p.rows(); got != 0 {
		t.Fatalf("%d rows left; want 0", got)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(runErrs) == 0 || st.Connected < 2 {
		t.Fatalf("Run returned no error when the database stopped (errors %v, connected %d times)", runErrs, st.Connected)
	}
	t.Logf("%d ingested before the stop; Run returned %v; %d duplicates recognised", mid, runErrs[0], st.Duplicates)
}
