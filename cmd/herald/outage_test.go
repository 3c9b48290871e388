package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/secrets"
)

// pgBin is where Debian's PostgreSQL 15 server binaries live.
const pgBin = "/usr/lib/postgresql/15/bin"

// privatePostgres is a PostgreSQL server of the test's own, on its own
// port and data directory, so the test may stop it without touching the
// shared server on 5432.
type privatePostgres struct {
	t       *testing.T
	dir     string // data directory
	port    int
	asUser  []string // runuser prefix when the tests run as root
	logFile string
}

// startPrivatePostgres initdb's and starts a server, or skips (saying so
// even without -v) when the binaries are missing — unless
// HERALD_REQUIRE_POSTGRES is set, then it fails.
func startPrivatePostgres(t *testing.T) *privatePostgres {
	t.Helper()
	for _, b := range []string{"initdb", "pg_ctl", "postgres"} {
		if _, err := os.Stat(filepath.Join(pgBin, b)); err != nil {
			if os.Getenv("HERALD_REQUIRE_POSTGRES") != "" {
				t.Fatalf("PostgreSQL required (HERALD_REQUIRE_POSTGRES is set) but %s/%s is missing: %v", pgBin, b, err)
			}
			fmt.Println("SKIP: " + t.Name() + ": no PostgreSQL 15 server binaries in " + pgBin + " (apt-get install postgresql-15)")
			t.Skip("SKIP: no PostgreSQL 15 server binaries in " + pgBin)
		}
	}
	// initdb refuses to run as root: run the server as the postgres user,
	// in a directory that user owns (t.TempDir's parents are 0700 root).
	root, err := os.MkdirTemp("", "herald-outage-pg-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(root) })
	p := &privatePostgres{t: t, dir: filepath.Join(root, "data"), logFile: filepath.Join(root, "postgres.log")}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Fatalf("running as root, PostgreSQL needs the postgres user: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chmod(root, 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Chown(root, uid, gid); err != nil {
			t.Fatal(err)
		}
		p.asUser = []string{"runuser", "-u", "postgres", "--"}
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p.port = ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	p.run("initdb", "-D", p.dir, "-U", "postgres", "-A", "trust", "--no-sync", "--no-instructions")
	p.start()
	t.Cleanup(func() { p.ctl("stop", "-m", "immediate") }) // the server this test started, by its data directory
	return p
}

func (p *privatePostgres) run(bin string, args ...string) {
	p.t.Helper()
	argv := append(append(append([]string{}, p.asUser...), filepath.Join(pgBin, bin)), args...)
	out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput()
	if err != nil {
		log, _ := os.ReadFile(p.logFile)
		p.t.Fatalf("%s %v: %v\n%s\n%s", bin, args, err, out, log)
	}
}

func (p *privatePostgres) ctl(args ...string) error {
	argv := append(append(append([]string{}, p.asUser...), filepath.Join(pgBin, "pg_ctl"), "-D", p.dir), args...)
	return exec.Command(argv[0], argv[1:]...).Run()
}

// start starts the server and waits until it accepts connections.
func (p *privatePostgres) start() {
	p.t.Helper()
	opts := fmt.Sprintf("-p %d -c listen_addresses=127.0.0.1 -c unix_socket_directories=%s", p.port, filepath.Dir(p.dir))
	p.run("pg_ctl", "-D", p.dir, "-l", p.logFile, "-o", opts, "-w", "-t", "60", "start")
}

// stop stops the server at once, as a crash or a killed VM would (no
// checkpoint, connections cut).
func (p *privatePostgres) stop() {
	p.t.Helper()
	p.run("pg_ctl", "-D", p.dir, "-m", "immediate", "-w", "stop")
}

func (p *privatePostgres) url() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable&connect_timeout=5", p.port)
}

// postEvent sends event n and returns the status, Retry-After and problem type.
func postEvent(t *testing.T, client *http.Client, baseURL, key string, n int) (int, string, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", baseURL+"/api/v1/events", strings.NewReader(fmt.Sprintf(`{"type": "member.verified", "data": {"n": %d}}`, n)))
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	res, err := client.Do(req)
	if err != nil {
		t.Fatalf("event %d: %v", n, err)
	}
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	var p struct{ Type string }
	json.Unmarshal(body, &p)
	if res.StatusCode != http.StatusAccepted && res.StatusCode != http.StatusServiceUnavailable {
		t.Fatalf("event %d: status %d %s", n, res.StatusCode, body)
	}
	return res.StatusCode, res.Header.Get("Retry-After"), p.Type
}

