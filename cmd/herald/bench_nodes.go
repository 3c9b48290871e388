package main

// `herald bench --nodes 1,2,3`: the cost of scaling out on one
// PostgreSQL. For each count it starts that many `herald serve`
// processes on one database of a PostgreSQL server of the bench's own
// (so the server's CPU time is the bench's alone), drives the same load
// to them in turn, and prints deliveries/s, latency, and the CPU seconds
// per 10k deliveries of herald (all processes together) and of
// PostgreSQL (its whole process tree).

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald/internal/secrets"
)

type nodesRun struct {
	nodes            int
	rate             float64 // deliveries/s
	p50, p99         time.Duration
	heraldCPU, pgCPU float64 // CPU-s per 10k deliveries
	load             string
	duplicates       int64
	statements       []string // --pg-statements: the busiest statements, per delivery
}

func runBenchNodes(ctx context.Context, c benchConfig, stdout, stderr io.Writer) error {
	var counts []int
	for _, f := range strings.Split(c.nodes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n < 1 || n > 16 {
			return usageError{"herald bench --nodes: a comma-separated list of process counts from 1 to 16, e.g. 1,2,3"}
		}
		counts = append(counts, n)
	}
	if c.rounds < 1 {
		c.rounds = 1
	}
	if c.backlog || c.slow > 0 || c.soak > 0 || c.db != "" {
		return usageError{"herald bench --nodes runs on its own PostgreSQL, without --db, --backlog, --slow-receiver or --soak"}
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	var settings []string
	if c.statements {
		settings = append(settings, "shared_preload_libraries=pg_stat_statements", "pg_stat_statements.track=all")
	}
	pg, err := startOwnPostgres(ctx, "127.0.0.1", nil, settings...)
	if err != nil {
		return fmt.Errorf("start a PostgreSQL of the bench's own: %w", err)
	}
	defer pg.stop()
	rateText := "flat out"
	if c.rate > 0 {
		rateText = fmt.Sprintf("%.0f events/s", c.rate)
	}
	fmt.Fprintf(stdout, "herald bench --nodes: own PostgreSQL 15 (port %d), %d events, fan-out %d, %d per request, %d connections, %s, %d rounds, load spread over the processes in turn\n",
		pg.port, c.events, c.fanout, c.batch, c.concurrency, rateText, c.rounds)
	fmt.Fprintf(stdout, "%5s %5s %12s %9s %9s %12s %12s %6s %5s\n", "nodes", "round", "deliveries/s", "p50", "p99", "herald CPU", "postgres CPU", "load", "dups")
	results := map[int][]nodesRun{}
	for round := 1; round <= c.rounds; round++ {
		for _, n := range counts { // alternated: 1, 2, 3, 1, 2, 3, …
			r, err := benchNodesOnce(ctx, c, pg, n, fmt.Sprintf("bench_%d_%d", n, round), stderr)
			if err != nil {
				return err
			}
			results[n] = append(results[n], r)
			fmt.Fprintf(stdout, "%5d %5d %12.0f %9s %9s %12.2f %12.2f %6s %5d\n", n, round, r.rate, r.p50, r.p99, r.heraldCPU, r.pgCPU, r.load, r.duplicates)
			for _, line := range r.statements {
				fmt.Fprintln(stdout, "      ", line)
			}
		}
	}
	fmt.Fprintf(stdout, "\nmedian of %d (range); CPU-s per 10k deliveries; + against %d process(es)\n", c.rounds, counts[0])
	base := median(results[counts[0]], func(r nodesRun) float64 { return r.heraldCPU })
	basePG := median(results[counts[0]], func(r nodesRun) float64 { return r.pgCPU })
	for _, n := range counts {
		rs := results[n]
		h := median(rs, func(r nodesRun) float64 { return r.heraldCPU })
		p := median(rs, func(r nodesRun) float64 { return r.pgCPU })
		fmt.Fprintf(stdout, "nodes %d: %s deliveries/s, herald %s (%+.0f %%), postgres %s (%+.0f %%), p99 %s\n", n,
			spreadOf(rs, "%.0f", func(r nodesRun) float64 { return r.rate }),
			spreadOf(rs, "%.2f", func(r nodesRun) float64 { return r.heraldCPU }), (h/base-1)*100,
			spreadOf(rs, "%.2f", func(r nodesRun) float64 { return r.pgCPU }), (p/basePG-1)*100,
			spreadOf(rs, "%.1f ms", func(r nodesRun) float64 { return float64(r.p99) / 1e6 }))
	}
	return nil
}

func median(rs []nodesRun, f func(nodesRun) float64) float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	sort.Float64s(v)
	if len(v) == 0 {
		return 0
	}
	return v[len(v)/2]
}

func spreadOf(rs []nodesRun, format string, f func(nodesRun) float64) string {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	sort.Float64s(v)
	if len(v) < 2 {
		return fmt.Sprintf(format, v[0])
	}
	return fmt.Sprintf(format+" ("+format+"–"+format+")", v[len(v)/2], v[0], v[len(v)-1])
}

