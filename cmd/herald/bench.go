package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald/internal/secrets"
)

// benchConfig is `herald bench`.
type benchConfig struct {
	events      int
	rate        float64
	fanout      int
	webhooks    int  // published webhooks in all; those beyond --fanout never deliver the bench's events
	conditions  bool // every webhook has a condition (the --fanout ones true, the others false)
	batch       int
	concurrency int
	db          string
	backlog     bool
	timeout     time.Duration
	keep        bool
	serveArgs   string
	slow        time.Duration
	soak        time.Duration // run at --rate this long, printing a row every soakEvery
	soakEvery   time.Duration
	retention   string // --retention of the child ("" = its default)
	echo        bool   // the receiver echoes what it got (headers and body), like debugging receivers
	source      string // feed the events through this event source (nats) instead of HTTP
	natsURL     string
	contend     bool   // a competing process keeps one core busy during the run
	cpuprofile  string // save herald's CPU profile of the run here
	trace       string // save herald's execution trace of the run here
	profileFor  time.Duration
	nodes       string // --nodes 1,2,3: scale-out cost on a PostgreSQL of the bench's own (bench_nodes.go)
	rounds      int
	statements  bool
	// observe, if set, is called with each ingest request's round trip.
	observe func(took time.Duration)
}

// runBench starts `herald serve` as a child process on a temporary
// database, a receiver on 127.0.0.1 in this process, and drives events
// into herald over HTTP; it prints ingest and delivery rates,
// ingest-to-receipt latency and herald's peak RSS.
func runBench(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var c benchConfig
	fs := newFlagSet("bench", stderr)
	fs.IntVar(&c.events, "events", 20000, "events to send")
	fs.Float64Var(&c.rate, "rate", 0, "events per second (0: as fast as herald takes them)")
	fs.IntVar(&c.fanout, "fanout", 1, "published webhooks per event (deliveries per event)")
	fs.IntVar(&c.webhooks, "webhooks", 0, "published webhooks in all (default --fanout): the others take another event type, or with --conditions a condition that is false")
	fs.BoolVar(&c.conditions, "conditions", false, "give every webhook a condition, evaluated at ingest: true for the --fanout ones, false for the rest")
	fs.IntVar(&c.batch, "batch", 1, "events per request (1: POST /events; more: POST /events/batch)")
	fs.IntVar(&c.concurrency, "concurrency", 64, "concurrent client connections")
	fs.StringVar(&c.db, "db", "", "database (default: a new SQLite file in a temporary folder; a postgres:// URL runs on PostgreSQL)")
	fs.BoolVar(&c.backlog, "backlog", false, "ingest everything first with delivery off, then measure how the backlog drains")
	fs.DurationVar(&c.timeout, "timeout", 30*time.Minute, "give up after this long")
	fs.BoolVar(&c.keep, "keep", false, "keep the temporary folder")
	fs.DurationVar(&c.slow, "slow-receiver", 0, "also publish one webhook to a receiver that hangs this long on every request (e.g. 10s): the others must keep their pace")
	fs.StringVar(&c.serveArgs, "serve-args", "", "extra flags for the herald serve child, space-separated")
	fs.DurationVar(&c.soak, "soak", 0, "soak mode: send at --rate for this long (e.g. 10m) and print a row a minute: ingest latency, database size, CPU, queue, lost")
	fs.DurationVar(&c.soakEvery, "soak-every", time.Minute, "soak mode: how often a row is printed")
	fs.StringVar(&c.retention, "retention", "", "--retention of the herald child (e.g. 2m; \"off\" keeps everything)")
	fs.BoolVar(&c.echo, "echo-receiver", false, "the receiver answers with what it got (headers and body, ~1-2 KB), behind a basic authorization: what attempts store, redacted")
	fs.StringVar(&c.source, "source", "", "publish the events to an event source instead of POSTing them: nats (a JetStream stream of its own, deleted after the run)")
	fs.StringVar(&c.natsURL, "nats-url", "nats://127.0.0.1:4222", "--source nats: the NATS server with JetStream")
	fs.BoolVar(&c.contend, "contend", false, "start a competing process that keeps one core busy (a shell loop that never sleeps) for the run, to measure the tail under contention")
	fs.StringVar(&c.cpuprofile, "cpuprofile", "", "save herald's CPU profile (pprof) of the run to this file")
	fs.StringVar(&c.trace, "trace", "", "save herald's execution trace (runtime/trace, for go tool trace) of the run to this file")
	fs.DurationVar(&c.profileFor, "profile-seconds", 0, "how long --cpuprofile and --trace record (default: the run's length at --rate, else 5s)")
	fs.StringVar(&c.nodes, "nodes", "", "scale-out mode: for each count (e.g. 1,2,3) run that many herald serve on one database of a PostgreSQL the bench starts itself, load spread over them; prints herald's and PostgreSQL's CPU per 10k deliveries")
	fs.BoolVar(&c.statements, "pg-statements", false, "--nodes: load pg_stat_statements into the bench's PostgreSQL and print the busiest statements per delivery")
	fs.IntVar(&c.rounds, "rounds", 3, "--nodes: rounds of each count, alternated (the summary gives the median and range)")
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	if c.source != "" && (c.soak > 0 || c.backlog) {
		return usageError{"herald bench: --source goes without --soak and --backlog"}
	}
	if c.cpuprofile != "" && c.trace != "" {
		return usageError{"herald bench: --cpuprofile and --trace one at a time (each would disturb the other)"}
	}
	if c.nodes != "" && c.events > 0 && c.fanout > 0 && c.batch > 0 && c.concurrency > 0 {
		return runBenchNodes(ctx, c, stdout, stderr)
	}
	if c.events <= 0 || c.fanout <= 0 || c.batch <= 0 || c.concurrency <= 0 || c.batch > 1000 {
		return usageError{"herald bench: --events, --fanout, --concurrency must be positive and --batch 1..1000"}
	}
	if c.webhooks == 0 {
		c.webhooks = c.fanout
	}
	if c.webhooks < c.fanout {
		return usageError{"herald bench: --webhooks must be at least --fanout"}
	}
	if c.soak > 0 {
		if c.rate <= 0 || c.backlog || c.slow > 0 {
			return usageError{"herald bench: --soak needs --rate, and goes without --backlog and --slow-receiver"}
		}
		c.events = int(c.rate * c.soak.Seconds())
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	dir, err := os.MkdirTemp("", "herald-bench-")
	if err != nil {
		return err
	}
	if !c.keep {
		defer os.RemoveAll(dir)
	}
	keyFile := filepath.Join(dir, "herald.key")
	if _, _, err := secrets.LoadOrCreateKeyFile(keyFile); err != nil {
		return err
	}
	db := c.db
	if db == "" {
		db = filepath.Join(dir, "herald.db")
	}
	if isPostgres(db) {
		// A fresh schema per run: earlier runs' webhooks (sealed under
		// their own temporary keys) must not join in.
		fresh, drop, err := freshSchema(ctx, db)
		if err != nil {
			return err
		}
		if !c.keep {
			defer drop()
		}
		db = fresh
	}
	vars := map[string]string{"HERALD_DB": db, "HERALD_SECRET_KEY_FILE": keyFile}
	var keyOut, keyErr bytes.Buffer
	if err := run(ctx, []string{"apikey", "create", "--name", "bench"}, func(k string) string { return vars[k] }, nil, &keyOut, &keyErr); err != nil {
		return fmt.Errorf("create api key: %w: %s", err, keyErr.String())
	}
	apiKey := strings.TrimSpace(keyOut.String())

	rc := newBenchReceiver(c.events * c.fanout)
	rc.echo = c.echo
	if err := rc.listen(); err != nil {
		return err
	}
	defer rc.close()

	extra := strings.Fields(c.serveArgs)
	serveArgs := append([]string{"--db", db, "--secret-key-file", keyFile, "--allow-network", "127.0.0.0/8", "--log-level", "warn"}, extra...)
	switch c.retention {
	case "":
	case "off":
		serveArgs = append(serveArgs, "--retention", "-1s")
	default:
		serveArgs = append(serveArgs, "--retention", c.retention)
	}
	var debugAddr string
	if c.cpuprofile != "" || c.trace != "" {
		if debugAddr, err = freeAddr(); err != nil {
			return err
		}
		serveArgs = append(serveArgs, "--debug-addr", debugAddr)
	}
	var pg *pgBackends
	if isPostgres(db) {
		// herald's own backends are told apart by application_name.
		appName := "herald-bench-" + strconv.Itoa(os.Getpid())
		serveArgs[1] = withApplicationName(db, appName)
		if pg, err = newPGBackends(ctx, c.db, appName); err != nil {
			return err
		}
		defer pg.close()
	}
	if c.backlog {
		serveArgs = append(serveArgs, "--no-deliver")
	}
	h, err := startBenchChild(ctx, serveArgs, stderr)
	if err != nil {
		return err
	}
	defer h.stop()
	hook := map[string]any{"log_only_errors": true}
	if c.soak > 0 {
		hook["log_only_errors"] = false // every attempt is logged: what retention has to keep up with
	}
	if c.echo {
		id, err := benchAuthorization(ctx, h.url, apiKey, rc.url, benchPassword)
		if err != nil {
			return err
		}
		hook["authorization_enabled"], hook["authorization_id"] = true, id
	}
	for i := 0; i < c.webhooks; i++ {
		spec := map[string]any{}
		for k, v := range hook {
			spec[k] = v
		}
		match := i < c.fanout
		switch {
		case c.conditions && match:
			spec["condition"] = "n >= 0"
		case c.conditions:
			spec["condition"] = "n < 0"
		case !match:
			spec["event"] = "coupon.redeemed" // published, but for another type
			spec["payload"] = `{"coupon": "{{ coupon.id }}"}`
		}
		if err := benchWebhook(ctx, h.url, apiKey, rc.url+"/hook/"+strconv.Itoa(i), spec); err != nil {
			return err
		}
	}
	if c.slow > 0 {
		// Its own listener: isolation is per endpoint (scheme, host, port),
		// so the hanging receiver is another endpoint, as in real life.
		rc.slow = c.slow
		slowURL, err := rc.listenSlow()
		if err != nil {
			return err
		}
		if err := benchWebhook(ctx, h.url, apiKey, slowURL+"/slow", map[string]any{"log_only_errors": true}); err != nil {
			return err
		}
	}
	kind := "sqlite"
	if isPostgres(db) {
		kind = "postgres"
	}
	rateText := "flat out"
	if c.rate > 0 {
		rateText = fmt.Sprintf("%.0f events/s", c.rate)
	}
	if c.slow > 0 {
		rateText += fmt.Sprintf(", plus one webhook whose receiver hangs %s (not counted)", c.slow)
	}
	if c.webhooks > c.fanout {
		how := "for another event type"
		if c.conditions {
			how = "whose condition is false"
		}
		rateText += fmt.Sprintf(", %d webhooks in all (%d %s)", c.webhooks, c.webhooks-c.fanout, how)
	} else if c.conditions {
		rateText += ", every webhook with a condition"
	}
	var src benchSource
	if c.source != "" {
		if src, err = startBenchSource(ctx, c, h.url, apiKey); err != nil {
			return err
		}
		defer func() { h.stop(); src.close() }() // herald first: the stream's deletion is no outage to log
		fmt.Fprintf(stdout, "herald bench: %s, %d events published to %s (herald's source reads them), fan-out %d, %s\n", kind, c.events, c.source, c.fanout, rateText)
	} else {
		fmt.Fprintf(stdout, "herald bench: %s, %d events, fan-out %d, %d per request, %d connections, %s\n", kind, c.events, c.fanout, c.batch, c.concurrency, rateText)
	}
	if c.soak > 0 {
		return runSoak(ctx, c, h, rc, apiKey, db, stdout)
	}

	var busy *contender
	if c.contend {
		if busy, err = startContender(); err != nil {
			return err
		}
		defer busy.stop()
	}
	probe := startProbe(ctx, c, debugAddr)
	start := time.Now()
	rc.begin(start)
	cpu0, mallocs0 := h.cpuSeconds(), benchMetric(h.url, "go_memstats_mallocs_total")
	if pg != nil {
		pg.reset(ctx)
	}
	busy0 := 0.0
	if busy != nil {
		busy0 = busy.cpuSeconds()
	}
	var sent int
	if src != nil {
		sent, err = src.publish(ctx, c)
	} else {
		sent, err = drive(ctx, h.url, apiKey, c)
	}
	if err != nil {
		return err
	}
	ingestDur := time.Since(start)
	if src != nil {
		fmt.Fprintf(stdout, "publish:    %d events in %s = %.0f events/s (every one acknowledged by %s)\n", sent, ingestDur.Round(time.Millisecond), float64(sent)/ingestDur.Seconds(), c.source)
	} else {
		fmt.Fprintf(stdout, "ingest:     %d events in %s = %.0f events/s (every one answered 202)\n", sent, ingestDur.Round(time.Millisecond), float64(sent)/ingestDur.Seconds())
	}
	if c.backlog {
		peak := h.peakRSS()
		h.stop()
		fmt.Fprintf(stdout, "backlog:    %d pending deliveries; ingest-only herald peaked at %s\n", c.events*c.fanout, mb(peak))
		serveArgs = serveArgs[:len(serveArgs)-1] // drop --no-deliver
		if h, err = startBenchChild(ctx, serveArgs, stderr); err != nil {
			return err
		}
		defer h.stop()
		start = time.Now()
		rc.begin(start)
		cpu0, mallocs0 = h.cpuSeconds(), benchMetric(h.url, "go_memstats_mallocs_total")
		if pg != nil {
			pg.reset(ctx)
		}
	}
	if err := rc.wait(ctx); err != nil {
		return fmt.Errorf("%w (%d of %d deliveries received)", err, rc.received.Load(), c.events*c.fanout)
	}
	total := time.Since(start)
	peak := h.peakRSS()
	n := c.events * c.fanout
	cpu, mallocs := h.cpuSeconds()-cpu0, benchMetric(h.url, "go_memstats_mallocs_total")-mallocs0
	what := "first event sent → last delivery received"
	if c.backlog {
		what = "drain of the backlog, from the delivering process's start"
	}
	fmt.Fprintf(stdout, "deliveries: %d in %s = %.0f deliveries/s (%s)\n", n, total.Round(time.Millisecond), float64(n)/total.Seconds(), what)
	if !c.backlog {
		p := rc.percentiles()
		fmt.Fprintf(stdout, "latency:    ingest→receipt p50 %s, p95 %s, p99 %s, max %s\n", p[0], p[1], p[2], p[3])
	}
	fmt.Fprintf(stdout, "cpu:        %.2f CPU-s per 10k deliveries (herald's user+system), %.0f allocations per delivery, load average %s (1 min, at the end)\n",
		cpu/float64(n)*10000, mallocs/float64(n), loadAverage())
	if pg != nil {
		pgCPU, backends := pg.seconds(ctx)
		fmt.Fprintf(stdout, "postgres:   %.2f CPU-s per 10k deliveries in the %d server backends that served herald (user+system from /proc; not the WAL writer or checkpointer)\n",
			pgCPU/float64(n)*10000, backends)
	}
	if busy != nil {
		spent := busy.cpuSeconds() - busy0
		fmt.Fprintf(stdout, "contend:    a competing process (/bin/sh busy loop, pid %d) kept one core busy: it used %.1f CPU-s in %s (%.0f %% of a core)\n",
			busy.cmd.Process.Pid, spent, total.Round(time.Millisecond), 100*spent/total.Seconds())
	}
	if err := probe.wait(); err != nil {
		fmt.Fprintf(stdout, "profile:    %v\n", err)
	} else if probe.file != "" {
		fmt.Fprintf(stdout, "profile:    %s of herald over %d s saved to %s\n", probe.what, probe.seconds, probe.file)
	}
	fmt.Fprintf(stdout, "peak RSS:   %s (the herald process)\n", mb(peak))
	fmt.Fprintf(stdout, "receipts:   %d, duplicates %d\n", rc.received.Load(), rc.duplicates.Load())
	if c.slow > 0 {
		fmt.Fprintf(stdout, "slow:       the hanging receiver got %d requests meanwhile (held to the endpoint's concurrency limit)\n", rc.slowHits.Load())
	}
	return nil
}

// freshSchema creates a schema named herald_bench_<random> and returns
// the URL that uses it and a func that drops it.
func freshSchema(ctx context.Context, db string) (string, func(), error) {
	conn, err := sql.Open("pgx", db)
	if err != nil {
		return "", nil, err
	}
	var b [6]byte
	rand.Read(b[:])
	schema := "herald_bench_" + hex.EncodeToString(b[:])
	if _, err := conn.ExecContext(ctx, "CREATE SCHEMA "+schema); err != nil {
		conn.Close()
		return "", nil, fmt.Errorf("create schema for the benchmark: %w", err)
	}
	u, err := url.Parse(db)
	if err != nil {
		conn.Close()
		return "", nil, err
	}
	q := u.Query()
	q.Set("search_path", schema)
	u.RawQuery = q.Encode()
	return u.String(), func() {
		conn.ExecContext(context.Background(), "DROP SCHEMA "+schema+" CASCADE")
		conn.Close()
	}, nil
}

func mb(b int64) string { return fmt.Sprintf("%.0f MB", float64(b)/(1<<20)) }

// drive sends the events, flat out or at a fixed rate, and returns how
// many were acknowledged.
func drive(ctx context.Context, url, key string, c benchConfig) (int, error) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: c.concurrency, MaxIdleConnsPerHost: c.concurrency, MaxConnsPerHost: c.concurrency}, Timeout: time.Minute}
	requests := (c.events + c.batch - 1) / c.batch
	var next atomic.Int64
	var acked atomic.Int64
	var firstErr error
	var once sync.Once
	// At a fixed rate, request r is sent at start + r×interval (not on a
	// ticker, which drops ticks and drifts).
	var interval time.Duration
	if c.rate > 0 {
		interval = time.Duration(float64(time.Second) * float64(c.batch) / c.rate)
	}
	start := time.Now()
	var wg sync.WaitGroup
	for w := 0; w < c.concurrency; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf bytes.Buffer
			for ctx.Err() == nil {
				r := int(next.Add(1)) - 1
				if r >= requests {
					return
				}
				if interval > 0 {
					if wait := time.Until(start.Add(time.Duration(r) * interval)); wait > 0 {
						time.Sleep(wait)
					}
				}
				first, last := r*c.batch, min((r+1)*c.batch, c.events)
				buf.Reset()
				path := "/api/v1/events"
				if c.batch > 1 {
					path = "/api/v1/events/batch"
					buf.WriteString(`{"events": [`)
				}
				for i := first; i < last; i++ {
					if i > first {
						buf.WriteByte(',')
					}
					fmt.Fprintf(&buf, `{"type": "member.verified", "data": {"n": %d, "t": %d}}`, i, time.Now().UnixNano())
				}
				if c.batch > 1 {
					buf.WriteString(`]}`)
				}
				req, _ := http.NewRequestWithContext(ctx, "POST", url+path, bytes.NewReader(buf.Bytes()))
				req.Header.Set("Authorization", "Bearer "+key)
				req.Header.Set("Content-Type", "application/json")
				sentAt := time.Now()
				res, err := client.Do(req)
				if err == nil && c.observe != nil {
					c.observe(time.Since(sentAt))
				}
				if err == nil {
					io.Copy(io.Discard, res.Body)
					res.Body.Close()
					if res.StatusCode != http.StatusAccepted {
						err = fmt.Errorf("herald answered %d", res.StatusCode)
					}
				}
				if err != nil {
					once.Do(func() { firstErr = err })
					return
				}
				acked.Add(int64(last - first))
			}
		}()
	}
	wg.Wait()
	if firstErr != nil {
		return int(acked.Load()), fmt.Errorf("send events: %w", firstErr)
	}
	return int(acked.Load()), ctx.Err()
}

