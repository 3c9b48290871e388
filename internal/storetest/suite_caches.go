package storetest

import (
	"testing"

	"github.com/heraldhq/herald/internal/herald"
)

// testReadCachesFollowWrites: the hot reads (an API key by hash, the
// webhooks of a claimed batch) may be cached, but a write through the
// store is seen by the next read at once — a revoked key is refused, an
// edited or paused webhook is delivered as it is now.
func testReadCachesFollowWrites(t *testing.T, s herald.Store) {
	ws := workspace(t, s, "default")
	key, rec := herald.NewAPIKey(ws, "ci", []herald.Scope{herald.ScopeIngest}, now())
	if err := s.CreateAPIKey(ctx, rec); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 2; i++ { // the second read may come from the cache
		if k, err := s.APIKeyByHash(ctx, herald.HashAPIKey(key)); err != nil || k.ID != rec.ID {
			t.Fatalf("live key: %v, %v", k, err)
		}
	}
	if r, ok := s.(herald.UserStore); ok {
		if err := r.RevokeAPIKey(ctx, ws, rec.ID, now()); err != nil {
			t.Fatal(err)
		}
		_, err := s.APIKeyByHash(ctx, herald.HashAPIKey(key))
		wantCode(t, err, herald.ENotFound)
	}

	q, ok := s.(herald.Queue)
	if !ok {
		return
	}
	w := newWebhook(ws, "crm", "member.verified")
	if err := s.CreateWebhook(ctx, w); err != nil {
		t.Fatal(err)
	}
	load := func() *herald.Webhook {
		t.Helper()
		hooks, err := q.WebhooksByID(ctx, []string{w.ID})
		if err != nil || hooks[w.ID] == nil {
			t.Fatalf("load webhook: %v, %v", hooks, err)
		}
		return hooks[w.ID]
	}
	load()
	if got := load(); got.EndpointURL != "https://hooks.example.com/in" {
		t.Fatalf("endpoint %q", got.EndpointURL)
	}
	cur, err := s.Webhook(ctx, ws, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	cur.EndpointURL, cur.Revision = "https://hooks.example.com/v2", cur.Revision+1
	if err := s.UpdateWebhook(ctx, cur); err != nil {
		t.Fatal(err)
	}
	if got := load(); got.EndpointURL != "https://hooks.example.com/v2" || got.Revision != cur.Revision {
		t.Fatalf("after the edit: endpoint %q revision %d", got.EndpointURL, got.Revision)
	}
	if _, err := s.SetWebhookStatus(ctx, ws, w.ID, herald.Published, ""); err != nil {
		t.Fatal(err)
	}
	if got := load(); got.Status != herald.Published {
		t.Fatalf("after publishing: status %q", got.Status)
	}
	if err := s.DeleteWebhook(ctx, ws, w.ID); err != nil {
		t.Fatal(err)
	}
	if hooks, err := q.WebhooksByID(ctx, []string{w.ID}); err != nil || hooks[w.ID] != nil {
		t.Fatalf("deleted webhook still loads: %v, %v", hooks, err)
	}
}
