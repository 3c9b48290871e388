// Package natstest gives tests a real NATS JetStream: the shared server
// on 127.0.0.1:4222 (a stream of their own on it, deleted after), or a
// nats-server process of their own on a free port that they may stop and
// start again (the shared one is never touched).
package natstest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// URL returns the URL of the shared NATS server with JetStream
// (HERALD_TEST_NATS_URL, default nats://127.0.0.1:4222). It skips the
// test, saying why, when it does not answer — unless HERALD_REQUIRE_NATS
// is set (as in CI), in which case it fails.
func URL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("HERALD_TEST_NATS_URL")
	if u == "" {
		u = "nats://127.0.0.1:4222"
	}
	nc, err := nats.Connect(u, nats.Timeout(3*time.Second), nats.NoReconnect())
	if err == nil {
		defer nc.Close()
		var js jetstream.JetStream
		if js, err = jetstream.New(nc); err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			_, err = js.AccountInfo(ctx)
			cancel()
		}
	}
	if err != nil {
		if os.Getenv("HERALD_REQUIRE_NATS") != "" {
			t.Fatalf("NATS with JetStream required (HERALD_REQUIRE_NATS is set) but %s does not answer: %v", u, err)
		}
		t.Skipf("SKIP: no NATS with JetStream at %s (%v); set HERALD_TEST_NATS_URL to run the NATS tests", u, err)
	}
	return u
}

// Conn connects to url; closed when the test ends.
func Conn(t testing.TB, url string) (*nats.Conn, jetstream.JetStream) {
	t.Helper()
	nc, err := nats.Connect(url, nats.Timeout(3*time.Second), nats.MaxReconnects(-1), nats.ReconnectWait(100*time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(nc.Close)
	js, err := jetstream.New(nc)
	if err != nil {
		t.Fatal(err)
	}
	return nc, js
}

// Stream creates a stream with a unique name on url, taking subjects
// "<name>.>", and deletes it when the test ends. It returns the name.
func Stream(t testing.TB, url string) string {
	t.Helper()
	_, js := Conn(t, url)
	name := UniqueName("HERALD_TEST")
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := js.CreateStream(ctx, jetstream.StreamConfig{Name: name, Subjects: []string{name + ".>"}, Storage: jetstream.FileStorage}); err != nil {
		t.Fatalf("create stream %s: %v", name, err)
	}
	t.Cleanup(func() {
		nc, err := nats.Connect(url, nats.Timeout(3*time.Second), nats.NoReconnect())
		if err != nil {
			return
		}
		defer nc.Close()
		js, _ := jetstream.New(nc)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		js.DeleteStream(ctx, name)
	})
	return name
}

// UniqueName returns prefix_<random hex>.
func UniqueName(prefix string) string {
	var b [6]byte
	rand.Read(b[:])
	return prefix + "_" + strings.ToUpper(hex.EncodeToString(b[:]))
}

// Server is a nats-server process of the test's own.
type Server struct {
	t    testing.TB
	Port int
	Dir  string
	URL  string
	cmd  *exec.Cmd
}

// Binary is the nats-server the tests start (HERALD_NATS_SERVER, default
// /usr/sbin/nats-server).
func Binary(t testing.TB) string {
	t.Helper()
	bin := os.Getenv("HERALD_NATS_SERVER")
	if bin == "" {
		bin = "/usr/sbin/nats-server"
	}
	if _, err := os.Stat(bin); err != nil {
		if os.Getenv("HERALD_REQUIRE_NATS") != "" {
			t.Fatalf("nats-server required (HERALD_REQUIRE_NATS is set) but %s is missing: %v", bin, err)
		}
		t.Skipf("SKIP: no nats-server at %s (%v); set HERALD_NATS_SERVER to run the broker-restart test", bin, err)
	}
	return bin
}

// StartServer starts a nats-server with JetStream on a free port of
// 127.0.0.1 and a temporary store directory; it is killed when the test
// ends.
func StartServer(t testing.TB) *Server {
	t.Helper()
	bin := Binary(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	s := &Server{t: t, Port: port, Dir: t.TempDir(), URL: fmt.Sprintf("nats://127.0.0.1:%d", port)}
	s.start(bin)
	t.Cleanup(s.Stop)
	return s
}

func (s *Server) start(bin string) {
	s.t.Helper()
	s.cmd = exec.Command(bin, "-a", "127.0.0.1", "-p", strconv.Itoa(s.Port), "-js", "-sd", s.Dir)
	if err := s.cmd.Start(); err != nil {
		s.t.Fatalf("start nats-server: %v", err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		nc, err := nats.Connect(s.URL, nats.Timeout(time.Second), nats.NoReconnect())
		if err == nil {
			js, _ := jetstream.New(nc)
			ctx, cancel := context.WithTimeout(context.Background(), time.Second)
			_, err = js.AccountInfo(ctx)
			cancel()
			nc.Close()
			if err == nil {
				return
			}
		}
		if time.Now().After(deadline) {
			s.t.Fatalf("nats-server on port %d did not come up: %v", s.Port, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// Stop kills the server (by its PID) and waits for it.
func (s *Server) Stop() {
	if s.cmd != nil && s.cmd.Process != nil {
		s.cmd.Process.Kill()
		s.cmd.Wait()
		s.cmd = nil
	}
}

// Restart starts the server again on the same port and directory.
func (s *Server) Restart() {
	s.t.Helper()
	s.Stop()
	s.start(Binary(s.t))
}
