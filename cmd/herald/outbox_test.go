package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/heraldhq/herald/internal/storetest"
)

// TestOutboxSchema runs `herald outbox schema`, applies what it prints
// to a real PostgreSQL (twice: it can be re-run), and makes the INSERT
// its comment shows.
func TestOutboxSchema(t *testing.T) {
	url := storetest.PostgresURL(t)
	var out, errOut bytes.Buffer
	if err := run(context.Background(), []string{"outbox", "schema", "--table", "app_outbox"}, func(string) string { return "" }, nil, &out, &errOut); err != nil {
		t.Fatalf("herald outbox schema: %v\n%s", err, errOut.String())
	}
	ddl := out.String()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	for i := 0; i < 2; i++ {
		if _, err := conn.Exec(context.Background(), ddl); err != nil {
			t.Fatalf("applying the printed DDL (time %d): %v\n%s", i+1, err, ddl)
		}
	}
	// The INSERT of the comment, uncommented.
	var insert []string
	in := false
	for _, line := range strings.Split(ddl, "\n") {
		l := strings.TrimSpace(strings.TrimPrefix(line, "--"))
		if strings.HasPrefix(l, "INSERT INTO") {
			in = true
		}
		if in {
			insert = append(insert, l)
			if strings.HasSuffix(l, ";") {
				break
			}
		}
	}
	if len(insert) == 0 {
		t.Fatalf("the output shows no INSERT:\n%s", ddl)
	}
	if _, err := conn.Exec(context.Background(), strings.Join(insert, " ")); err != nil {
		t.Fatalf("the INSERT shown fails: %v\n%s", err, strings.Join(insert, "\n"))
	}
	var typ, payload string
	if err := conn.QueryRow(context.Background(), `SELECT event_type, payload::text FROM app_outbox`).Scan(&typ, &payload); err != nil || typ != "member.verified" {
		t.Fatalf("row = %q %q, %v", typ, payload, err)
	}

	// The default table, and a name that is no identifier.
	out.Reset()
	if err := run(context.Background(), []string{"outbox", "schema"}, func(string) string { return "" }, nil, &out, &errOut); err != nil || !strings.Contains(out.String(), `CREATE TABLE IF NOT EXISTS "herald_outbox"`) {
		t.Fatalf("default table: %v\n%s", err, out.String())
	}
	err = run(context.Background(), []string{"outbox", "schema", "--table", `x; DROP TABLE y`}, func(string) string { return "" }, nil, &out, &errOut)
	if exitCode(err) != 2 || !strings.Contains(err.Error(), "--table") {
		t.Fatalf("a bad table name: %v (exit %d); want a usage error naming --table", err, exitCode(err))
	}
	if err := run(context.Background(), []string{"outbox"}, func(string) string { return "" }, nil, &out, &errOut); exitCode(err) != 2 {
		t.Fatalf("herald outbox without a subcommand: %v; want a usage error", err)
	}
	out.Reset()
	if err := run(context.Background(), []string{"outbox", "--help"}, func(string) string { return "" }, nil, &out, &errOut); err != nil || !strings.Contains(out.String(), "herald outbox schema") {
		t.Fatalf("herald outbox --help: %v %q", err, out.String())
	}
	errOut.Reset()
	if err := run(context.Background(), []string{"outbox", "schema", "--help"}, func(string) string { return "" }, nil, &out, &errOut); err != nil || !strings.Contains(errOut.String(), "-table") {
		t.Fatalf("herald outbox schema --help: %v %q", err, errOut.String())
	}
}
