package herald

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/mail"
	"strings"
	"time"
)

// User is an administrator who signs in to the admin UI. A user acts in
// one workspace. Only a slow hash of the password is kept (bcrypt, made by
// the web package); the domain does not care which.
type User struct {
	ID           string
	WorkspaceID  string
	Email        string // lower-case; unique across the installation
	PasswordHash string
	// InstanceOwner manages every workspace (the first user is one).
	InstanceOwner bool
	CreatedAt     time.Time
}

// Session is a signed-in browser. The cookie carries a random token; the
// store keeps only its SHA-256 (TokenHash), like API keys, so a leaked
// database does not hand out live sessions.
type Session struct {
	TokenHash   []byte
	UserID      string
	WorkspaceID string
	Email       string // the user's, filled in by Session
	CreatedAt   time.Time
	ExpiresAt   time.Time
}

// Expired reports whether the session is no longer valid at now.
func (s *Session) Expired(now time.Time) bool { return !now.Before(s.ExpiresAt) }

// UserStore keeps admin users, their sessions and the API keys the
// settings page lists. The SQL store implements it beside Store; the
// conformance suite storetest.RunUsers checks it.
type UserStore interface {
	// CreateUser stores a new user; EConflict when the email is taken.
	CreateUser(ctx context.Context, u *User) error
	// UserByEmail returns the user with this (lower-cased) email, or ENotFound.
	UserByEmail(ctx context.Context, email string) (*User, error)
	// CountUsers counts users in all workspaces (zero means a fresh
	// install, which offers the first-admin link).
	CountUsers(ctx context.Context) (int, error)

	CreateSession(ctx context.Context, s *Session) error
	// Session returns the session with this token hash, expired or not,
	// with the user's email; ENotFound if there is none.
	Session(ctx context.Context, tokenHash []byte) (*Session, error)
	// DeleteSession removes a session; deleting a missing one is not an error.
	DeleteSession(ctx context.Context, tokenHash []byte) error

	// ListAPIKeys returns the workspace's API keys, revoked ones included,
	// newest first.
	ListAPIKeys(ctx context.Context, workspaceID string) ([]*APIKey, error)
	// RevokeAPIKey marks a key revoked at at; ENotFound if the workspace
	// has no such key, EConflict if it is already revoked.
	RevokeAPIKey(ctx context.Context, workspaceID, id string, at time.Time) error
}

// Password length limits. bcrypt reads at most 72 bytes, so longer
// passwords are refused rather than silently truncated.
const (
	MinPasswordLength = 10
	MaxPasswordLength = 72
)

// NormalizeEmail trims and lower-cases an email address.
func NormalizeEmail(email string) string { return strings.ToLower(strings.TrimSpace(email)) }

// ValidateNewUser checks an email and a new password; the field names are
// "email" and "password".
func ValidateNewUser(email, password string) error {
	var v Validation
	switch {
	case email == "":
		v.Add("email", "is required")
	case len(email) > 254:
		v.Add("email", "must be at most 254 characters")
	default:
		if a, err := mail.ParseAddress(email); err != nil || a.Address != email || !strings.Contains(email, "@") {
			v.Add("email", "is not a valid email address")
		}
	}
	switch {
	case password == "":
		v.Add("password", "is required")
	case len(password) < MinPasswordLength:
		v.Add("password", "must be at least %d characters", MinPasswordLength)
	case len(password) > MaxPasswordLength:
		v.Add("password", "must be at most %d bytes", MaxPasswordLength)
	}
	return v.Err()
}

// NewSessionToken returns a fresh cookie token (256 random bits) and the
// hash the store keeps.
func NewSessionToken() (token string, hash []byte) {
	var b [32]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic("herald: crypto/rand failed: " + err.Error())
	}
	token = base64.RawURLEncoding.EncodeToString(b[:])
	return token, HashSessionToken(token)
}

// HashSessionToken is the stored form of a session token.
func HashSessionToken(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}
