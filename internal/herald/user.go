package herald

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"
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
	// ID names the session in the user's list of sessions (a ULID), so
	// one can be signed out without the token or its hash leaving the
	// server.
	ID          string
	TokenHash   []byte
	UserID      string
	WorkspaceID string
	Email       string // the user's, filled in by Session
	CreatedAt   time.Time
	ExpiresAt   time.Time
	// LastSeenAt, ClientAddr and UserAgent describe the last request made
	// with the session (updated at most once a minute, see
	// SessionTouchInterval), for the user's list of sessions.
	LastSeenAt time.Time
	ClientAddr string
	UserAgent  string
}

// SessionTouchInterval is how stale a session's LastSeenAt may get before
// a request updates it: often enough to tell which sessions are in use,
// rarely enough that reading pages does not mean writing the database.
const SessionTouchInterval = time.Minute

// MaxUserAgentLength caps the User-Agent kept with a session (bytes).
const MaxUserAgentLength = 256

// TrimUserAgent cuts ua to MaxUserAgentLength at a character boundary.
func TrimUserAgent(ua string) string {
	if len(ua) <= MaxUserAgentLength {
		return ua
	}
	cut := MaxUserAgentLength
	for cut > 0 && !utf8.RuneStart(ua[cut]) {
		cut--
	}
	return ua[:cut]
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

	// CreateSession stores a new session; an empty ID is filled in, and
	// LastSeenAt defaults to CreatedAt.
	CreateSession(ctx context.Context, s *Session) error
	// Session returns the session with this token hash, expired or not,
	// with the user's email; ENotFound if there is none.
	Session(ctx context.Context, tokenHash []byte) (*Session, error)
	// DeleteSession removes a session; deleting a missing one is not an error.
	DeleteSession(ctx context.Context, tokenHash []byte) error
	// TouchSession records a request made with the session at at, from
	// clientAddr with userAgent; ENotFound if there is no such session.
	TouchSession(ctx context.Context, tokenHash []byte, at time.Time, clientAddr, userAgent string) error
	// ListSessions returns the user's sessions that have not expired at
	// now, the most recently seen first (TokenHash left empty).
	ListSessions(ctx context.Context, userID string, now time.Time) ([]*Session, error)
	// DeleteUserSession signs out one of the user's sessions by ID;
	// ENotFound if the user has no session with that ID.
	DeleteUserSession(ctx context.Context, userID, id string) error
	// DeleteUserSessions signs out every session of the user ("sign out
	// everywhere") and returns how many there were.
	DeleteUserSessions(ctx context.Context, userID string) (int, error)

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
