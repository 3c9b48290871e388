package web

import (
	"fmt"
	"testing"
	"time"
)

func TestThrottleLimitsAnAddressNotAnEmail(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	var th signInThrottle
	for i := 0; i < 50; i++ { // 50 failures for one email from one address
		th.fail(t0, "203.0.113.66", "admin@example.com")
	}
	if wait, until := th.retryAfter(t0.Add(14*time.Minute), "203.0.113.66"); !wait || !until.Equal(t0.Add(signInWindow)) {
		t.Fatalf("the guessing address: wait %v until %v", wait, until)
	}
	if wait, _ := th.retryAfter(t0, "198.51.100.7"); wait {
		t.Fatal("another address has to wait")
	}
	// The email is only slowed down, by at most a second.
	if d := th.emailDelay(t0, "admin@example.com"); d != signInMaxEmailDelay {
		t.Fatalf("email delay %v", d)
	}
	if d := th.emailDelay(t0, "ops@example.com"); d != 0 {
		t.Fatalf("untouched email delayed %v", d)
	}
	// The window passes: all forgotten.
	if wait, _ := th.retryAfter(t0.Add(signInWindow), "203.0.113.66"); wait {
		t.Fatal("still waiting after the window")
	}
	if d := th.emailDelay(t0.Add(signInWindow), "admin@example.com"); d != 0 {
		t.Fatalf("email delay after the window %v", d)
	}
}

func TestThrottleDelayGrows(t *testing.T) {
	t0 := time.Date(2026, 5, 1, 10, 0, 0, 0, time.UTC)
	var th signInThrottle
	now := t0
	for i := 1; i <= signInMaxFailures; i++ {
		th.fail(now, "203.0.113.66", "a@example.com")
		wait, until := th.retryAfter(now, "203.0.113.66")
		var want time.Duration
		switch {
		case i >= signInMaxFailures:
			want = t0.Add(signInWindow).Sub(now)
		case i >= signInFreeFailures:
			want = time.Second << (i - signInFreeFailures)
		}
		if wait != (want > 0) || (want > 0 && until.Sub(now) != want) {
			t.Fatalf("after %d failures: wait %v for %v, want %v", i, wait, until.Sub(now), want)
		}
		now = now.Add(want)
	}
}

// An IPv6 client is limited by its /64: it cannot rotate through the
// addresses of its own network.
func TestThrottleGroupsIPv6By64(t *testing.T) {
	t0 := time.Now()
	var th signInThrottle
	for i := 0; i < signInMaxFailures; i++ {
		th.fail(t0, fmt.Sprintf("2001:db8:1:2::%x", i+1), "a@example.com")
	}
	if wait, _ := th.retryAfter(t0, "2001:db8:1:2:ffff::1"); !wait {
		t.Fatal("the /64 is not limited")
	}
	if wait, _ := th.retryAfter(t0, "2001:db8:1:3::1"); wait {
		t.Fatal("the next /64 is limited")
	}
}

// A spray of addresses and emails cannot grow the throttle past its cap;
// the entry still limiting a guessing address survives eviction longest.
func TestThrottleMemoryIsBounded(t *testing.T) {
	t0 := time.Now()
	th := signInThrottle{max: 100}
	for i := 0; i < signInMaxFailures; i++ {
		th.fail(t0.Add(time.Duration(i)*time.Millisecond+time.Hour/4-time.Second), "198.51.100.1", "target@example.com")
	}
	for i := 0; i < 1000; i++ {
		at := t0.Add(time.Duration(i) * time.Microsecond)
		th.fail(at, fmt.Sprintf("10.0.%d.%d", i/256, i%256), fmt.Sprintf("u%d@example.com", i))
		if i%97 == 0 {
			th.fail(t0.Add(time.Hour/4-time.Second+time.Duration(i)*time.Millisecond), "198.51.100.1", "target@example.com")
		}
	}
	if a, e := th.size(); a > 100 || e > 100 {
		t.Fatalf("entries: %d addresses, %d emails; cap 100", a, e)
	}
	if wait, _ := th.retryAfter(t0.Add(time.Hour/4), "198.51.100.1"); !wait {
		t.Fatal("the guessing address was evicted")
	}
}

// BenchmarkThrottleSpray measures a failure from a new address when the
// throttle is full (every failure then prunes and evicts): the cost an
// attacker spraying addresses imposes, beside bcrypt's ~50 ms per try.
func BenchmarkThrottleSpray(b *testing.B) {
	t0 := time.Now()
	var th signInThrottle
	for i := 0; i < signInMaxEntries; i++ {
		th.fail(t0, fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), "a@example.com")
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		th.fail(t0.Add(time.Duration(i)*time.Microsecond), fmt.Sprintf("11.%d.%d.%d", i>>16&255, i>>8&255, i&255), "a@example.com")
	}
}
