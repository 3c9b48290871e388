package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"

	"github.com/heraldhq/herald/internal/herald"
)

// runAPIKeyCreate creates an API key and prints it once on stdout; only
// its hash is stored.
func runAPIKeyCreate(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var sf storeFlags
	var name, workspace, scopes string
	var instance bool
	fs := newFlagSet("apikey create", stderr)
	fs.BoolVar(&instance, "instance", false, "an instance key: bound to no workspace, it manages workspaces, their members and keys (/api/v1/workspaces)")
	fs.StringVar(&name, "name", "", "a label for the key (required), e.g. the script or service using it")
	fs.StringVar(&workspace, "workspace", herald.DefaultWorkspace, "workspace the key acts in (created if missing)")
	fs.StringVar(&scopes, "scopes", "admin", "comma-separated scopes: admin, read, ingest")
	sf.register(fs)
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	name = strings.TrimSpace(name)
	if name == "" {
		return usageError{"herald apikey create: --name is required"}
	}
	if instance {
		set := map[string]bool{}
		fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
		if set["workspace"] || set["scopes"] {
			return usageError{"herald apikey create: --instance keys have no --workspace and no --scopes (their scope is instance)"}
		}
		return createInstanceKey(ctx, sf, name, stdout, stderr)
	}
	sc, err := herald.ParseScopes(scopes)
	if err != nil {
		return usageError{"herald apikey create: --scopes: " + err.Error()}
	}
	log, _ := newLogger(stderr, "text", "info")
	store, err := sf.open(ctx, log)
	if err != nil {
		return err
	}
	defer store.Close()
	ws, err := store.EnsureWorkspace(ctx, workspace)
	if err != nil {
		return fmt.Errorf("workspace %s: %w", workspace, err)
	}
	svc := herald.NewService(store, nil)
	svc.Audit = store
	key, _, err := svc.CreateAPIKey(cliActor(ctx), ws.ID, name, sc)
	var e *herald.Error
	if errors.As(err, &e) && e.Code == herald.EInvalid {
		return usageError{"herald apikey create: " + shown(e)}
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, key)
	fmt.Fprintf(stderr, "API key %q for workspace %q created; it is shown only this once.\n", name, workspace)
	return nil
}

// createInstanceKey prints a new instance key, once.
func createInstanceKey(ctx context.Context, sf storeFlags, name string, stdout, stderr io.Writer) error {
	log, _ := newLogger(stderr, "text", "info")
	store, err := sf.open(ctx, log)
	if err != nil {
		return err
	}
	defer store.Close()
	svc := herald.NewService(store, nil)
	svc.Audit = store
	key, _, err := svc.CreateInstanceKey(cliActor(ctx), name)
	var e *herald.Error
	if errors.As(err, &e) && e.Code == herald.EInvalid {
		return usageError{"herald apikey create: " + shown(e)}
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, key)
	fmt.Fprintf(stderr, "instance key %q created (it manages every workspace through /api/v1/workspaces); it is shown only this once.\n", name)
	return nil
}
