package sourcetest

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
)

// RabbitURL returns the URL of the shared RabbitMQ (127.0.0.1:5672,
// guest/guest, or HERALD_TEST_AMQP_URL). It skips the test, saying why,
// when nothing answers — unless HERALD_REQUIRE_AMQP is set, in which case
// it fails.
func RabbitURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("HERALD_TEST_AMQP_URL")
	addr := ""
	if u == "" {
		u, addr = "amqp://guest:guest@127.0.0.1:5672/", "127.0.0.1:5672"
	}
	if addr != "" {
		c, err := net.DialTimeout("tcp", addr, 2*time.Second)
		if err != nil {
			if os.Getenv("HERALD_REQUIRE_AMQP") != "" {
				t.Fatalf("RabbitMQ required (HERALD_REQUIRE_AMQP is set) but %s does not answer: %v", addr, err)
			}
			t.Skipf("SKIP: no RabbitMQ at %s (%v); set HERALD_TEST_AMQP_URL to run the AMQP tests", addr, err)
		}
		c.Close()
	}
	return u
}

// PostgresBaseURL returns the URL of the shared PostgreSQL's test
// database (HERALD_TEST_POSTGRES_URL or 127.0.0.1:5432/test), skipping
// (or, with HERALD_REQUIRE_POSTGRES, failing) when it does not answer.
func PostgresBaseURL(t testing.TB) string {
	t.Helper()
	base := os.Getenv("HERALD_TEST_POSTGRES_URL")
	if base == "" {
		base = "postgres://postgres@127.0.0.1:5432/test?sslmode=disable"
		c, err := net.DialTimeout("tcp", "127.0.0.1:5432", 2*time.Second)
		if err != nil {
			if os.Getenv("HERALD_REQUIRE_POSTGRES") != "" {
				t.Fatalf("PostgreSQL required (HERALD_REQUIRE_POSTGRES is set) but 127.0.0.1:5432 does not answer: %v", err)
			}
			t.Skipf("SKIP: no PostgreSQL at 127.0.0.1:5432 (%v); set HERALD_TEST_POSTGRES_URL to run the outbox tests", err)
		}
		c.Close()
	}
	return base
}

// FreePort returns a TCP port on 127.0.0.1 nobody listens on now.
func FreePort(t testing.TB) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// Server is a broker or database a test started for itself, so that it
// can stop and restart it; only this process group is ever signalled.
type Server struct {
	t     testing.TB
	name  string
	Port  int
	URL   string
	start func() (*exec.Cmd, error)
	stop  func(*exec.Cmd) // nil: SIGTERM to the process group
	ready func() error    // nil: the port answers

	mu  sync.Mutex
	cmd *exec.Cmd
	out *bytes.Buffer
}

// Start (re)starts the server and waits until it answers (its port, and
// for PostgreSQL a query).
func (s *Server) Start() {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		return
	}
	cmd, err := s.start()
	if err != nil {
		s.t.Fatalf("start %s: %v", s.name, err)
	}
	s.cmd = cmd
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if c, err := net.DialTimeout("tcp", fmt.Sprintf("127.0.0.1:%d", s.Port), time.Second); err == nil {
			c.Close()
			if s.ready == nil || s.ready() == nil {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	s.stopLocked()
	s.t.Fatalf("%s did not listen on port %d within 60 s; its output:\n%s", s.name, s.Port, s.out)
}

// Stop stops the server (its own process group, by PID) and waits for
// it to exit.
func (s *Server) Stop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stopLocked()
}

func (s *Server) stopLocked() {
	if s.cmd == nil {
		return
	}
	if s.stop != nil {
		s.stop(s.cmd)
	} else {
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGTERM)
	}
	done := make(chan struct{})
	go func() { s.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		syscall.Kill(-s.cmd.Process.Pid, syscall.SIGKILL)
		<-done
	}
	s.cmd = nil
}

