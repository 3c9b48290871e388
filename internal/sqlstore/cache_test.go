package sqlstore

import (
	"testing"
	"time"
)

func TestTTLCache(t *testing.T) {
	var c ttlCache[int]
	t0 := time.Unix(1000, 0)
	gen := c.generation()
	c.put("a", 1, gen, t0)
	if v, ok := c.get("a", t0.Add(cacheTTL/2)); !ok || v != 1 {
		t.Fatalf("fresh value: %d, %v", v, ok)
	}
	if _, ok := c.get("a", t0.Add(cacheTTL+time.Millisecond)); ok {
		t.Fatal("a value older than cacheTTL was used")
	}
	// A read that began before a write committed is not stored after it.
	gen = c.generation()
	c.forget()
	c.put("a", 2, gen, t0)
	if _, ok := c.get("a", t0); ok {
		t.Fatal("a value read before forget was stored after it")
	}
	// The cache is bounded.
	gen = c.generation()
	for i := 0; i < cacheMax+10; i++ {
		c.put(string(rune('a'+i%26))+time.Duration(i).String(), i, gen, t0)
	}
	if n := len(c.m); n > cacheMax {
		t.Fatalf("%d entries, more than %d", n, cacheMax)
	}
}
