package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/heraldhq/herald/internal/natssource/natstest"
)

// In the browser: a NATS source added in the form, its page showing it
// connect, then counting the events published to its stream and the one
// message it rejected; pause and resume.
func TestNATSSourceInBrowser(t *testing.T) {
	natsURL := natstest.URL(t)
	stream := natstest.Stream(t, natsURL)
	db := filepath.Join(t.TempDir(), "herald.db")
	srv := startServeUI(t, env(map[string]string{"HERALD_DB": db}), "--source-poll", "500ms")
	b := newBrowser(t, srv.url)
	b.firstAdmin(srv.setupLink)

	b.open("/sources")
	b.see("No sources yet")
	b.submit(`a.button.primary[href="/sources/new"]`)
	b.fill("#f-name", "Platform events")
	b.do(chromedp.Click(chromedp.CSS(`label[for="f-type-amqp"]`)))
	if eval[bool](b, `getComputedStyle(document.querySelector("#f-nats-stream")).display !== "none" && document.querySelector("#f-nats-stream").offsetParent !== null`) {
		t.Error("the NATS fields stay visible with type AMQP chosen")
	}
	b.do(chromedp.Click(chromedp.CSS(`label[for="f-type-nats"]`)))
	b.fill("#f-url", natsURL)
	b.fill("#f-nats-stream", stream)
	b.set("#f-nats-subjects", stream+".>")
	b.checkA11y("source form")
	b.submit(`.form-actions button[type=submit]`)
	b.see("Source “Platform events” saved", "NATS JetStream", stream)
	page := b.location()

	// It connects: the page says so once the runner has started it.
	seeOnReload(b, page, "Connected")

	_, js := natstest.Conn(t, natsURL)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for i := 0; i < 25; i++ {
		m := nats.NewMsg(stream + ".member")
		m.Header.Set("Event-Type", "member.verified")
		m.Data = fmt.Appendf(nil, `{"member": {"id": "m-%d"}}`, i)
		if _, err := js.PublishMsg(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	poison := nats.NewMsg(stream + ".member")
	poison.Header.Set("Event-Type", "member.verified")
	poison.Header.Set(jetstream.MsgIDHeader, "poison-1")
	poison.Data = []byte(`{"member": `)
	if _, err := js.PublishMsg(ctx, poison); err != nil {
		t.Fatal(err)
	}
	seeOnReload(b, page, "25", "poison-1", "body is not JSON")
	if got := strings.TrimSpace(b.text("#source-ingested")); got != "25" {
		t.Fatalf("ingested shows %q, want 25", got)
	}
	if got := strings.TrimSpace(b.text("#source-rejected")); got != "1" {
		t.Fatalf("rejected shows %q, want 1", got)
	}
	b.see("Last message")
	b.checkA11y("source page with a rejected message")

	b.submit(`form[action$="/pause"] button`)
	b.see("paused", "Paused", "Resume")
	b.submit(`form[action$="/resume"] button`)
	b.see("resumed")
	seeOnReload(b, page, "Connected")
	b.open("/sources")
	b.see("Platform events", "Connected", "25")
	b.checkA11y("sources list")
}

// seeOnReload reloads page until it says every want (up to 15 s).
func seeOnReload(b *browser, page string, want ...string) {
	b.t.Helper()
	deadline := time.Now().Add(15 * time.Second)
	for {
		b.open(page)
		txt := b.mainText()
		missing := ""
		for _, w := range want {
			if !strings.Contains(txt, w) {
				missing = w
				break
			}
		}
		if missing == "" {
			return
		}
		if time.Now().After(deadline) {
			b.t.Fatalf("after 15 s %s still does not say %q:\n%s", page, missing, txt)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
