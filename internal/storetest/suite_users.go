package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/herald"
)

// UsersStore is a store that also keeps admin users and sessions.
type UsersStore interface {
	herald.Store
	herald.UserStore
}

// RunUsers runs the conformance suite of herald.UserStore against stores
// made by open; each subtest gets a fresh, empty store.
func RunUsers(t *testing.T, open func(t testing.TB) UsersStore) {
	tests := []struct {
		name string
		fn   func(t *testing.T, s UsersStore)
	}{
		{"Users", testUsers},
		{"Sessions", testSessions},
		{"APIKeyListAndRevoke", testAPIKeyListAndRevoke},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			tt.fn(t, open(t))
		})
	}
}

func newUser(ws, email string) *herald.User {
	return &herald.User{ID: herald.NewID(), WorkspaceID: ws, Email: email, PasswordHash: "$2a$10$notarealhashbutstoredasis", CreatedAt: now()}
}

func testUsers(t *testing.T, s UsersStore) {
	ws := workspace(t, s, "default")
	n, err := s.CountUsers(ctx)
	if err != nil || n != 0 {
		t.Fatalf("CountUsers on a fresh store = %d, %v", n, err)
	}
	_, err = s.UserByEmail(ctx, "admin@example.com")
	wantCode(t, err, herald.ENotFound)

	u := newUser(ws, "Admin@Example.com ")
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	// Emails are compared case-insensitively: stored lower-case, looked up lower-case.
	got, err := s.UserByEmail(ctx, "ADMIN@example.COM")
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != u.ID || got.Email != "admin@example.com" || got.WorkspaceID != ws || got.PasswordHash != u.PasswordHash || !got.CreatedAt.Equal(u.CreatedAt) {
		t.Fatalf("read back %+v, want %+v", got, u)
	}
	err = s.CreateUser(ctx, newUser(ws, "admin@example.com"))
	wantCode(t, err, herald.EConflict)
	// Unique across workspaces, so signing in needs only the email.
	other := workspace(t, s, "other")
	err = s.CreateUser(ctx, newUser(other, "ADMIN@example.com"))
	wantCode(t, err, herald.EConflict)
	if err := s.CreateUser(ctx, newUser(other, "ops@example.com")); err != nil {
		t.Fatal(err)
	}
	if n, err := s.CountUsers(ctx); err != nil || n != 2 {
		t.Fatalf("CountUsers = %d, %v; want 2", n, err)
	}
	// A user must belong to an existing workspace.
	err = s.CreateUser(ctx, newUser("01NOSUCHWORKSPACE000000000", "x@example.com"))
	wantCode(t, err, herald.EConflict)
}

