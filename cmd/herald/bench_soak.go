package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// soakRow is one line of the soak table.
type soakRow struct {
	at                   time.Duration
	sent, received       int64
	pending              float64
	ingestP50, ingestP99 time.Duration
	deliveryP99          time.Duration
	dbBytes, dbFree      int64
	rss                  int64
	cpuPer10k            float64 // herald's CPU seconds per 10k deliveries in the window
	load                 string
	purged               float64
}

// runSoak drives events at a steady rate for c.soak and prints a row
// every c.soakEvery: ingest latency, database size, CPU, queue depth and
// what retention purged; then waits for every delivery and summarises.
func runSoak(ctx context.Context, c benchConfig, h *benchChild, rc *benchReceiver, apiKey, db string, stdout io.Writer) error {
	var mu sync.Mutex
	var window []time.Duration
	var acked int64
	c.observe = func(took time.Duration) {
		mu.Lock()
		window = append(window, took)
		acked += int64(c.batch)
		mu.Unlock()
	}
	retention, _ := time.ParseDuration(c.retention)
	size := func(m map[string]float64) (int64, int64) {
		free := int64(m["herald_database_free_bytes"])
		if isPostgres(db) {
			return int64(m["herald_database_size_bytes"]), free
		}
		var total int64
		for _, f := range []string{db, db + "-wal"} {
			if st, err := os.Stat(f); err == nil {
				total += st.Size()
			}
		}
		return total, free
	}
	fmt.Fprintf(stdout, "soak: %s at %.0f events/s, fan-out %d, retention %s, a row every %s\n", c.soak, c.rate, c.fanout, or(c.retention, "the server's default"), c.soakEvery)
	fmt.Fprintf(stdout, "%8s %9s %10s %8s %10s %10s %12s %10s %10s %8s %12s %s\n", "t", "sent", "delivered", "pending", "ingest p50", "ingest p99",
		"deliver p99", "db size", "db free", "RSS", "CPU-s/10k", "load")
	start := time.Now()
	rc.begin(start)
	done := make(chan error, 1)
	go func() { _, err := drive(ctx, h.url, apiKey, c); done <- err }()
	var rows []soakRow
	lastCPU, lastRecv, lastLat := h.cpuSeconds(), int64(0), 0
	row := func(end bool) soakRow {
		mu.Lock()
		lat := append([]time.Duration(nil), window...)
		window = window[:0]
		sent := acked
		mu.Unlock()
		sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
		rc.mu.Lock()
		dl := append([]time.Duration(nil), rc.latencies[lastLat:]...)
		lastLat = len(rc.latencies)
		rc.mu.Unlock()
		sort.Slice(dl, func(i, j int) bool { return dl[i] < dl[j] })
		m := scrapeMetrics(h.url) // one scrape a row: each runs the queue and size queries
		r := soakRow{at: time.Since(start).Round(time.Second), sent: sent, received: rc.received.Load(), ingestP50: pct(lat, 0.5), ingestP99: pct(lat, 0.99),
			deliveryP99: pct(dl, 0.99), pending: m["herald_queue_depth"], rss: h.rss(), load: loadAverage(),
			purged: m["herald_retention_purged_rows_total"]}
		r.dbBytes, r.dbFree = size(m)
		cpu := h.cpuSeconds()
		if n := r.received - lastRecv; n > 0 {
			r.cpuPer10k = (cpu - lastCPU) / float64(n) * 10000
		}
		lastCPU, lastRecv = cpu, r.received
		at := r.at.String()
		if end {
			at = "drained"
		}
		fmt.Fprintf(stdout, "%8s %9d %10d %8.0f %10s %10s %12s %10s %10s %8s %12.2f %s\n", at, r.sent, r.received, r.pending, r.ingestP50, r.ingestP99,
			r.deliveryP99, mb(r.dbBytes), mb(r.dbFree), mb(r.rss), r.cpuPer10k, r.load)
		return r
	}
	tick := time.NewTicker(c.soakEvery)
	defer tick.Stop()
	var driveErr error
loop:
	for {
		select {
		case driveErr = <-done:
			break loop
		case <-tick.C:
			rows = append(rows, row(false))
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	if driveErr != nil {
		return driveErr
	}
	want := int64(c.events * c.fanout)
	drain, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	waitErr := rc.wait(drain)
	rows = append(rows, row(true))
	lost := want - rc.received.Load()
	fmt.Fprintf(stdout, "deliveries: %d of %d received, lost %d, duplicates %d\n", rc.received.Load(), want, lost, rc.duplicates.Load())
	soakSummary(stdout, rows, retention, c)
	if !isPostgres(db) {
		found := false
		for _, f := range []string{db, db + "-wal"} {
			if b, err := os.ReadFile(f); err == nil && strings.Contains(string(b), benchPassword) {
				found = true
			}
		}
		fmt.Fprintf(stdout, "secrets:    the basic password is in the database file: %v\n", found)
	}
	if waitErr != nil || lost != 0 {
		return fmt.Errorf("soak: %d of %d deliveries lost", lost, want)
	}
	return nil
}

// soakSummary compares the rows after the first retention window with
// those before it: is the database flat, and did ingest's tail move?
func soakSummary(w io.Writer, rows []soakRow, retention time.Duration, c benchConfig) {
	if retention <= 0 || len(rows) < 2 {
		return
	}
	var before, after []soakRow
	for _, r := range rows[:len(rows)-1] { // the last row is taken after the drain
		switch {
		case r.at <= retention:
			before = append(before, r)
		case r.at > retention+c.soakEvery:
			after = append(after, r)
		}
	}
	if len(after) == 0 {
		fmt.Fprintf(w, "steady:     the soak ended before a retention window had passed\n")
		return
	}
	lo, hi := after[0].dbBytes, after[0].dbBytes
	var p99s []time.Duration
	for _, r := range after {
		lo, hi = min(lo, r.dbBytes), max(hi, r.dbBytes)
		p99s = append(p99s, r.ingestP99)
	}
	mid := (lo + hi) / 2
	fmt.Fprintf(w, "steady:     after the first retention window the database stayed between %s and %s (±%.1f %% of %s)\n", mb(lo), mb(hi),
		float64(hi-lo)/2/float64(mid)*100, mb(mid))
	perDelivery := float64(mid) / (c.rate * float64(c.fanout) * retention.Seconds())
	fmt.Fprintf(w, "at rest:    ~%.0f bytes per delivery (database size / deliveries in one retention window: events, deliveries, attempts, indexes)\n", perDelivery)
	if len(before) > 0 {
		var b []time.Duration
		for _, r := range before {
			b = append(b, r.ingestP99)
		}
		sort.Slice(b, func(i, j int) bool { return b[i] < b[j] })
		sort.Slice(p99s, func(i, j int) bool { return p99s[i] < p99s[j] })
		fmt.Fprintf(w, "ingest p99: %s (median) while retention had nothing to delete, %s (median) and %s (worst) while it purged\n", b[len(b)/2], p99s[len(p99s)/2], p99s[len(p99s)-1])
	}
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func pct(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(len(sorted)-1, int(p*float64(len(sorted))))].Round(100 * time.Microsecond)
}

// scrapeMetrics reads herald's /metrics once: each metric's samples
// added up, whatever their labels.
func scrapeMetrics(base string) map[string]float64 {
	out := map[string]float64{}
	res, err := http.Get(base + "/metrics")
	if err != nil {
		return out
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		name := line[:strings.IndexAny(line+" ", "{ ")]
		if i := strings.LastIndexByte(line, ' '); i >= 0 {
			v, _ := strconv.ParseFloat(line[i+1:], 64)
			out[name] += v
		}
	}
	return out
}

// benchMetric reads one metric from herald's /metrics (0 when absent).
func benchMetric(base, name string) float64 { return scrapeMetrics(base)[name] }

// loadAverage is the machine's 1-minute load average.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return "?"
	}
	return f[0]
}

// cpuSeconds is the child's user + system CPU time so far.
func (c *benchChild) cpuSeconds() float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", c.cmd.Process.Pid))
	if err != nil {
		return 0
	}
	s := string(b)
	// Fields after the command name, which is in parentheses.
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100 // USER_HZ is 100 on Linux
}

// rss is the child's resident memory now.
func (c *benchChild) rss() int64 { return c.memory("VmRSS:") }
