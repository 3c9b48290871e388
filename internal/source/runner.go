package source

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldhq/herald/internal/herald"
)

// Config tunes the runner; zero values take the documented defaults.
type Config struct {
	// Poll is how often the runner reads the sources again, to see what
	// another process (or a change it was not told of) changed (2 s).
	Poll time.Duration
	// MinBackoff and MaxBackoff bound the wait before a consumer whose
	// connection failed is run again; it doubles from the first to the
	// second (500 ms, 30 s) and starts over once a connection held.
	MinBackoff time.Duration
	MaxBackoff time.Duration
	// StopTimeout bounds how long a reload waits for a replaced consumer
	// to return (10 s); Stop waits as long as its context allows.
	StopTimeout time.Duration
}

func (c *Config) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d <= 0 {
			*d = v
		}
	}
	def(&c.Poll, 2*time.Second)
	def(&c.MinBackoff, 500*time.Millisecond)
	def(&c.MaxBackoff, 30*time.Second)
	def(&c.StopTimeout, 10*time.Second)
}

// Deps are what the runner works with.
type Deps struct {
	Store herald.SourceStore
	// Ingester is the delivery engine: the same path (validation, group
	// commit) as HTTP batch ingest.
	Ingester herald.Ingester
	// Consumers reads each type of broker; a source of a type without one
	// shows the error "no consumer for type …".
	Consumers map[herald.SourceType]Consumer
	Log       *slog.Logger
	// Registerer takes the herald_source_* metrics (nil: not exported).
	Registerer prometheus.Registerer
	Now        func() time.Time
}

// Runner runs one goroutine per unpaused source in this process, each
// calling its type's Consumer.Run again (with backoff) whenever it
// returns. It reloads the sources every Config.Poll and at once after
// Reload. Start and Stop bound its life: every goroutine it starts is
// counted, and Stop returns only when none is left.
type Runner struct {
	cfg       Config
	store     herald.SourceStore
	ingester  herald.Ingester
	consumers map[herald.SourceType]Consumer
	log       *slog.Logger
	metrics   *metrics
	now       func() time.Time

	ctx     context.Context // canceled by Stop
	cancel  context.CancelFunc
	reload  chan struct{}
	started atomic.Bool
	stopped atomic.Bool
	loop    sync.WaitGroup // the reconcile loop
	workers sync.WaitGroup // one per running source

	mu      sync.Mutex
	running map[string]*worker
	// loaded is closed after each reload, for tests waiting for one.
	loaded chan struct{}
}

// worker is one source's goroutine.
type worker struct {
	src     *herald.Source
	version string
	cancel  context.CancelFunc
	done    chan struct{}
	sink    *sink
}

// New returns a runner; Start starts it.
func New(cfg Config, d Deps) *Runner {
	cfg.defaults()
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Now == nil {
		d.Now = time.Now
	}
	ctx, cancel := context.WithCancel(context.Background())
	return &Runner{cfg: cfg, store: d.Store, ingester: d.Ingester, consumers: d.Consumers, log: d.Log, metrics: newMetrics(d.Registerer),
		now: func() time.Time { return d.Now().UTC().Truncate(time.Microsecond) },
		ctx: ctx, cancel: cancel, reload: make(chan struct{}, 1), running: map[string]*worker{}, loaded: make(chan struct{})}
}

// Start starts the reconcile loop; it returns at once.
func (r *Runner) Start() {
	if !r.started.CompareAndSwap(false, true) {
		return
	}
	r.loop.Add(1)
	go func() {
		defer r.loop.Done()
		r.run()
	}()
}

// Reload asks the runner to read the sources again now (herald.Service
// calls it after every change, through SourcesChanged).
func (r *Runner) Reload() {
	select {
	case r.reload <- struct{}{}:
	default:
	}
}

// Stop stops every consumer and waits for them until ctx ends. A batch
// being accepted is not acknowledged if its commit is cut short; the
// broker redelivers it.
func (r *Runner) Stop(ctx context.Context) {
	if !r.started.Load() || !r.stopped.CompareAndSwap(false, true) {
		return
	}
	r.cancel()
	r.loop.Wait()
	done := make(chan struct{})
	go func() { r.workers.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		r.log.Warn("source runner: consumers did not stop in time; abandoning them")
	}
}

// Loaded returns a channel closed after the next reload (for tests).
func (r *Runner) Loaded() <-chan struct{} {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.loaded
}

