package main

import (
	"context"
	"fmt"
	"io"

	"github.com/heraldhq/herald/internal/outbox"
)

const outboxUsage = `Usage:
  herald outbox schema [--table herald_outbox]
      Print the DDL of the outbox table herald reads (a postgres_outbox
      source): the table, an optional trigger that wakes herald at once,
      and the INSERT a platform makes in its own transaction. Create it in
      the platform's PostgreSQL database, e.g.:
        herald outbox schema | psql "$PLATFORM_DATABASE_URL"
`

// runOutbox runs "herald outbox SUBCOMMAND".
func runOutbox(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	switch {
	case len(args) > 0 && isHelp(args[0]):
		fmt.Fprint(stdout, outboxUsage)
		return nil
	case len(args) == 0 || args[0] != "schema":
		fmt.Fprint(stderr, outboxUsage)
		return usageError{"herald outbox: give a subcommand: herald outbox schema [--table NAME]"}
	}
	var table string
	fs := newFlagSet("outbox schema", stderr)
	fs.StringVar(&table, "table", outbox.DefaultTable, "the outbox table's name (schema.table allowed), as the source's outbox.table")
	if err := parseFlags(fs, args[1:], getenv); err != nil {
		return err
	}
	ddl, err := outbox.Schema(table)
	if err != nil {
		return usageError{"herald outbox schema: --table: " + err.Error()}
	}
	_, err = io.WriteString(stdout, ddl)
	return err
}