// benchDo makes one API call of the benchmark's setup.
func benchDo(ctx context.Context, url, key, method, path string, body []byte) (map[string]any, error) {
	req, _ := http.NewRequestWithContext(ctx, method, url+path, bytes.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	var out map[string]any
	json.NewDecoder(res.Body).Decode(&out)
	if res.StatusCode >= 300 {
		return nil, fmt.Errorf("%s %s: %d %v", method, path, res.StatusCode, out)
	}
	return out, nil
}

// benchPassword is the echo receiver's basic password: the soak checks
// that it is nowhere in the database.
const benchPassword = "bench-pa55word-never-stored"

func benchAuthorization(ctx context.Context, url, key, endpoint, password string) (string, error) {
	body, _ := json.Marshal(map[string]any{"endpoint": endpoint, "type": "basic", "basic": map[string]any{"username": "bench", "password": password}})
	out, err := benchDo(ctx, url, key, "POST", "/api/v1/authorizations", body)
	if err != nil {
		return "", err
	}
	return out["id"].(string), nil
}

// benchWebhook creates and publishes a webhook to target; extra adds or
// overrides fields.
func benchWebhook(ctx context.Context, url, key, target string, extra map[string]any) error {
	spec := map[string]any{"name": "bench", "event": "member.verified", "endpoint_url": target, "method": "POST",
		"payload_type": "JSON", "payload": `{"n": {{ n }}, "t": {{ t }}}`}
	for k, v := range extra {
		spec[k] = v
	}
	body, _ := json.Marshal(spec)
	wh, err := benchDo(ctx, url, key, "POST", "/api/v1/webhooks", body)
	if err != nil {
		return err
	}
	_, err = benchDo(ctx, url, key, "POST", "/api/v1/webhooks/"+wh["id"].(string)+"/publish", nil)
	return err
}

// benchReceiver counts deliveries and their ingest-to-receipt latency.
type benchReceiver struct {
	srv        *http.Server
	url        string
	want       int
	received   atomic.Int64
	duplicates atomic.Int64
	start      atomic.Int64
	mu         sync.Mutex
	latencies  []time.Duration
	seen       map[string]bool
	done       chan struct{}
	doneOnce   sync.Once
	slow       time.Duration // how long /slow hangs
	slowSrv    *http.Server
	slowHits   atomic.Int64
	closed     chan struct{}
	echo       bool
}

func newBenchReceiver(want int) *benchReceiver {
	return &benchReceiver{want: want, latencies: make([]time.Duration, 0, want), seen: make(map[string]bool, want), done: make(chan struct{}), closed: make(chan struct{})}
}

func (rc *benchReceiver) listen() error {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return err
	}
	rc.url = "http://" + ln.Addr().String()
	rc.srv = &http.Server{Handler: http.HandlerFunc(rc.serve)}
	go rc.srv.Serve(ln)
	return nil
}

