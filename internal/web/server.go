// Package web is herald's admin UI: server-rendered pages at / for
// signing in, Settings > Webhooks (the Webhooks and Authorizations tabs),
// each webhook's detail and Logs pages, API keys, the audit log and
// Settings > Workspace.
//
// Every page works without JavaScript: forms POST, and a POST that
// succeeds redirects (POST/redirect/GET) while one that fails re-renders
// the form with each message next to its field. static/app.js only
// enhances (live preview, header rows). Templates and static files are
// embedded and parsed once, in New.
//
// The UI changes configuration only through herald.Service — the same
// methods the REST API calls — so the two cannot drift.
package web

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"embed"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"path"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/heraldhq/herald/internal/herald"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// Config holds the UI's settings; zero values take the defaults.
type Config struct {
	// SessionTTL is how long a sign-in lasts (default 12 h).
	SessionTTL time.Duration
	// SetupToken, when set and no user exists yet, lets /setup?token=…
	// create the first admin (serve prints the link once).
	SetupToken string
	// SetupWorkspace is the workspace the first admin acts in (default
	// "default").
	SetupWorkspace string
	// BcryptCost is the cost of new password hashes (default bcrypt's).
	BcryptCost int
	// MaxFormBytes bounds every request body (default 1 MiB).
	MaxFormBytes int64
	// UserAgent is shown in the request preview (default "herald").
	UserAgent string
	// Retention is the server's --retention, shown on Settings › Workspace
	// as the default a workspace may override (0: the delivery engine's
	// default, 30 days; negative: attempts are kept forever).
	Retention time.Duration
	// LogBodyBytes and LogSuccessBodyBytes are the delivery engine's caps
	// on the bodies an attempt keeps, shown on the webhook form as the
	// default of log_body_bytes (0: the engine's defaults, 4 KiB and
	// 1 KiB; negative: none kept), as delivery.Config reads them.
	LogBodyBytes        int
	LogSuccessBodyBytes int
	// PublicURL is where invitation links point; if empty, the scheme
	// and Host of the request.
	PublicURL string
}

// Deps are what the UI works with. All are required but Log (nil
// discards): serve always provides them, so no handler checks for nil.
type Deps struct {
	Service *herald.Service
	Users   herald.UserStore
	// Deliveries reads attempts for the Logs tab.
	Deliveries herald.DeliveryReader
	// Control sends test events and retries or resends deliveries.
	Control herald.DeliveryControl
	// Previewer renders payload templates for the live preview.
	Previewer herald.Previewer
	// Events lists herald's own alerts for the Webhooks tab.
	Events herald.EventLister
	// Endpoints reports endpoints' circuit breakers (the delivery
	// engine), so the Webhooks tab and a webhook's pages can say when
	// deliveries to its endpoint wait.
	Endpoints herald.EndpointMonitor
	// Secrets rotates signing secrets.
	Secrets SecretRotator
	Log     *slog.Logger
}

// check names the first dependency missing.
func (d Deps) check() error {
	for _, dep := range []struct {
		name    string
		missing bool
	}{
		{"Service", d.Service == nil}, {"Users", d.Users == nil}, {"Deliveries", d.Deliveries == nil},
		{"Control", d.Control == nil}, {"Previewer", d.Previewer == nil}, {"Events", d.Events == nil},
		{"Endpoints", d.Endpoints == nil}, {"Secrets", d.Secrets == nil},
	} {
		if dep.missing {
			return errors.New("web: Deps." + dep.name + " is required")
		}
	}
	return nil
}

// SecretRotator replaces a webhook's signing secret (the old one stays
// valid for an overlap period, as the implementation documents).
type SecretRotator interface {
	RotateSigningSecret(ctx context.Context, workspaceID, webhookID string) (*herald.Webhook, error)
}

// RotateFunc adapts a function (such as the delivery engine's
// RotateSecret) to SecretRotator.
type RotateFunc func(ctx context.Context, workspaceID, webhookID string) (*herald.Webhook, error)

