package main

import (
	"path/filepath"
	"strings"
	"testing"
)

// Sessions in a real browser: the admin signed in in two browsers sees
// both on the account page (this one marked), the page passes axe-core,
// and "Sign out everywhere" leaves the other browser signed out too.
func TestSessionsInBrowser(t *testing.T) {
	db := filepath.Join(t.TempDir(), "herald.db")
	srv := startServeUI(t, env(map[string]string{"HERALD_DB": db}))
	laptop := newBrowser(t, srv.url)
	laptop.open(srv.setupLink)
	laptop.fill("#f-email", "admin@example.com")
	laptop.fill("#f-password", "correct horse battery")
	laptop.fill("#f-password_confirm", "correct horse battery")
	laptop.submit(`button[type=submit]`)
	laptop.see("Welcome!")

	phone := newBrowser(t, srv.url)
	phone.open("/login")
	phone.fill("#f-email", "admin@example.com")
	phone.fill("#f-password", "correct horse battery")
	phone.submit(`button[type=submit]`)
	phone.see("Webhooks")

	laptop.submit(`a.email`)
	laptop.see("Sessions", "This session", "127.0.0.1", "Sign out everywhere")
	if n := eval[int](laptop, `document.querySelectorAll("table.list tbody tr").length`); n != 2 {
		t.Fatalf("%d sessions listed, want 2", n)
	}
	laptop.checkA11y("account: sessions")
	laptop.submit(`form[action="/account/sessions/sign-out-everywhere"] button`)
	laptop.see("You are signed out everywhere (2 sessions).")

	phone.open("/webhooks")
	if loc := phone.location(); !strings.Contains(loc, "/login") {
		t.Fatalf("the other browser is still signed in: at %s", loc)
	}
}
