package main

import (
	"context"
	"fmt"
	"io"
	"net/url"
)

func parseURL(s string) (*url.URL, error) { return url.Parse(s) }

// runMigrate applies pending migrations (opening the store does) and exits.
func runMigrate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var sf storeFlags
	fs := newFlagSet("migrate", stderr)
	sf.register(fs)
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	log, _ := newLogger(stderr, "text", "info")
	store, err := sf.open(ctx, log)
	if err != nil {
		return err
	}
	defer store.Close()
	fmt.Fprintf(stdout, "database %s is up to date\n", redactDB(sf.db))
	return nil
}
