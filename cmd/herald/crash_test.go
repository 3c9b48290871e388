package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/secrets"
	"github.com/heraldhq/herald/internal/storetest"
)

// TestMain lets the test binary act as the herald program, so crash tests
// can run herald in a child process and kill it with SIGKILL.
func TestMain(m *testing.M) {
	if args := os.Getenv("HERALD_TEST_CHILD_ARGS"); args != "" {
		var a []string
		if err := json.Unmarshal([]byte(args), &a); err != nil {
			fmt.Fprintln(os.Stderr, "bad HERALD_TEST_CHILD_ARGS:", err)
			os.Exit(2)
		}
		os.Args = append([]string{"herald"}, a...)
		main()
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// child is `herald serve` in its own process.
type child struct {
	cmd    *exec.Cmd
	url    string
	stderr *bytes.Buffer
}

func startChild(t *testing.T, env []string, args ...string) *child {
	t.Helper()
	a, _ := json.Marshal(append([]string{"serve", "--addr", "127.0.0.1:0", "--allow-network", "127.0.0.0/8"}, args...))
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(append(os.Environ(), "HERALD_TEST_CHILD_ARGS="+string(a)), env...)
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	c := &child{cmd: cmd, stderr: &bytes.Buffer{}}
	cmd.Stderr = &lockedWriter{w: c.stderr}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	urlc := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "herald listening on "); ok {
				urlc <- u
			}
		}
	}()
	select {
	case c.url = <-urlc:
	case <-time.After(30 * time.Second):
		t.Fatalf("child did not start: %s", c.stderr)
	}
	return c
}

func (c *child) kill(t *testing.T) {
	t.Helper()
	if err := c.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	c.cmd.Wait()
}

// ledger is a receiver that counts every delivery it gets, by event and by
// webhook-id, and notices two attempts of one delivery at the same time.
type ledger struct {
	*httptest.Server
	mu         sync.Mutex
	byEvent    map[int]int    // event number → receipts
	byDelivery map[string]int // webhook-id → receipts
	inFlight   map[string]bool
	overlaps   int
	total      int
}

func newLedger(t *testing.T, delay time.Duration) *ledger {
	l := &ledger{byEvent: map[int]int{}, byDelivery: map[string]int{}, inFlight: map[string]bool{}}
	l.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct{ N int }
		json.NewDecoder(r.Body).Decode(&body)
		id := r.Header.Get("webhook-id")
		l.mu.Lock()
		if l.inFlight[id] {
			l.overlaps++
		}
		l.inFlight[id] = true
		l.mu.Unlock()
		time.Sleep(delay)
		l.mu.Lock()
		delete(l.inFlight, id)
		l.byEvent[body.N]++
		l.byDelivery[id]++
		l.total++
		l.mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	t.Cleanup(l.Close)
	return l
}

// missing returns the acknowledged events the ledger has not seen.
func (l *ledger) missing(acked []int) []int {
	l.mu.Lock()
	defer l.mu.Unlock()
	var out []int
	for _, n := range acked {
		if l.byEvent[n] == 0 {
			out = append(out, n)
		}
	}
	return out
}

func (l *ledger) duplicates() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.total - len(l.byDelivery)
}

// streamer posts events 1, 2, 3… with a few concurrent clients until
// stopped or the server dies, and remembers which got a 202.
type streamer struct {
	mu    sync.Mutex
	acked []int
	next  int
}

func (s *streamer) run(ctx context.Context, urls []string, key string, clients int) {
	var wg sync.WaitGroup
	client := &http.Client{Timeout: 5 * time.Second}
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for ctx.Err() == nil {
				s.mu.Lock()
				s.next++
				n := s.next
				s.mu.Unlock()
				body := fmt.Sprintf(`{"type": "member.verified", "data": {"n": %d}}`, n)
				req, _ := http.NewRequestWithContext(ctx, "POST", urls[n%len(urls)]+"/api/v1/events", strings.NewReader(body))
				req.Header.Set("Authorization", "Bearer "+key)
				req.Header.Set("Content-Type", "application/json")
				res, err := client.Do(req)
				if err != nil {
					time.Sleep(10 * time.Millisecond) // the server is down; keep trying until stopped
					continue
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode == http.StatusAccepted {
					s.mu.Lock()
					s.acked = append(s.acked, n)
					s.mu.Unlock()
				}
			}
		}(c)
	}
	wg.Wait()
}

func (s *streamer) ackedList() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]int(nil), s.acked...)
}

