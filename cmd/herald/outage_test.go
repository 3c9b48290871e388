package main

import (
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

	pg.stop()
	refused := 0
	for deadline := time.Now().Add(10 * time.Second); refused < 30 && time.Now().Before(deadline); n++ {
		code, retryAfter, typ := postEvent(t, client, h.url, key, n)
		if code == http.StatusAccepted {
			t.Fatalf("event %d accepted while PostgreSQL is stopped", n)
		}
		if retryAfter != "2" || typ != "urn:herald:problem:unavailable" {
			t.Fatalf("event %d: 503 with Retry-After %q, type %q", n, retryAfter, typ)
		}
		refused++
		time.Sleep(20 * time.Millisecond)
	}
	if refused < 30 {
		t.Fatalf("only %d requests answered within 10 s while PostgreSQL was stopped", refused)
	}
	logs := h.stderr.String()
	if c := strings.Count(logs, `msg="database unavailable; ingest answers 503`); c != 1 {
		t.Fatalf("%d unavailable lines for %d refused requests, want 1:\n%s", c, refused, logs)
	}
	if c := strings.Count(logs, `msg="request failed"`); c != 0 {
		t.Fatalf("%d per-request ERROR lines during the outage:\n%s", c, logs)
	}

	pg.start()
	// The pool dials anew; the first ingest after the restart succeeds
	// (bounded: a restarted server may refuse connections while it
	// recovers from the immediate stop).
	back := false
	for deadline := time.Now().Add(30 * time.Second); !back && time.Now().Before(deadline); n++ {
		code, _, _ := postEvent(t, client, h.url, key, n)
		if back = code == http.StatusAccepted; back {
			acked = append(acked, n)
		} else {
			time.Sleep(200 * time.Millisecond)
		}
	}
	if !back {
		t.Fatalf("ingest still refused 30 s after PostgreSQL restarted:\n%s", h.stderr)
	}
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
	t.Logf("PostgreSQL stopped and restarted: %d requests refused with 503, %d acknowledged events all delivered; one line each for the outage and the recovery", refused, len(acked))
	h.kill(t)
}