func benchNodesOnce(ctx context.Context, c benchConfig, pg *ownPostgres, nodes int, dbName string, stderr io.Writer) (nodesRun, error) {
	out := nodesRun{nodes: nodes}
	db, err := pg.createDB(ctx, dbName)
	if err != nil {
		return out, err
	}
	dir, err := os.MkdirTemp("", "herald-bench-nodes-")
	if err != nil {
		return out, err
	}
	defer os.RemoveAll(dir)
	keyFile := filepath.Join(dir, "herald.key")
	if _, _, err := secrets.LoadOrCreateKeyFile(keyFile); err != nil {
		return out, err
	}
	vars := map[string]string{"HERALD_DB": db, "HERALD_SECRET_KEY_FILE": keyFile}
	var keyOut, keyErr bytes.Buffer
	if err := run(ctx, []string{"apikey", "create", "--name", "bench"}, func(k string) string { return vars[k] }, nil, &keyOut, &keyErr); err != nil {
		return out, fmt.Errorf("create api key: %w: %s", err, keyErr.String())
	}
	apiKey := strings.TrimSpace(keyOut.String())
	rc := newBenchReceiver(c.events * c.fanout)
	if err := rc.listen(); err != nil {
		return out, err
	}
	defer rc.close()
	serveArgs := append([]string{"--db", db, "--secret-key-file", keyFile, "--allow-network", "127.0.0.0/8", "--log-level", "warn"}, strings.Fields(c.serveArgs)...)
	var children []*benchChild
	defer func() {
		for _, h := range children {
			h.stop()
		}
	}()
	for i := 0; i < nodes; i++ {
		h, err := startBenchChild(ctx, serveArgs, stderr)
		if err != nil {
			return out, err
		}
		children = append(children, h)
	}
	for i := 0; i < c.fanout; i++ {
		if err := benchWebhook(ctx, children[0].url, apiKey, rc.url+"/hook/"+strconv.Itoa(i), map[string]any{"log_only_errors": true}); err != nil {
			return out, err
		}
	}
	time.Sleep(500 * time.Millisecond) // the other processes' caches and LISTEN connections settle
	urls := make([]string, len(children))
	for i, h := range children {
		urls[i] = h.url
	}
	heraldCPU := func() float64 {
		var s float64
		for _, h := range children {
			s += h.cpuSeconds()
		}
		return s
	}
	start := time.Now()
	rc.begin(start)
	var stats *sql.DB
	if c.statements {
		if stats, err = sql.Open("pgx", db); err != nil {
			return out, err
		}
		defer stats.Close()
		if _, err := stats.ExecContext(ctx, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements"); err != nil {
			return out, err
		}
		if _, err := stats.ExecContext(ctx, "SELECT pg_stat_statements_reset()"); err != nil {
			return out, err
		}
	}
	xacts := func() float64 {
		var n float64
		if stats != nil {
			stats.QueryRowContext(ctx, `SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = current_database()`).Scan(&n)
		}
		return n
	}
	x0 := xacts()
	h0, p0 := heraldCPU(), pg.cpuSeconds()
	if _, err := driveNodes(ctx, urls, apiKey, c); err != nil {
		return out, err
	}
	if err := rc.wait(ctx); err != nil {
		return out, fmt.Errorf("%w (%d of %d deliveries received)", err, rc.received.Load(), c.events*c.fanout)
	}
	took := time.Since(start)
	n := float64(c.events * c.fanout)
	out.heraldCPU = (heraldCPU() - h0) / n * 10000
	out.pgCPU = (pg.cpuSeconds() - p0) / n * 10000
	out.rate = n / took.Seconds()
	p := rc.percentiles()
	out.p50, out.p99 = p[0], p[2]
	out.load = loadAverage()
	out.duplicates = rc.duplicates.Load()
	if stats != nil {
		time.Sleep(1500 * time.Millisecond) // backends report their statistics at most once a second
		out.statements = append(out.statements, fmt.Sprintf("%7.3f transactions per delivery", (xacts()-x0)/n))
		rows, err := stats.QueryContext(ctx, `SELECT calls, rows, total_exec_time, left(regexp_replace(query, '\s+', ' ', 'g'), 90)
			FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
			ORDER BY total_exec_time DESC LIMIT 10`)
		if err != nil {
			return out, err
		}
		defer rows.Close()
		for rows.Next() {
			var calls, nrows int64
			var ms float64
			var q string
			if err := rows.Scan(&calls, &nrows, &ms, &q); err != nil {
				return out, err
			}
			out.statements = append(out.statements, fmt.Sprintf("%7.3f calls %7.1f µs /delivery %6.1f rows/call  %s", float64(calls)/n, ms*1000/n, float64(nrows)/max(1, float64(calls)), q))
		}
	}
	return out, nil
}

// driveNodes is drive over several processes: request r goes to
// urls[r % len(urls)].
func driveNodes(ctx context.Context, urls []string, key string, c benchConfig) (int, error) {
	client := &http.Client{Transport: &http.Transport{MaxIdleConns: c.concurrency, MaxIdleConnsPerHost: c.concurrency}, Timeout: time.Minute}
	requests := (c.events + c.batch - 1) / c.batch
	var next, acked atomic.Int64
	var firstErr error
	var once sync.Once
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
				req, _ := http.NewRequestWithContext(ctx, "POST", urls[r%len(urls)]+path, bytes.NewReader(buf.Bytes()))
				req.Header.Set("Authorization", "Bearer "+key)
				req.Header.Set("Content-Type", "application/json")
				res, err := client.Do(req)
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