// listenSlow serves the hanging endpoint on a second port.
func (rc *benchReceiver) listenSlow() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	rc.slowSrv = &http.Server{Handler: http.HandlerFunc(rc.serve)}
	go rc.slowSrv.Serve(ln)
	return "http://" + ln.Addr().String(), nil
}

func (rc *benchReceiver) begin(t time.Time) { rc.start.Store(t.UnixNano()) }

func (rc *benchReceiver) serve(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/slow" {
		rc.slowHits.Add(1)
		select {
		case <-time.After(rc.slow):
		case <-r.Context().Done():
		case <-rc.closed:
		}
		w.WriteHeader(http.StatusNoContent)
		return
	}
	var body struct{ N, T int64 }
	raw, _ := io.ReadAll(r.Body)
	json.Unmarshal(raw, &body)
	now := time.Now()
	id := r.Header.Get("webhook-id")
	rc.mu.Lock()
	dup := rc.seen[id]
	rc.seen[id] = true
	if !dup {
		rc.latencies = append(rc.latencies, now.Sub(time.Unix(0, body.T)))
	}
	rc.mu.Unlock()
	if rc.echo {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{"ok": true, "received": map[string]any{"headers": r.Header, "body": string(raw), "url": r.URL.String()}})
	} else {
		w.WriteHeader(http.StatusNoContent)
	}
	if dup {
		rc.duplicates.Add(1)
		return
	}
	if rc.received.Add(1) == int64(rc.want) {
		rc.doneOnce.Do(func() { close(rc.done) })
	}
}