// RotateSigningSecret calls f.
func (f RotateFunc) RotateSigningSecret(ctx context.Context, workspaceID, webhookID string) (*herald.Webhook, error) {
	return f(ctx, workspaceID, webhookID)
}

// Server serves the admin UI.
type Server struct {
	cfg     Config
	svc     *herald.Service
	store   herald.Store
	users   herald.UserStore
	reader  herald.DeliveryReader
	control herald.DeliveryControl
	preview herald.Previewer
	events  herald.EventLister
	health  herald.EndpointMonitor
	rotator SecretRotator
	log     *slog.Logger
	pages   map[string]*template.Template
	static  http.Handler
	handler http.Handler
	now     func() time.Time

	setupMu   sync.Mutex
	setupHash []byte // SHA-256 of the setup token; nil once used or when none

	throttle signInThrottle

	// uiRoutes lists every signed-in route with the action it needs
	// (for the tests that go over all of them).
	uiRoutes []uiRoute
}

// uiRoute is one signed-in route of the UI and what it needs.
type uiRoute struct {
	Pattern string
	Action  herald.Action
}

// New parses the templates and returns the UI.
func New(cfg Config, deps Deps) (*Server, error) {
	if err := deps.check(); err != nil {
		return nil, err
	}
	if cfg.SessionTTL <= 0 {
		cfg.SessionTTL = 12 * time.Hour
	}
	if cfg.SetupWorkspace == "" {
		cfg.SetupWorkspace = herald.DefaultWorkspace
	}
	if cfg.BcryptCost == 0 {
		cfg.BcryptCost = bcrypt.DefaultCost
	}
	if cfg.MaxFormBytes <= 0 {
		cfg.MaxFormBytes = 1 << 20
	}
	if cfg.UserAgent == "" {
		cfg.UserAgent = "herald"
	}
	// The same defaults as delivery.Config's, so the pages name the caps
	// the engine applies.
	if cfg.Retention == 0 {
		cfg.Retention = 30 * 24 * time.Hour
	}
	cfg.LogBodyBytes = bodyCap(cfg.LogBodyBytes, 4<<10)
	cfg.LogSuccessBodyBytes = bodyCap(cfg.LogSuccessBodyBytes, 1<<10)
	if deps.Log == nil {
		deps.Log = slog.New(slog.DiscardHandler)
	}
	s := &Server{cfg: cfg, svc: deps.Service, store: deps.Service.Store, users: deps.Users, reader: deps.Deliveries,
		control: deps.Control, preview: deps.Previewer, events: deps.Events, health: deps.Endpoints, rotator: deps.Secrets, log: deps.Log, now: time.Now}
	if cfg.SetupToken != "" {
		h := sha256.Sum256([]byte(cfg.SetupToken))
		s.setupHash = h[:]
	}
	var err error
	if s.pages, err = parsePages(); err != nil {
		return nil, err
	}
	sub, err := fs.Sub(staticFiles, "static")
	if err != nil {
		return nil, err
	}
	s.static = http.StripPrefix("/static/", http.FileServerFS(sub))
	s.handler = s.routes()
	return s, nil
}

// bodyCap reads a body cap as delivery.Config does: 0 is the default,
// negative keeps none.
func bodyCap(n, def int) int {
	switch {
	case n == 0:
		return def
	case n < 0:
		return 0
	}
	return n
}

// ServeHTTP serves the UI.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) { s.handler.ServeHTTP(w, r) }

// NewSetupToken returns a random token for the first-admin link.
func NewSetupToken() string {
	var b [24]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("web: crypto/rand failed: " + err.Error())
	}
	return hex.EncodeToString(b[:])
}

// validSetupToken reports whether token is the (unused) setup token.
func (s *Server) validSetupToken(token string) bool {
	s.setupMu.Lock()
	defer s.setupMu.Unlock()
	if s.setupHash == nil || token == "" {
		return false
	}
	h := sha256.Sum256([]byte(token))
	return subtle.ConstantTimeCompare(h[:], s.setupHash) == 1
}

