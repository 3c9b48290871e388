package herald

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"slices"
	"strings"
	"time"
)

// DefaultWorkspace is the workspace a fresh install creates.
const DefaultWorkspace = "default"

// Workspace is a tenant: one brand or one environment. Nothing crosses
// workspaces.
type Workspace struct {
	ID   string `json:"id"`
	Name string `json:"name"`
	// TimeZone is where templates read date-only values (IANA name);
	// empty means the server's default.
	TimeZone string `json:"time_zone"`
	// RetentionSeconds is how long the workspace keeps attempts and
	// finished events; nil means the server's --retention.
	RetentionSeconds *int64 `json:"retention_seconds"`
	// PortalAllowedOrigins are the origins (scheme://host[:port]) whose
	// pages may frame the workspace's portal (frame-ancestors).
	PortalAllowedOrigins []string  `json:"portal_allowed_origins"`
	CreatedAt            time.Time `json:"created_at"`
}

// Bounds of a workspace's own retention.
const (
	MinRetention = time.Minute
	MaxRetention = 10 * 365 * 24 * time.Hour
)

// Scope is a permission an API key carries.
type Scope string

const (
	ScopeAdmin  Scope = "admin"  // everything in the workspace
	ScopeRead   Scope = "read"   // GET requests only
	ScopeIngest Scope = "ingest" // send events only
	// ScopeInstance is bound to no workspace: it manages workspaces and
	// mints their keys (herald apikey create --instance). It is never
	// combined with the others.
	ScopeInstance Scope = "instance"
)

// APIKey authenticates REST calls inside one workspace. Only a hash of the
// key is stored; the key itself is shown once, at creation.
type APIKey struct {
	ID          string
	WorkspaceID string // "" for an instance key
	Name        string
	Prefix      string // first characters of the key, to tell keys apart in lists
	Hash        []byte // SHA-256 of the whole key
	Scopes      []Scope
	CreatedAt   time.Time
	RevokedAt   *time.Time
}

// Allows reports whether the key carries scope s (admin carries all).
func (k *APIKey) Allows(s Scope) bool {
	return slices.Contains(k.Scopes, ScopeAdmin) || slices.Contains(k.Scopes, s)
}

// ParseScopes reads a comma-separated scope list.
func ParseScopes(s string) ([]Scope, error) {
	var out []Scope
	for _, part := range strings.Split(s, ",") {
		switch sc := Scope(strings.TrimSpace(part)); sc {
		case ScopeAdmin, ScopeRead, ScopeIngest:
			out = append(out, sc)
		case "":
		default:
			return nil, Errorf(EInvalid, "unknown scope %q (admin, read, ingest)", part)
		}
	}
	if len(out) == 0 {
		return nil, Errorf(EInvalid, "at least one scope is required")
	}
	return out, nil
}

// APIKeyPrefix starts every key, so secret scanners can recognise leaks.
const APIKeyPrefix = "hrld_"

// NewAPIKey returns a fresh key (shown once) and its record to store.
func NewAPIKey(workspaceID, name string, scopes []Scope, now time.Time) (key string, rec *APIKey) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("herald: crypto/rand failed: " + err.Error())
	}
	key = APIKeyPrefix + base64.RawURLEncoding.EncodeToString(b[:])
	return key, &APIKey{
		ID: NewID(), WorkspaceID: workspaceID, Name: name, Prefix: key[:len(APIKeyPrefix)+6],
		Hash: HashAPIKey(key), Scopes: scopes, CreatedAt: now,
	}
}

// HashAPIKey is the stored form of a key. Keys carry 256 random bits, so
// a fast hash is safe; a slow one would cost every API request.
func HashAPIKey(key string) []byte {
	h := sha256.Sum256([]byte(key))
	return h[:]
}