func (rc *benchReceiver) wait(ctx context.Context) error {
	select {
	case <-rc.done:
		return nil
	case <-ctx.Done():
		return errors.New("timed out waiting for deliveries")
	}
}

func (rc *benchReceiver) percentiles() [4]time.Duration {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	l := append([]time.Duration(nil), rc.latencies...)
	sort.Slice(l, func(i, j int) bool { return l[i] < l[j] })
	at := func(p float64) time.Duration {
		if len(l) == 0 {
			return 0
		}
		return l[min(len(l)-1, int(p*float64(len(l))))].Round(100 * time.Microsecond)
	}
	return [4]time.Duration{at(0.50), at(0.95), at(0.99), at(1)}
}

func (rc *benchReceiver) close() {
	close(rc.closed)
	rc.srv.Close()
	if rc.slowSrv != nil {
		rc.slowSrv.Close()
	}
}

// benchChild is the herald process under test.
type benchChild struct {
	cmd  *exec.Cmd
	url  string
	once sync.Once
}

func startBenchChild(ctx context.Context, serveArgs []string, stderr io.Writer) (*benchChild, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	args := append([]string{"serve", "--addr", "127.0.0.1:0"}, serveArgs...)
	cmd := exec.Command(exe, args...)
	if testArgs := os.Getenv("HERALD_TEST_CHILD_ARGS"); testArgs != "" || strings.HasSuffix(exe, ".test") {
		// Under `go test` the executable is the test binary (see TestMain).
		a, _ := json.Marshal(args)
		cmd = exec.Command(exe, "-test.run=^$")
		cmd.Env = append(os.Environ(), "HERALD_TEST_CHILD_ARGS="+string(a))
	}
	cmd.Stderr = stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start herald serve: %w", err)
	}
	c := &benchChild{cmd: cmd}
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "herald listening on "); ok {
				urlc <- u
			}
		}
		close(urlc)
	}()
	select {
	case u, ok := <-urlc:
		if !ok {
			cmd.Wait()
			return nil, errors.New("herald serve exited before listening")
		}
		c.url = u
	case <-time.After(60 * time.Second):
		c.stop()
		return nil, errors.New("herald serve did not start within 60 s")
	case <-ctx.Done():
		c.stop()
		return nil, ctx.Err()
	}
	return c, nil
}

// peakRSS reads the child's high-water mark of resident memory.
func (c *benchChild) peakRSS() int64 { return c.memory("VmHWM:") }

// memory reads one of the child's memory figures (a /proc status field).
func (c *benchChild) memory(field string) int64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", c.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, field); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb << 10
		}
	}
	return 0
}

func (c *benchChild) stop() {
	c.once.Do(func() {
		c.cmd.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { c.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			c.cmd.Process.Kill()
			<-done
		}
	})
}
