package sqlstore

import (
	"sync"
	"time"
)

// The read caches of the hot paths: the API key of every request and the
// webhooks of every claimed batch were each a query per event at a steady
// rate (7 % and 8 % of herald's CPU at 200 events/s). A write made
// through this Store empties the cache it concerns as soon as it commits;
// a write by another process sharing the database (PostgreSQL) is seen
// within cacheTTL: that long a revoked key may still be taken by another
// node, or an edited webhook delivered there with its previous settings.

// cacheTTL is how long a cached row is used before it is read again.
const cacheTTL = time.Second

// cacheMax bounds a cache's entries; a full cache starts over.
const cacheMax = 4096

// ttlCache holds values by key for cacheTTL. forget and put share a lock
// and a generation, so a value read before a write committed is never
// stored after the write emptied the cache.
type ttlCache[V any] struct {
	mu  sync.Mutex
	gen uint64
	m   map[string]cachedValue[V]
}

type cachedValue[V any] struct {
	v     V
	until time.Time
}

// get returns the value for key if it is fresh.
func (c *ttlCache[V]) get(key string, now time.Time) (V, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	e, ok := c.m[key]
	if !ok || now.After(e.until) {
		var zero V
		return zero, false
	}
	return e.v, true
}

// generation is taken before reading the database; put stores only if no
// forget came in between.
func (c *ttlCache[V]) generation() uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.gen
}

// put stores v for key, read at now, if the cache was not emptied since gen.
func (c *ttlCache[V]) put(key string, v V, gen uint64, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if gen != c.gen {
		return
	}
	if c.m == nil || len(c.m) >= cacheMax {
		c.m = make(map[string]cachedValue[V])
	}
	c.m[key] = cachedValue[V]{v: v, until: now.Add(cacheTTL)}
}

// forget empties the cache; call it after a write to what it holds has
// committed.
func (c *ttlCache[V]) forget() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.gen++
	c.m = nil
}