// StartRabbit starts a RabbitMQ node of the test's own, on a free port,
// with its data in a temporary folder (kept across Stop and Start, so a
// restart keeps durable queues and persistent messages), and stops it
// when the test ends. The node has its own name, configuration file and
// environment file, so nothing of the shared node's configuration
// (/etc/rabbitmq) applies; epmd is shared, as it is meant to be. It skips
// when rabbitmq-server is not installed (fails with HERALD_REQUIRE_AMQP).
func StartRabbit(t testing.TB) *Server {
	t.Helper()
	bin := "/usr/lib/rabbitmq/bin/rabbitmq-server"
	if _, err := os.Stat(bin); err != nil {
		p, lerr := exec.LookPath("rabbitmq-server")
		if lerr != nil {
			if os.Getenv("HERALD_REQUIRE_AMQP") != "" {
				t.Fatalf("RabbitMQ required (HERALD_REQUIRE_AMQP is set) but rabbitmq-server is not installed")
			}
			t.Skipf("SKIP: rabbitmq-server is not installed; the broker-restart test starts its own node")
		}
		bin = p
	}
	dir, err := os.MkdirTemp("", "herald-rabbit-")
	if err != nil {
		t.Fatal(err)
	}
	port := FreePort(t)
	distPort := port + 20000
	if distPort > 65535 {
		distPort = port - 20000
	}
	conf := filepath.Join(dir, "rabbitmq.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf("listeners.tcp.default = 127.0.0.1:%d\nloopback_users = none\n", port)), 0o644)
	envFile := filepath.Join(dir, "rabbitmq-env.conf")
	os.WriteFile(envFile, nil, 0o644)
	node := fmt.Sprintf("herald-test-%d@localhost", port)
	s := &Server{t: t, name: "RabbitMQ " + node, Port: port, URL: fmt.Sprintf("amqp://guest:guest@127.0.0.1:%d/", port), out: &bytes.Buffer{}}
	s.start = func() (*exec.Cmd, error) {
		cmd := exec.Command(bin)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(),
			"RABBITMQ_CONF_ENV_FILE="+envFile,
			"RABBITMQ_CONFIG_FILE="+conf,
			"RABBITMQ_NODENAME="+node,
			"RABBITMQ_NODE_PORT="+strconv.Itoa(port),
			"RABBITMQ_NODE_IP_ADDRESS=127.0.0.1",
			"RABBITMQ_DIST_PORT="+strconv.Itoa(distPort),
			"RABBITMQ_MNESIA_BASE="+filepath.Join(dir, "mnesia"),
			"RABBITMQ_LOG_BASE="+filepath.Join(dir, "log"),
			"RABBITMQ_ENABLED_PLUGINS_FILE="+filepath.Join(dir, "enabled_plugins"),
			"RABBITMQ_ENABLED_PLUGINS=",
			"RABBITMQ_PID_FILE="+filepath.Join(dir, "pid"),
			"ERL_EPMD_ADDRESS=127.0.0.1",
			"HOME="+dir, // its own Erlang cookie
		)
		cmd.Stdout, cmd.Stderr = s.out, s.out
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		return cmd, cmd.Start()
	}
	t.Cleanup(func() {
		s.Stop()
		os.RemoveAll(dir)
	})
	s.Start()
	return s
}

// StartPostgres initialises and starts a PostgreSQL cluster of the
// test's own on a free port (socket and data in a temporary folder), and
// stops it when the test ends; its data survives Stop and Start. Run as
// root, the server runs as the postgres user. It skips when initdb is not
// installed (fails with HERALD_REQUIRE_POSTGRES).
func StartPostgres(t testing.TB) *Server {
	t.Helper()
	var bindir string
	for _, v := range []string{"17", "16", "15", "14", "13"} {
		if _, err := os.Stat("/usr/lib/postgresql/" + v + "/bin/initdb"); err == nil {
			bindir = "/usr/lib/postgresql/" + v + "/bin"
			break
		}
	}
	if bindir == "" {
		if p, err := exec.LookPath("initdb"); err == nil {
			bindir = filepath.Dir(p)
		}
	}
	if bindir == "" {
		if os.Getenv("HERALD_REQUIRE_POSTGRES") != "" {
			t.Fatalf("PostgreSQL required (HERALD_REQUIRE_POSTGRES is set) but initdb is not installed")
		}
		t.Skipf("SKIP: PostgreSQL's initdb is not installed; the outage test starts its own server")
	}
	dir, err := os.MkdirTemp("", "herald-pg-")
	if err != nil {
		t.Fatal(err)
	}
	var cred *syscall.Credential
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Skipf("SKIP: running as root and there is no postgres user to run a test server as")
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		os.Chown(dir, uid, gid)
	}
	data := filepath.Join(dir, "data")
	out := &bytes.Buffer{}
	initdb := exec.Command(filepath.Join(bindir, "initdb"), "-D", data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8")
	initdb.SysProcAttr = &syscall.SysProcAttr{Credential: cred}
	initdb.Stdout, initdb.Stderr = out, out
	if err := initdb.Run(); err != nil {
		os.RemoveAll(dir)
		t.Fatalf("initdb: %v\n%s", err, out)
	}
	port := FreePort(t)
	s := &Server{t: t, name: "PostgreSQL", Port: port, URL: fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", port), out: out}
	s.start = func() (*exec.Cmd, error) {
		cmd := exec.Command(filepath.Join(bindir, "postgres"), "-D", data, "-p", strconv.Itoa(port), "-k", dir,
			"-c", "listen_addresses=127.0.0.1", "-c", "fsync=off")
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: cred}
		cmd.Stdout, cmd.Stderr = out, out
		return cmd, cmd.Start()
	}
	// SIGINT is PostgreSQL's fast shutdown (what pg_ctl stop -m fast sends).
	s.stop = func(cmd *exec.Cmd) { cmd.Process.Signal(syscall.SIGINT) }
	// The port answers before recovery ends ("the database system is
	// starting up"): ready is a query that succeeds.
	s.ready = func() error {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, s.URL)
		if err != nil {
			return err
		}
		defer conn.Close(context.Background())
		return conn.Ping(ctx)
	}
	t.Cleanup(func() {
		s.Stop()
		os.RemoveAll(dir)
	})
	s.Start()
	return s
}

// Eventually is a bounded wait for cond, polling every 50 ms.
func Eventually(ctx context.Context, timeout time.Duration, cond func() bool) bool {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if cond() {
			return true
		}
		select {
		case <-ctx.Done():
			return false
		case <-time.After(50 * time.Millisecond):
		}
	}
	return cond()
}