// metricsText returns the server's /metrics.
func metricsText(t *testing.T, client *http.Client, baseURL string) string {
	t.Helper()
	res, err := client.Get(baseURL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return "\n" + string(b)
}

func grepLines(text, sub string) string {
	var out []string
	for _, l := range strings.Split(text, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// outageStream posts events n+1, n+2, … from a few clients until stopped,
// counting answers by status and remembering the acknowledged events and
// any answer that is neither 202 nor a proper 503.
type outageStream struct {
	next   atomic.Int64
	mu     sync.Mutex
	status map[int]int
	acked  []int
	bad    []string
}

func (s *outageStream) run(ctx context.Context, client *http.Client, baseURL, key string, clients int) {
	var wg sync.WaitGroup
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				n := int(s.next.Add(1))
				req, _ := http.NewRequestWithContext(ctx, "POST", baseURL+"/api/v1/events", strings.NewReader(fmt.Sprintf(`{"type": "member.verified", "data": {"n": %d}}`, n)))
				req.Header.Set("Authorization", "Bearer "+key)
				req.Header.Set("Content-Type", "application/json")
				res, err := client.Do(req)
				if err != nil {
					if ctx.Err() == nil {
						s.note(0, n, "event "+strconv.Itoa(n)+": "+err.Error())
					}
					return
				}
				body, _ := io.ReadAll(res.Body)
				res.Body.Close()
				var p struct{ Type string }
				json.Unmarshal(body, &p)
				switch {
				case res.StatusCode == http.StatusAccepted:
					s.note(res.StatusCode, n, "")
				case res.StatusCode == http.StatusServiceUnavailable && res.Header.Get("Retry-After") == "2" && p.Type == "urn:herald:problem:unavailable":
					s.note(res.StatusCode, n, "")
					time.Sleep(5 * time.Millisecond)
				default:
					s.note(res.StatusCode, n, fmt.Sprintf("event %d: %d Retry-After %q %s", n, res.StatusCode, res.Header.Get("Retry-After"), body))
				}
			}
		}()
	}
	wg.Wait()
}

func (s *outageStream) note(status, n int, bad string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.status == nil {
		s.status = map[int]int{}
	}
	if bad != "" {
		s.bad = append(s.bad, bad)
		return
	}
	s.status[status]++
	if status == http.StatusAccepted {
		s.acked = append(s.acked, n)
	}
}

func (s *outageStream) counts() map[int]int {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := map[int]int{}
	for k, v := range s.status {
		out[k] = v
	}
	return out
}

func (s *outageStream) ackedList() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.acked...)
}

func (s *outageStream) unexpected() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string(nil), s.bad[:min(len(s.bad), 10)]...)
}

