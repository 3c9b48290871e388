package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/web"
)

// runUserCreate creates an admin user of the web UI. The password is read
// from stdin (its first line), never from a flag, so it stays out of shell
// history and process lists: `herald user create --email a@b.c < pw.txt`.
func runUserCreate(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	var sf storeFlags
	var email, workspace string
	fs := newFlagSet("user create", stderr)
	fs.StringVar(&email, "email", "", "the admin's email, used to sign in (required)")
	fs.StringVar(&workspace, "workspace", herald.DefaultWorkspace, "workspace the admin manages (created if missing)")
	sf.register(fs)
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	email = herald.NormalizeEmail(email)
	if email == "" {
		return usageError{"herald user create: --email is required (the password is read from stdin)"}
	}
	fmt.Fprintf(stderr, "Password for %s (read from stdin, at least %d characters): ", email, herald.MinPasswordLength)
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("read password from stdin: %w", err)
	}
	fmt.Fprintln(stderr)
	password := strings.TrimRight(line, "\r\n")
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
	u, err := web.CreateUser(ctx, store, ws.ID, email, password, 0)
	if err != nil {
		var e *herald.Error
		if errors.As(err, &e) && e.Code == herald.EInvalid {
			return usageError{"herald user create: " + shown(e)}
		}
		return err
	}
	svc := herald.NewService(store, nil)
	svc.Audit = store
	svc.RecordAudit(cliActor(ctx), ws.ID, "user.create", "user", u.ID, email)
	fmt.Fprintf(stdout, "admin %s created in workspace %q; sign in at /login\n", email, workspace)
	return nil
}

// shown is what a user reads of an error: its message and fields, never
// the wrapped driver text.
func shown(e *herald.Error) string {
	parts := make([]string, 0, len(e.Fields))
	for _, f := range e.Fields {
		parts = append(parts, f.Field+" "+f.Message)
	}
	if len(parts) == 0 {
		return e.Message
	}
	return strings.Join(parts, "; ")
}