func testSessions(t *testing.T, s UsersStore) {
	ws := workspace(t, s, "default")
	u := newUser(ws, "admin@example.com")
	if err := s.CreateUser(ctx, u); err != nil {
		t.Fatal(err)
	}
	token, hash := herald.NewSessionToken()
	if !bytes.Equal(hash, herald.HashSessionToken(token)) || len(token) < 40 {
		t.Fatalf("token %q / hash mismatch", token)
	}
	sess := &herald.Session{TokenHash: hash, UserID: u.ID, WorkspaceID: ws, CreatedAt: now(), ExpiresAt: now().Add(time.Hour)}
	if err := s.CreateSession(ctx, sess); err != nil {
		t.Fatal(err)
	}
	got, err := s.Session(ctx, hash)
	if err != nil {
		t.Fatal(err)
	}
	if got.UserID != u.ID || got.WorkspaceID != ws || got.Email != u.Email || !got.ExpiresAt.Equal(sess.ExpiresAt) || !got.CreatedAt.Equal(sess.CreatedAt) {
		t.Fatalf("session read back %+v, want %+v", got, sess)
	}
	if got.Expired(now()) || !got.Expired(now().Add(2*time.Hour)) {
		t.Fatal("Expired is wrong")
	}
	_, err = s.Session(ctx, herald.HashSessionToken("not-a-token"))
	wantCode(t, err, herald.ENotFound)
	// An expired session is still returned; the caller decides.
	_, oldHash := herald.NewSessionToken()
	old := &herald.Session{TokenHash: oldHash, UserID: u.ID, WorkspaceID: ws, CreatedAt: now().Add(-2 * time.Hour), ExpiresAt: now().Add(-time.Hour)}
	if err := s.CreateSession(ctx, old); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Session(ctx, oldHash); err != nil || !got.Expired(now()) {
		t.Fatalf("expired session: %v, %v", got, err)
	}
	// A session must expire after it starts (CHECK constraint).
	_, badHash := herald.NewSessionToken()
	t0 := now()
	err = s.CreateSession(ctx, &herald.Session{TokenHash: badHash, UserID: u.ID, WorkspaceID: ws, CreatedAt: t0, ExpiresAt: t0})
	wantCode(t, err, herald.EInvalid)
	if err := s.DeleteSession(ctx, hash); err != nil {
		t.Fatal(err)
	}
	_, err = s.Session(ctx, hash)
	wantCode(t, err, herald.ENotFound)
	if err := s.DeleteSession(ctx, hash); err != nil {
		t.Fatalf("deleting a missing session: %v", err)
	}
}

func testAPIKeyListAndRevoke(t *testing.T, s UsersStore) {
	ws := workspace(t, s, "default")
	other := workspace(t, s, "other")
	if keys, err := s.ListAPIKeys(ctx, ws); err != nil || len(keys) != 0 {
		t.Fatalf("fresh list = %v, %v", keys, err)
	}
	key1, rec1 := herald.NewAPIKey(ws, "ci", []herald.Scope{herald.ScopeRead}, now())
	_, rec2 := herald.NewAPIKey(ws, "ingest", []herald.Scope{herald.ScopeIngest, herald.ScopeRead}, now())
	_, rec3 := herald.NewAPIKey(other, "elsewhere", []herald.Scope{herald.ScopeAdmin}, now())
	for _, k := range []*herald.APIKey{rec1, rec2, rec3} {
		if err := s.CreateAPIKey(ctx, k); err != nil {
			t.Fatal(err)
		}
	}
	keys, err := s.ListAPIKeys(ctx, ws)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 || keys[0].ID != rec2.ID || keys[1].ID != rec1.ID {
		t.Fatalf("list = %+v; want ingest then ci", keys)
	}
	k := keys[0]
	if k.Name != "ingest" || k.Prefix != rec2.Prefix || len(k.Scopes) != 2 || k.Scopes[0] != herald.ScopeIngest || k.RevokedAt != nil || !k.CreatedAt.Equal(rec2.CreatedAt) {
		t.Fatalf("key read back %+v", k)
	}
	// Another workspace's key is not found, and stays live.
	wantCode(t, s.RevokeAPIKey(ctx, ws, rec3.ID, now()), herald.ENotFound)
	wantCode(t, s.RevokeAPIKey(ctx, ws, herald.NewID(), now()), herald.ENotFound)
	at := now()
	if err := s.RevokeAPIKey(ctx, ws, rec1.ID, at); err != nil {
		t.Fatal(err)
	}
	wantCode(t, s.RevokeAPIKey(ctx, ws, rec1.ID, now()), herald.EConflict)
	_, err = s.APIKeyByHash(ctx, herald.HashAPIKey(key1))
	wantCode(t, err, herald.ENotFound)
	keys, _ = s.ListAPIKeys(ctx, ws)
	if keys[1].RevokedAt == nil || !keys[1].RevokedAt.Equal(at) {
		t.Fatalf("revoked key: %+v", keys[1])
	}
	if k, err := s.APIKeyByHash(ctx, rec3.Hash); err != nil || k.ID != rec3.ID {
		t.Fatalf("other workspace's key: %v, %v", k, err)
	}
}