// PostgreSQL goes away under a running herald and comes back: while it is
// gone, ingest answers 503 with Retry-After (not 500), the server logs the
// outage once (not once per request), and afterwards ingest works again
// and every event that got a 202 reaches the receiver.
func TestPostgresOutage(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIP: outage test (-short)")
	}
	pg := startPrivatePostgres(t)
	keyFile := filepath.Join(t.TempDir(), "herald.key")
	if _, _, err := secrets.LoadOrCreateKeyFile(keyFile); err != nil {
		t.Fatal(err)
	}
	key, stderr, err := runHerald(t, envFunc(map[string]string{"HERALD_DB": pg.url(), "HERALD_SECRET_KEY_FILE": keyFile}), "apikey", "create", "--name", "outage")
	if err != nil {
		t.Fatalf("apikey: %v %s", err, stderr)
	}
	key = strings.TrimSpace(key)
	l := newLedger(t, 0)
	h := startChild(t, []string{"HERALD_SECRET_KEY_FILE=" + keyFile}, "--db", pg.url(), "--attempt-timeout", "1s", "--lease", "3s")
	setupHook(t, h.url, key, l.URL)
	client := &http.Client{Timeout: 15 * time.Second}

	var acked []int
	n := 0
	for ; n < 20; n++ {
		if code, _, _ := postEvent(t, client, h.url, key, n); code != http.StatusAccepted {
			t.Fatalf("event %d before the outage: %d", n, code)
		}
		acked = append(acked, n)
	}

	// Clients keep sending while PostgreSQL stops and starts again.
	var st outageStream
	st.next.Store(int64(n))
	ctx, stopStream := context.WithCancel(context.Background())
	defer stopStream()
	done := make(chan struct{})
	go func() { st.run(ctx, client, h.url, key, 4); close(done) }()
	time.Sleep(300 * time.Millisecond)

	pg.stop()
	stoppedAt := st.counts()
	time.Sleep(1500 * time.Millisecond)
	during := st.counts()
	if refused := during[http.StatusServiceUnavailable] - stoppedAt[http.StatusServiceUnavailable]; refused < 20 {
		t.Fatalf("only %d requests refused in 1.5 s while PostgreSQL was stopped (%v)", refused, during)
	}
	logs := h.stderr.String()
	if c := strings.Count(logs, `msg="database unavailable; ingest answers 503`); c != 1 {
		t.Fatalf("%d unavailable lines for %d refused requests, want 1:\n%s", c, during[http.StatusServiceUnavailable], logs)
	}
	if c := strings.Count(logs, `msg="request failed"`); c != 0 {
		t.Fatalf("%d per-request ERROR lines during the outage:\n%s", c, logs)
	}
	if m := metricsText(t, client, h.url); !strings.Contains(m, "\nherald_database_available 0\n") || !strings.Contains(m, "\nherald_database_outages_total 1\n") {
		t.Fatalf("metrics during the outage:\n%s", grepLines(m, "herald_database"))
	}
	// A load balancer probing /readyz learns of the outage without a log
	// line per probe.
	for i := 0; i < 5; i++ {
		res, err := client.Get(h.url + "/readyz")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusServiceUnavailable {
			t.Fatalf("/readyz during the outage: %d", res.StatusCode)
		}
	}
	if logs := h.stderr.String(); strings.Contains(logs, "not ready") || strings.Count(logs, `msg="database unavailable; ingest answers 503`) != 1 {
		t.Fatalf("/readyz probes logged:\n%s", logs)
	}

	pg.start()
	// The pool dials anew; ingest succeeds again (bounded: a restarted
	// server may refuse connections while it recovers from the immediate
	// stop).
	for deadline := time.Now().Add(30 * time.Second); st.counts()[http.StatusAccepted] == during[http.StatusAccepted]; {
		if time.Now().After(deadline) {
			t.Fatalf("ingest still refused 30 s after PostgreSQL restarted:\n%s", h.stderr)
		}
		time.Sleep(50 * time.Millisecond)
	}
	time.Sleep(500 * time.Millisecond)
	stopStream()
	<-done
	if bad := st.unexpected(); len(bad) > 0 {
		t.Fatalf("answers other than 202 or 503 with Retry-After: %v", bad)
	}
	acked = append(acked, st.ackedList()...)
	n = int(st.next.Load()) + 1
	for i := 0; i < 20; i, n = i+1, n+1 {
		if code, _, _ := postEvent(t, client, h.url, key, n); code != http.StatusAccepted {
			t.Fatalf("event %d after recovery: %d", n, code)
		}
		acked = append(acked, n)
	}
	waitAllDelivered(t, l, acked, 60*time.Second)
	logs = h.stderr.String()
	if c := strings.Count(logs, `msg="database available again"`); c != 1 || !strings.Contains(logs, "downtime=") {
		t.Fatalf("%d available-again lines, want 1:\n%s", c, logs)
	}
	if c := strings.Count(logs, `msg="database unavailable; ingest answers 503`); c != 1 {
		t.Fatalf("%d unavailable lines, want 1:\n%s", c, logs)
	}
	// The LISTEN connection: lost once, back once, however many redials
	// (it backs off up to 10 s, so wait for it, bounded).
	for deadline := time.Now().Add(20 * time.Second); !strings.Contains(h.stderr.String(), `msg="postgres LISTEN connection is back"`); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the LISTEN connection did not come back:\n%s", h.stderr)
		}
	}
	logs = h.stderr.String()
	if strings.Count(logs, `msg="postgres LISTEN connection lost`) != 1 || strings.Count(logs, `msg="postgres LISTEN connection is back"`) != 1 {
		t.Fatalf("LISTEN lines:\n%s", logs)
	}
	if m := metricsText(t, client, h.url); !strings.Contains(m, "\nherald_database_available 1\n") || !strings.Contains(m, "\nherald_database_outages_total 1\n") {
		t.Fatalf("metrics after the outage:\n%s", grepLines(m, "herald_database"))
	}
	t.Logf("PostgreSQL stopped and restarted under 4 clients: answers %v; %d acknowledged events all delivered; one line each for the outage and the recovery", st.counts(), len(acked))
	h.kill(t)
}