// useSetupToken invalidates the setup token; it reports whether it was
// still valid, so two concurrent setups cannot both succeed.
func (s *Server) useSetupToken(token string) bool {
	if !s.validSetupToken(token) {
		return false
	}
	s.setupMu.Lock()
	defer s.setupMu.Unlock()
	if s.setupHash == nil {
		return false
	}
	s.setupHash = nil
	return true
}

// HashPassword returns the bcrypt hash of password at cost (0: default).
func HashPassword(password string, cost int) (string, error) {
	if cost == 0 {
		cost = bcrypt.DefaultCost
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		return "", fmt.Errorf("hash password: %w", err)
	}
	return string(h), nil
}

// CreateUser validates email and password, hashes the password and stores
// a new user who owns workspaceID (a membership with role owner). The
// first user of the installation is its instance owner. An email already
// in use is an EInvalid error on the "email" field, so forms can show it
// next to the field.
func CreateUser(ctx context.Context, users herald.UserStore, workspaceID, email, password string, cost int) (*herald.User, error) {
	n, err := users.CountUsers(ctx)
	if err != nil {
		return nil, err
	}
	u, err := newUser(ctx, users, workspaceID, email, password, cost, n == 0)
	if err != nil {
		return nil, err
	}
	if t, ok := users.(herald.TenantStore); ok {
		at := u.CreatedAt
		m := &herald.Member{ID: herald.NewID(), WorkspaceID: workspaceID, UserID: u.ID, Email: u.Email, Role: herald.RoleOwner,
			Status: herald.MemberActive, CreatedAt: at, AcceptedAt: &at}
		if err := t.CreateMember(ctx, m); err != nil {
			return nil, fmt.Errorf("make %s owner: %w", u.Email, err)
		}
	}
	return u, nil
}

// newUser validates, hashes and stores a user (no membership).
func newUser(ctx context.Context, users herald.UserStore, workspaceID, email, password string, cost int, instanceOwner bool) (*herald.User, error) {
	email = herald.NormalizeEmail(email)
	if err := herald.ValidateNewUser(email, password); err != nil {
		return nil, err
	}
	hash, err := HashPassword(password, cost)
	if err != nil {
		return nil, err
	}
	u := &herald.User{ID: herald.NewID(), WorkspaceID: workspaceID, Email: email, PasswordHash: hash, InstanceOwner: instanceOwner,
		CreatedAt: time.Now().UTC().Truncate(time.Microsecond)}
	if err := users.CreateUser(ctx, u); err != nil {
		if herald.ErrorCodeOf(err) == herald.EConflict {
			return nil, &herald.Error{Code: herald.EInvalid, Message: "validation failed",
				Fields: []herald.FieldError{{Field: "email", Message: "is already used by another admin"}}, Err: err}
		}
		return nil, err
	}
	return u, nil
}

// dummyHash is compared against when an email is unknown, so a sign-in
// takes as long whether or not the account exists.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("herald dummy password"), bcrypt.DefaultCost)

func checkPassword(hash, password string) bool {
	if hash == "" {
		bcrypt.CompareHashAndPassword(dummyHash, []byte(password))
		return false
	}
	return bcrypt.CompareHashAndPassword([]byte(hash), []byte(password)) == nil
}

// parsePages parses layout.html and partials.html once, then each page
// file on a clone of them, so every page defines its own "content".
func parsePages() (map[string]*template.Template, error) {
	base, err := template.New("base").Funcs(funcs).ParseFS(templateFiles, "templates/layout.html", "templates/partials.html")
	if err != nil {
		return nil, fmt.Errorf("web: parse layout: %w", err)
	}
	files, err := fs.Glob(templateFiles, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, f := range files {
		name := strings.TrimSuffix(path.Base(f), ".html")
		if name == "layout" || name == "partials" {
			continue
		}
		t, err := template.Must(base.Clone()).ParseFS(templateFiles, f)
		if err != nil {
			return nil, fmt.Errorf("web: parse %s: %w", f, err)
		}
		pages[name] = t
	}
	return pages, nil
}