func (r *Runner) run() {
	t := time.NewTicker(r.cfg.Poll)
	defer t.Stop()
	for {
		r.reconcile()
		select {
		case <-r.ctx.Done():
			r.mu.Lock()
			for id, w := range r.running {
				w.cancel()
				delete(r.running, id)
			}
			r.mu.Unlock()
			return
		case <-t.C:
		case <-r.reload:
		}
	}
}

// version is what makes a running consumer stale: its configuration.
func version(src *herald.Source) string {
	return fmt.Sprintf("%d/%t", src.UpdatedAt.UnixMicro(), src.Paused)
}

// reconcile starts, restarts and stops workers to match the stored sources.
func (r *Runner) reconcile() {
	all, err := r.store.AllSources(r.ctx)
	if err != nil {
		if r.ctx.Err() == nil {
			r.log.Warn("source runner: cannot read the sources; trying again", "err", err)
		}
		return
	}
	want := map[string]*herald.Source{}
	for _, src := range all {
		want[src.ID] = src
	}
	r.mu.Lock()
	var stale []*worker
	for id, w := range r.running {
		src, ok := want[id]
		if !ok || version(src) != w.version {
			stale = append(stale, w)
			delete(r.running, id)
			if !ok {
				r.metrics.forget(id)
				r.metrics.messages.DeletePartialMatch(prometheus.Labels{"source": id})
			}
		}
	}
	r.mu.Unlock()
	for _, w := range stale {
		w.cancel()
		select {
		case <-w.done:
		case <-time.After(r.cfg.StopTimeout):
			r.log.Warn("source runner: a replaced consumer has not stopped yet", "source", w.src.Name)
		case <-r.ctx.Done():
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	for id, src := range want {
		if _, ok := r.running[id]; ok || r.ctx.Err() != nil {
			continue
		}
		r.metrics.info.WithLabelValues(src.ID, src.Name, string(src.Type)).Set(1)
		if src.Paused {
			r.metrics.setState(id, herald.SourcePaused)
			r.metrics.lag.DeleteLabelValues(id)
			continue
		}
		r.running[id] = r.startWorker(src)
	}
	// Paused sources keep no worker but are remembered, so a resume
	// (a new version) starts one.
	for id, src := range want {
		if src.Paused {
			if _, ok := r.running[id]; !ok {
				r.running[id] = &worker{src: src, version: version(src), cancel: func() {}, done: closedChan}
			}
		}
	}
	close(r.loaded)
	r.loaded = make(chan struct{})
}

var closedChan = func() chan struct{} { c := make(chan struct{}); close(c); return c }()

func (r *Runner) startWorker(src *herald.Source) *worker {
	ctx, cancel := context.WithCancel(r.ctx)
	w := &worker{src: src, version: version(src), cancel: cancel, done: make(chan struct{}), sink: newSink(r, src)}
	r.workers.Add(1)
	go func() {
		defer r.workers.Done()
		defer close(w.done)
		r.consume(ctx, w)
	}()
	return w
}

// consume runs the source's consumer until ctx ends, again after each
// failure with a backoff that doubles up to MaxBackoff.
func (r *Runner) consume(ctx context.Context, w *worker) {
	c, ok := r.consumers[w.src.Type]
	if !ok {
		w.sink.setState(herald.SourceError, fmt.Sprintf("this herald has no consumer for sources of type %s", w.src.Type))
		return
	}
	backoff := r.cfg.MinBackoff
	for attempt := 0; ctx.Err() == nil; attempt++ {
		w.sink.mu.Lock()
		if w.sink.state != herald.SourceError {
			w.sink.mu.Unlock()
			w.sink.setState(herald.SourceConnecting, "")
		} else {
			w.sink.mu.Unlock()
		}
		began := time.Now()
		err := runConsumer(ctx, c, w.src, w.sink)
		if ctx.Err() != nil {
			return
		}
		if err == nil {
			err = fmt.Errorf("the consumer returned without an error")
		}
		w.sink.setState(herald.SourceError, err.Error())
		if time.Since(began) > r.cfg.MaxBackoff {
			backoff = r.cfg.MinBackoff // the connection held a while: start over
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(backoff):
		}
		backoff = min(backoff*2, r.cfg.MaxBackoff)
	}
}

// runConsumer calls Run, turning a panic into an error so that one
// broken consumer cannot take the process down.
func runConsumer(ctx context.Context, c Consumer, src *herald.Source, s Sink) (err error) {
	defer func() {
		if p := recover(); p != nil {
			err = fmt.Errorf("consumer panicked: %v", p)
		}
	}()
	return c.Run(ctx, src, s)
}
