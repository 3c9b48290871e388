package postgres_test

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/postgres"
	"github.com/heraldhq/herald/internal/sqlstore"
	"github.com/heraldhq/herald/internal/storetest"
)

// Real errors from a real driver: a port nobody listens on, and a server
// that ends our own session (pg_terminate_backend of this connection —
// SQLSTATE 57P01, what a shutdown sends).
func TestMapErrorOfRealFailures(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	_, err = pgx.Connect(ctx, fmt.Sprintf("postgres://postgres@127.0.0.1:%d/test?sslmode=disable&connect_timeout=2", port))
	if err == nil || herald.ErrorCodeOf(postgres.MapError(err)) != herald.EUnavailable {
		t.Fatalf("connect to a closed port: %v → %v", err, postgres.MapError(err))
	}

	conn, err := pgx.Connect(ctx, storetest.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	_, err = conn.Exec(ctx, `SELECT pg_terminate_backend(pg_backend_pid())`)
	if err == nil {
		t.Fatal("terminating our own session did not fail")
	}
	if got := postgres.MapError(err); herald.ErrorCodeOf(got) != herald.EUnavailable {
		t.Fatalf("terminated session: %v (%T) → %v", err, err, got)
	}
	// pgx has closed the connection now; using it again fails before
	// anything is sent ("conn closed"), which is what a transaction whose
	// connection died sees through database/sql.
	_, err = conn.Exec(ctx, `SELECT 1`)
	if got := postgres.MapError(err); err == nil || herald.ErrorCodeOf(got) != herald.EUnavailable {
		t.Fatalf("use after termination: %v (%T) → %v", err, err, got)
	}
}

// The server's notices and warnings reach the logger herald was given,
// not stderr and not nowhere: warnings as warnings, notices at debug.
func TestNoticesGoThroughTheLogger(t *testing.T) {
	var buf syncBuffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))
	s := storetest.OpenPostgresURL(t, storetest.PostgresURL(t), sqlstore.WithLogger(log))
	if _, err := s.DB().Exec(`DO $$ BEGIN RAISE WARNING 'herald test warning' USING HINT = 'a hint'; RAISE NOTICE 'herald test notice'; END $$`); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if !strings.Contains(out, `level=WARN msg="postgres warning" code=01000 message="herald test warning"`) || !strings.Contains(out, `hint="a hint"`) ||
		!strings.Contains(out, `level=DEBUG msg="postgres notice" code=00000 message="herald test notice"`) {
		t.Fatalf("log:\n%s", out)
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
