package sqlstore

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/heraldhq/herald/internal/herald"
)

// Option configures a store when its dialect package opens it.
type Option func(*Options)

// Options are the settings every store opener takes.
type Options struct {
	// Log receives the store's own lines (availability changes) and the
	// driver's (PostgreSQL notices, the LISTEN connection). Default:
	// slog.Default().
	Log *slog.Logger
	// IngestOnly says this process delivers nothing (serve --no-deliver):
	// its notifications ask the other processes to claim at once, where
	// a delivering process's own claim loop takes its own ingests.
	IngestOnly bool
}

// WithLogger sends the store's and the driver's log lines to log.
func WithLogger(log *slog.Logger) Option {
	return func(o *Options) { o.Log = log }
}

// WithIngestOnly marks the store of a process that delivers nothing.
func WithIngestOnly() Option {
	return func(o *Options) { o.IngestOnly = true }
}

// NewOptions applies opts to the defaults.
func NewOptions(opts ...Option) Options {
	var o Options
	for _, opt := range opts {
		opt(&o)
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	return o
}

// availability remembers whether the database is taking writes, so that
// an outage is logged once when it starts and once when it ends — not
// once per refused request (an API client retrying on 503, the claim loop
// polling), which buried the one line that mattered under thousands.
//
// The store marks it down whenever the dialect maps a driver error to
// herald.EUnavailable (mapErr), and up when a durable transaction that
// began during the outage commits (an ingest): a successful read, or a
// claim that wrote nothing, does not prove that a database whose disk is
// full takes writes again, and a transaction that began before the outage
// and squeezed its commit in as the server went down does not end it.
type availability struct {
	log    *slog.Logger
	down   atomic.Bool  // fast path for up(): one load when all is well
	outage atomic.Int64 // numbers the outages, so a commit ends only the one it began in

	mu      sync.Mutex
	since   time.Time // when the outage began
	refused int       // EUnavailable errors seen during it
}

// during returns the number of the current outage, or 0 when there is none.
func (a *availability) during() int64 {
	if !a.down.Load() {
		return 0
	}
	return a.outage.Load()
}

// fail records an EUnavailable error; the first of an outage is logged.
func (a *availability) fail(err error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.refused++
	if a.down.Load() {
		return
	}
	a.outage.Add(1)
	a.down.Store(true)
	a.since, a.refused = time.Now(), 1
	a.log.Warn("database unavailable; ingest answers 503 until it is back", "err", err)
}

// up records a durable commit of a transaction that began during outage
// (0: before any); the first that ends the current outage is logged.
func (a *availability) up(outage int64) {
	if outage == 0 || !a.down.Load() {
		return
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	if !a.down.Load() || a.outage.Load() != outage {
		return
	}
	a.down.Store(false)
	a.log.Info("database available again", "downtime", time.Since(a.since).Round(time.Millisecond).String(), "errors", a.refused)
}

// Available reports whether the database took the last write asked of
// it (false from the first EUnavailable error until a durable commit).
func (s *Store) Available() bool { return !s.avail.down.Load() }

// Outages counts the times the database became unavailable since the
// store opened.
func (s *Store) Outages() int64 { return s.avail.outage.Load() }

// noteErr tells the availability tracker about a mapped error.
func (s *Store) noteErr(err error) error {
	if herald.ErrorCodeOf(err) == herald.EUnavailable {
		s.avail.fail(err)
	}
	return err
}
