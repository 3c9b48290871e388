package storetest

import (
	"bytes"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

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
		{"SessionList", testSessionList},
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

// testSessionList: a user's sessions listed with what their last request
// looked like, signed out one by one or everywhere, never another user's.
func testSessionList(t *testing.T, s UsersStore) {
	ws := workspace(t, s, "default")
	u, other := newUser(ws, "admin@example.com"), newUser(ws, "ops@example.com")
	for _, x := range []*herald.User{u, other} {
		if err := s.CreateUser(ctx, x); err != nil {
			t.Fatal(err)
		}
	}
	t0 := now()
	mk := func(user *herald.User, created time.Time, ttl time.Duration) *herald.Session {
		_, hash := herald.NewSessionToken()
		sess := &herald.Session{TokenHash: hash, UserID: user.ID, WorkspaceID: ws, CreatedAt: created, ExpiresAt: created.Add(ttl),
			ClientAddr: "203.0.113.7", UserAgent: "Browser/1"}
		if err := s.CreateSession(ctx, sess); err != nil {
			t.Fatal(err)
		}
		if sess.ID == "" || !sess.LastSeenAt.Equal(created) {
			t.Fatalf("CreateSession left ID %q, LastSeenAt %v", sess.ID, sess.LastSeenAt)
		}
		return sess
	}
	a := mk(u, t0.Add(-3*time.Minute), time.Hour)
	b := mk(u, t0.Add(-2*time.Minute), time.Hour)
	mk(u, t0.Add(-2*time.Hour), time.Hour) // expired: not listed
	o := mk(other, t0, time.Hour)

	got, err := s.Session(ctx, a.TokenHash)
	if err != nil || got.ID != a.ID || got.ClientAddr != "203.0.113.7" || got.UserAgent != "Browser/1" || !got.LastSeenAt.Equal(a.CreatedAt) {
		t.Fatalf("Session = %+v, %v", got, err)
	}
	// Touch a: it becomes the most recently seen, with its new address and agent.
	long := strings.Repeat("é", herald.MaxUserAgentLength) // cut at a character boundary
	if err := s.TouchSession(ctx, a.TokenHash, t0, "2001:db8::1", long); err != nil {
		t.Fatal(err)
	}
	wantCode(t, s.TouchSession(ctx, herald.HashSessionToken("none"), t0, "", ""), herald.ENotFound)
	list, err := s.ListSessions(ctx, u.ID, t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 2 || list[0].ID != a.ID || list[1].ID != b.ID {
		t.Fatalf("ListSessions = %+v; want a then b", list)
	}
	first := list[0]
	if !first.LastSeenAt.Equal(t0) || first.ClientAddr != "2001:db8::1" || len(first.UserAgent) > herald.MaxUserAgentLength ||
		!utf8.ValidString(first.UserAgent) || !strings.HasPrefix(long, first.UserAgent) || first.TokenHash != nil || first.Email != u.Email {
		t.Fatalf("listed session %+v", first)
	}
	// Another user's session cannot be signed out by this user.
	wantCode(t, s.DeleteUserSession(ctx, u.ID, o.ID), herald.ENotFound)
	if err := s.DeleteUserSession(ctx, u.ID, b.ID); err != nil {
		t.Fatal(err)
	}
	_, err = s.Session(ctx, b.TokenHash)
	wantCode(t, err, herald.ENotFound)
	wantCode(t, s.DeleteUserSession(ctx, u.ID, b.ID), herald.ENotFound)
	// Everywhere: a and the expired one go; the other user's stays.
	n, err := s.DeleteUserSessions(ctx, u.ID)
	if err != nil || n != 2 {
		t.Fatalf("DeleteUserSessions = %d, %v; want 2", n, err)
	}
	if list, err := s.ListSessions(ctx, u.ID, t0); err != nil || len(list) != 0 {
		t.Fatalf("after sign-out everywhere: %v, %v", list, err)
	}
	if _, err := s.Session(ctx, o.TokenHash); err != nil {
		t.Fatalf("the other user's session: %v", err)
	}
}
