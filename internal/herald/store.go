package herald

import (
	"context"
	"time"
)

// Cipher seals secrets before a store writes them and opens them after it
// reads them. Stores never hold a secret in clear on disk.
type Cipher interface {
	Seal(plaintext []byte) ([]byte, error)
	Open(ciphertext []byte) ([]byte, error)
}

// DefaultPageSize and MaxPageSize bound list calls.
const (
	DefaultPageSize = 50
	MaxPageSize     = 200
)

// Store keeps herald's configuration. Implementations: internal/sqlite
// and internal/postgres, both checked by internal/storetest.
//
// Every method that takes a workspaceID acts inside that workspace only: an
// id of another workspace's object is reported as ENotFound. Methods return
// ENotFound for missing objects and EConflict for state conflicts, wrapped
// in *Error; any method may return EUnavailable when the database cannot
// be reached or cannot take writes (then nothing was changed); anything
// else is an internal failure.
type Store interface {
	// EnsureWorkspace returns the workspace named name, creating it first
	// if it does not exist.
	EnsureWorkspace(ctx context.Context, name string) (*Workspace, error)
	WorkspaceByName(ctx context.Context, name string) (*Workspace, error)
	WorkspaceByID(ctx context.Context, id string) (*Workspace, error)
	SetWorkspaceTimeZone(ctx context.Context, id, timeZone string) error
	// SetWorkspaceRetention sets the workspace's own retention; nil
	// returns it to the server's default.
	SetWorkspaceRetention(ctx context.Context, id string, retention *time.Duration) error

	CreateAPIKey(ctx context.Context, k *APIKey) error
	// APIKeyByHash returns a key that is not revoked, or ENotFound.
	APIKeyByHash(ctx context.Context, hash []byte) (*APIKey, error)

	CreateAuthorization(ctx context.Context, a *Authorization) error
	Authorization(ctx context.Context, workspaceID, id string) (*Authorization, error)
	// ListAuthorizations returns one page, newest first, and the cursor of
	// the next page ("" on the last).
	ListAuthorizations(ctx context.Context, workspaceID string, f AuthorizationFilter) ([]*Authorization, string, error)
	UpdateAuthorization(ctx context.Context, a *Authorization) error
	// DeleteAuthorization returns EConflict while a webhook uses it.
	DeleteAuthorization(ctx context.Context, workspaceID, id string) error

	CreateWebhook(ctx context.Context, w *Webhook) error
	Webhook(ctx context.Context, workspaceID, id string) (*Webhook, error)
	ListWebhooks(ctx context.Context, workspaceID string, f WebhookFilter) ([]*Webhook, string, error)
	// UpdateWebhook writes w's spec, status and secret if the stored
	// revision is still w.Revision-1 (w.Revision is the new one), so two
	// concurrent edits cannot silently overwrite each other: EConflict.
	UpdateWebhook(ctx context.Context, w *Webhook) error
	// SetWebhookStatus publishes or unpublishes without touching the spec.
	SetWebhookStatus(ctx context.Context, workspaceID, id string, status WebhookStatus, reason string) (*Webhook, error)
	DeleteWebhook(ctx context.Context, workspaceID, id string) error

	CreateEventType(ctx context.Context, t *EventType) error
	// ListEventTypes returns the workspace's custom event types.
	ListEventTypes(ctx context.Context, workspaceID string) ([]*EventType, error)

	// Ping reports whether the database answers (for /readyz).
	Ping(ctx context.Context) error
	Close() error
}
