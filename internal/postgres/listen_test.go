package postgres

import (
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/herald"
)

// A notification of our own ingest wakes nothing (the ingest woke our
// claim loop); an ingest-only process's, or one without a payload (an
// older herald), wakes at once; another delivering process's goes
// through the coalescer.
func TestNotificationRouting(t *testing.T) {
	self, other := herald.NewID(), herald.NewID()
	for _, c := range []struct{ payload, want string }{
		{self, "none"}, {self + urgentMark, "wake"}, {other + urgentMark, "wake"}, {"", "wake"}, {other, "foreign"},
	} {
		got := "none"
		route(c.payload, self, func() { got = "wake" }, func() { got = "foreign" })
		if got != c.want {
			t.Errorf("%s: %s, want %s", fmt.Sprintf("%q", c.payload), got, c.want)
		}
	}
}

// Other processes' notifications wake the claim loop at once, and a burst
// of them folds into one more wake at the end of the window, not one per
// notification.
func TestForeignWakesCoalesce(t *testing.T) {
	var wakes atomic.Int32
	woke := make(chan struct{}, 100)
	c := &coalescer{window: time.Second, wake: func() { wakes.Add(1); woke <- struct{}{} }}
	defer c.stop()
	c.notify()
	if wakes.Load() != 1 {
		t.Fatalf("the first notification woke %d times, want once at once", wakes.Load())
	}
	for i := 0; i < 100; i++ {
		c.notify() // within the window: folded
	}
	if n := wakes.Load(); n != 1 {
		t.Fatalf("a burst within the window woke %d times before its end, want 1", n)
	}
	<-woke
	select {
	case <-woke: // the trailing wake, at the window's end
	case <-time.After(10 * time.Second):
		t.Fatal("the burst was never delivered: no wake at the end of the window")
	}
	if n := wakes.Load(); n != 2 {
		t.Fatalf("%d wakes for 101 notifications, want 2", n)
	}
	c.stop()
	c.notify()
	c.notify()
	time.Sleep(50 * time.Millisecond)
	if n := wakes.Load(); n != 2 {
		t.Fatalf("a stopped coalescer woke again within its window: %d wakes", n)
	}
}
