package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"strings"
	"time"

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

// runUserInvite invites an email to a workspace with a role and prints
// the one-time invitation link (valid herald.InviteTTL).
func runUserInvite(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var sf storeFlags
	var email, workspace, role, publicURL, addr string
	fs := newFlagSet("user invite", stderr)
	fs.StringVar(&email, "email", "", "the address to invite (required)")
	fs.StringVar(&workspace, "workspace", herald.DefaultWorkspace, "the workspace to join (must exist)")
	fs.StringVar(&role, "role", string(herald.RoleViewer), "owner, admin or viewer")
	fs.StringVar(&publicURL, "public-url", "", "herald's public URL, where the link points (default http://<addr>)")
	fs.StringVar(&addr, "addr", "127.0.0.1:8080", "the address serve listens on, for the link when --public-url is not set")
	sf.register(fs)
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	if strings.TrimSpace(email) == "" {
		return usageError{"herald user invite: --email is required"}
	}
	r, err := herald.ParseRole(role)
	if err != nil {
		return usageError{"herald user invite: --role: " + shown(err.(*herald.Error))}
	}
	base := strings.TrimRight(publicURL, "/")
	if base == "" {
		base = "http://" + addr
	} else if u, err := url.Parse(base); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return usageError{"herald user invite: --public-url must be an http or https URL, e.g. https://herald.example.com"}
	}
	log, _ := newLogger(stderr, "text", "info")
	store, err := sf.open(ctx, log)
	if err != nil {
		return err
	}
	defer store.Close()
	ws, err := store.WorkspaceByName(ctx, workspace)
	if herald.ErrorCodeOf(err) == herald.ENotFound {
		return usageError{fmt.Sprintf("herald user invite: there is no workspace %q", workspace)}
	}
	if err != nil {
		return fmt.Errorf("workspace %s: %w", workspace, err)
	}
	svc := herald.NewService(store, nil)
	svc.Audit = store
	m, token, err := svc.InviteMember(cliActor(ctx), ws.ID, email, r)
	var e *herald.Error
	if errors.As(err, &e) && (e.Code == herald.EInvalid || e.Code == herald.EConflict) {
		return usageError{"herald user invite: " + shown(e)}
	}
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, herald.InviteURL(base, token))
	fmt.Fprintf(stderr, "%s invited to workspace %q as %s; the link works once, until %s.\n", m.Email, workspace, m.Role, m.InviteExpiresAt.Format(time.RFC3339))
	return nil
}