func setupHook(t *testing.T, baseURL, key, receiver string) {
	t.Helper()
	code, wh := call(t, "POST", baseURL+"/api/v1/webhooks", key, map[string]any{"name": "ledger", "event": "member.verified",
		"endpoint_url": receiver, "method": "POST", "payload_type": "JSON", "payload": `{"n": {{ n }}}`})
	if code != 201 {
		t.Fatalf("create webhook: %d %v", code, wh)
	}
	if code, _ := call(t, "POST", baseURL+"/api/v1/webhooks/"+wh["id"].(string)+"/publish", key, nil); code != 200 {
		t.Fatalf("publish: %d", code)
	}
}

// waitAllDelivered waits until every acknowledged event reached the ledger.
func waitAllDelivered(t *testing.T, l *ledger, acked []int, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		missing := l.missing(acked)
		if len(missing) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("LOST: %d of %d acknowledged events never reached the receiver (e.g. %v)", len(missing), len(acked), missing[:min(10, len(missing))])
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// crashTest streams events into a herald child, kills it with SIGKILL in
// the middle, restarts it and checks every acknowledged event arrives.
func crashTest(t *testing.T, db string, env []string) {
	vars := map[string]string{"HERALD_DB": db}
	for _, kv := range env {
		k, v, _ := strings.Cut(kv, "=")
		vars[k] = v
	}
	key, stderr, err := runHerald(t, envFunc(vars), "apikey", "create", "--name", "crash")
	if err != nil {
		t.Fatalf("apikey: %v %s", err, stderr)
	}
	key = strings.TrimSpace(key)
	flags := []string{"--db", db, "--attempt-timeout", "1s", "--lease", "3s"}
	l := newLedger(t, 2*time.Millisecond)
	first := startChild(t, env, flags...)
	setupHook(t, first.url, key, l.URL)

	var s streamer
	ctx, stop := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.run(ctx, []string{first.url}, key, 8); close(done) }()
	time.Sleep(1500 * time.Millisecond)
	before := len(s.ackedList())
	first.kill(t) // events are in flight, deliveries too
	time.Sleep(200 * time.Millisecond)
	stop()
	<-done
	acked := s.ackedList()
	t.Logf("killed the child with SIGKILL after %d acknowledged events (%d when the kill was sent)", len(acked), before)
	if len(acked) < 50 {
		t.Fatalf("only %d events acknowledged before the kill; the test did not exercise anything", len(acked))
	}
	second := startChild(t, env, flags...)
	waitAllDelivered(t, l, acked, 60*time.Second)
	t.Logf("after restart: lost 0 of %d acknowledged events; %d duplicate receipts (same webhook-id twice, the at-least-once cost of the kill)", len(acked), l.duplicates())
	second.kill(t)
}

func envFunc(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

func TestCrashLosesNothingSQLite(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIP: crash test (-short)")
	}
	crashTest(t, filepath.Join(t.TempDir(), "herald.db"), nil)
}

func TestCrashLosesNothingPostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIP: crash test (-short)")
	}
	url := storetest.PostgresURL(t)
	keyFile := filepath.Join(t.TempDir(), "herald.key")
	if _, _, err := secrets.LoadOrCreateKeyFile(keyFile); err != nil {
		t.Fatal(err)
	}
	crashTest(t, url, []string{"HERALD_SECRET_KEY_FILE=" + keyFile})
}

// Two herald processes on one PostgreSQL deliver one stream: nothing lost,
// no delivery attempted by both at once.
func TestTwoProcessesShareOnePostgres(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIP: multi-process test (-short)")
	}
	url := storetest.PostgresURL(t)
	keyFile := filepath.Join(t.TempDir(), "herald.key")
	if _, _, err := secrets.LoadOrCreateKeyFile(keyFile); err != nil {
		t.Fatal(err)
	}
	env := []string{"HERALD_SECRET_KEY_FILE=" + keyFile}
	key, _, err := runHerald(t, envFunc(map[string]string{"HERALD_DB": url, "HERALD_SECRET_KEY_FILE": keyFile}), "apikey", "create", "--name", "two")
	if err != nil {
		t.Fatal(err)
	}
	key = strings.TrimSpace(key)
	l := newLedger(t, 3*time.Millisecond)
	flags := []string{"--db", url}
	a := startChild(t, env, flags...)
	b := startChild(t, env, flags...)
	setupHook(t, a.url, key, l.URL)
	var s streamer
	ctx, stop := context.WithTimeout(context.Background(), 2*time.Second)
	defer stop()
	s.run(ctx, []string{a.url, b.url}, key, 8)
	acked := s.ackedList()
	waitAllDelivered(t, l, acked, 60*time.Second)
	if l.overlaps != 0 {
		t.Fatalf("%d deliveries were attempted by both processes at once", l.overlaps)
	}
	if d := l.duplicates(); d != 0 {
		t.Fatalf("%d duplicate deliveries without any crash", d)
	}
	t.Logf("two processes delivered %d events: lost 0, duplicates 0, overlapping attempts 0", len(acked))
}
