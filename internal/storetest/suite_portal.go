package storetest

import (
	"bytes"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/herald"
)

// PortalStore is a store that also keeps portal sessions.
type PortalStore interface {
	herald.Store
	herald.PortalStore
}

// RunPortal runs the conformance suite of herald.PortalStore.
func RunPortal(t *testing.T, open func(t testing.TB) PortalStore) {
	t.Run("PortalSessions", func(t *testing.T) {
		t.Parallel()
		testPortalSessions(t, open(t))
	})
	t.Run("PortalSessionsGoWithTheirWorkspace", func(t *testing.T) {
		t.Parallel()
		s := open(t)
		ts, ok := s.(herald.TenantStore)
		if !ok {
			t.Skip("SKIP: this store keeps no tenants")
		}
		ws := workspace(t, s, "brand-gone")
		p, link := newPortal(ws, now(), time.Hour, nil)
		if err := s.CreatePortalSession(ctx, p); err != nil {
			t.Fatal(err)
		}
		if err := ts.DeleteWorkspace(ctx, ws); err != nil {
			t.Fatal(err)
		}
		_, err := s.PortalSessionByLink(ctx, link)
		wantCode(t, err, herald.ENotFound)
	})
	t.Run("PortalLinkRedeemedOnceUnderRace", func(t *testing.T) {
		t.Parallel()
		testPortalRace(t, open(t))
	})
}

func newPortal(ws string, created time.Time, ttl time.Duration, allowed []string) (*herald.PortalSession, []byte) {
	_, hash := herald.NewPortalToken()
	return &herald.PortalSession{ID: herald.NewID(), WorkspaceID: ws, Role: herald.PortalViewer, ReturnURL: "https://platform.example/brands/1",
		AllowedEvents: allowed, LinkHash: hash, CreatedBy: "API key “platform”", CreatedAt: created, ExpiresAt: created.Add(ttl)}, hash
}

func testPortalSessions(t *testing.T, s PortalStore) {
	ws := workspace(t, s, "default")
	t0 := now()
	p, link := newPortal(ws, t0, time.Hour, []string{"member.verified", "coupon.*"})
	if err := s.CreatePortalSession(ctx, p); err != nil {
		t.Fatal(err)
	}
	// Not redeemed yet: no cookie finds it.
	_, cookie := herald.NewPortalToken()
	_, err := s.PortalSessionByToken(ctx, cookie)
	wantCode(t, err, herald.ENotFound)
	got, err := s.RedeemPortalLink(ctx, link, cookie, t0.Add(time.Minute))
	if err != nil {
		t.Fatal(err)
	}
	if got.ID != p.ID || got.WorkspaceID != ws || got.Role != herald.PortalViewer || got.ReturnURL != p.ReturnURL ||
		!slices.Equal(got.AllowedEvents, p.AllowedEvents) || got.CreatedBy != p.CreatedBy || !got.ExpiresAt.Equal(p.ExpiresAt) ||
		got.RedeemedAt == nil || !got.RedeemedAt.Equal(t0.Add(time.Minute)) || !bytes.Equal(got.SessionHash, cookie) {
		t.Fatalf("redeemed %+v, want %+v", got, p)
	}
	if got, err := s.PortalSessionByLink(ctx, link); err != nil || got.ID != p.ID || got.RedeemedAt == nil {
		t.Fatalf("by link: %+v, %v", got, err)
	}
	_, err = s.PortalSessionByLink(ctx, herald.HashSessionToken("no such link"))
	wantCode(t, err, herald.ENotFound)
	// Single use.
	_, other := herald.NewPortalToken()
	_, err = s.RedeemPortalLink(ctx, link, other, t0.Add(2*time.Minute))
	wantCode(t, err, herald.ENotFound)
	if got, err := s.PortalSessionByToken(ctx, cookie); err != nil || got.ID != p.ID {
		t.Fatalf("by cookie: %v, %v", got, err)
	}
	_, err = s.PortalSessionByToken(ctx, other)
	wantCode(t, err, herald.ENotFound)

	// An expired link cannot be redeemed; a link to no allowed list
	// (nil) and to an empty one ([]) read back as such.
	exp, expLink := newPortal(ws, t0, time.Minute, nil)
	if err := s.CreatePortalSession(ctx, exp); err != nil {
		t.Fatal(err)
	}
	_, c2 := herald.NewPortalToken()
	_, err = s.RedeemPortalLink(ctx, expLink, c2, t0.Add(time.Minute))
	wantCode(t, err, herald.ENotFound)
	_, err = s.RedeemPortalLink(ctx, herald.HashSessionToken("nope"), c2, t0)
	wantCode(t, err, herald.ENotFound)
	for _, allowed := range [][]string{nil, {}} {
		q, ql := newPortal(ws, t0, time.Hour, allowed)
		q.Role = herald.PortalAdmin
		if err := s.CreatePortalSession(ctx, q); err != nil {
			t.Fatal(err)
		}
		_, c := herald.NewPortalToken()
		got, err := s.RedeemPortalLink(ctx, ql, c, t0)
		if err != nil {
			t.Fatal(err)
		}
		if (got.AllowedEvents == nil) != (allowed == nil) || len(got.AllowedEvents) != 0 || got.Role != herald.PortalAdmin {
			t.Fatalf("allowed %#v read back as %#v (role %s)", allowed, got.AllowedEvents, got.Role)
		}
	}
	// A role outside the two is refused by the schema too.
	bad, _ := newPortal(ws, t0, time.Hour, nil)
	bad.Role = "owner"
	wantCode(t, s.CreatePortalSession(ctx, bad), herald.EInvalid)

	// Leaving the portal ends it.
	if err := s.DeletePortalSession(ctx, cookie); err != nil {
		t.Fatal(err)
	}
	_, err = s.PortalSessionByToken(ctx, cookie)
	wantCode(t, err, herald.ENotFound)
	if err := s.DeletePortalSession(ctx, cookie); err != nil {
		t.Fatalf("deleting a missing portal session: %v", err)
	}
}

func testPortalRace(t *testing.T, s PortalStore) {
	ws := workspace(t, s, "default")
	p, link := newPortal(ws, now(), time.Hour, nil)
	if err := s.CreatePortalSession(ctx, p); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins, losses := 0, 0
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, c := herald.NewPortalToken()
			_, err := s.RedeemPortalLink(ctx, link, c, now())
			mu.Lock()
			defer mu.Unlock()
			switch herald.ErrorCodeOf(err) {
			case "":
				wins++
			case herald.ENotFound:
				losses++
			default:
				t.Errorf("redeem: %v", err)
			}
		}()
	}
	wg.Wait()
	if wins != 1 || losses != 7 {
		t.Fatalf("%d redemptions won, %d lost; want 1 and 7", wins, losses)
	}
}
