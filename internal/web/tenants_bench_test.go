package web_test

import (
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"testing"

	"golang.org/x/crypto/bcrypt"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/storetest"
	"github.com/heraldhq/herald/internal/web"
)

// BenchmarkMemberPage measures a signed-in page (GET /webhooks on SQLite,
// ten webhooks) for a viewer who is a member of three workspaces: the
// session, the user, the memberships and the role are read on every
// request, then the page is rendered without its controls.
func BenchmarkMemberPage(b *testing.B) {
	ctx := context.Background()
	st := storetest.OpenSQLite(b)
	ws, err := st.EnsureWorkspace(ctx, herald.DefaultWorkspace)
	if err != nil {
		b.Fatal(err)
	}
	svc := herald.NewService(st, nil)
	ui, err := web.New(web.Config{BcryptCost: bcrypt.MinCost}, testDeps(st, svc))
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewServer(ui)
	defer srv.Close()
	if _, err := web.CreateUser(ctx, st, ws.ID, "owner@example.com", "owner password 1", bcrypt.MinCost); err != nil {
		b.Fatal(err)
	}
	hash, _ := web.HashPassword("viewer password 1", bcrypt.MinCost)
	u := &herald.User{ID: herald.NewID(), WorkspaceID: ws.ID, Email: "viewer@example.com", PasswordHash: hash}
	if err := st.CreateUser(ctx, u); err != nil {
		b.Fatal(err)
	}
	for i, name := range []string{herald.DefaultWorkspace, "brand-a", "brand-b"} {
		w, err := st.EnsureWorkspace(ctx, name)
		if err != nil {
			b.Fatal(err)
		}
		_, token, err := svc.InviteMember(ctx, w.ID, u.Email, []herald.Role{herald.RoleViewer, herald.RoleAdmin, herald.RoleOwner}[i])
		if err != nil {
			b.Fatal(err)
		}
		if _, err := svc.AcceptInvite(ctx, token, u); err != nil {
			b.Fatal(err)
		}
	}
	// The session starts in default, where the user is a viewer.
	for i := 0; i < 10; i++ {
		if _, _, err := svc.CreateWebhook(ctx, ws.ID, herald.WebhookSpec{Name: "w" + string(rune('a'+i)), Event: "member.verified",
			EndpointURL: "https://hooks.example.com/x", Method: "POST", PayloadType: herald.PayloadJSON, Payload: "{}"}); err != nil {
			b.Fatal(err)
		}
	}
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, _ := c.Get(srv.URL + "/login")
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	csrf := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindSubmatch(page)[1]
	res, err = c.PostForm(srv.URL+"/login", url.Values{"csrf_token": {string(csrf)}, "email": {u.Email}, "password": {"viewer password 1"}})
	if err != nil || res.StatusCode != http.StatusSeeOther {
		b.Fatalf("sign in: %v %v", res.StatusCode, err)
	}
	res.Body.Close()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		res, err := c.Get(srv.URL + "/webhooks")
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != http.StatusOK {
			b.Fatalf("status %d", res.StatusCode)
		}
	}
}
