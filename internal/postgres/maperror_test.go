package postgres

import (
	"context"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"net"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/heraldhq/herald/internal/herald"
)

// MapError is mapError, for the external tests (maperror_real_test.go).
var MapError = mapError

// Errors are classified by SQLSTATE and type; the message never matters
// (every PgError here carries the same misleading one).
func TestMapErrorByCode(t *testing.T) {
	t.Parallel()
	pg := func(code string) error {
		return fmt.Errorf("exec: %w", &pgconn.PgError{Code: code, Message: "connection refused disk full"})
	}
	cases := []struct {
		name string
		err  error
		want herald.ErrorCode
	}{
		{"unique_violation", pg("23505"), herald.EConflict},
		{"foreign_key_violation", pg("23503"), herald.EConflict},
		{"check_violation", pg("23514"), herald.EInvalid},
		{"disk_full", pg("53100"), herald.EUnavailable},
		{"out_of_memory", pg("53200"), herald.EUnavailable},
		{"too_many_connections", pg("53300"), herald.EUnavailable},
		{"connection_failure", pg("08006"), herald.EUnavailable},
		{"admin_shutdown", pg("57P01"), herald.EUnavailable},
		{"crash_shutdown", pg("57P02"), herald.EUnavailable},
		{"cannot_connect_now", pg("57P03"), herald.EUnavailable},
		{"read_only_sql_transaction", pg("25006"), herald.EUnavailable},
		{"query_canceled", pg("57014"), herald.EInternal},
		{"syntax_error", pg("42601"), herald.EInternal},
		{"bad conn", fmt.Errorf("begin: %w", driver.ErrBadConn), herald.EUnavailable},
		{"unexpected EOF", fmt.Errorf("receive: %w", io.ErrUnexpectedEOF), herald.EUnavailable},
		{"net error", &net.OpError{Op: "read", Net: "tcp", Err: errors.New("reset")}, herald.EUnavailable},
		{"caller's deadline", fmt.Errorf("query: %w", context.DeadlineExceeded), herald.EInternal},
		{"caller canceled", context.Canceled, herald.EInternal},
		{"other", errors.New("connection refused"), herald.EInternal},
	}
	for _, c := range cases {
		if got := herald.ErrorCodeOf(mapError(c.err)); got != c.want {
			t.Errorf("%s: %s, want %s", c.name, got, c.want)
		}
		if c.want == herald.EUnavailable && !errors.Is(mapError(c.err), c.err) {
			t.Errorf("%s: the cause is not kept", c.name)
		}
	}
}
