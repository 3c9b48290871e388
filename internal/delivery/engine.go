package delivery

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/netguard"
	"github.com/heraldhq/herald/internal/payload"
)

// Config tunes the engine; zero values take the documented defaults.
type Config struct {
	MaxInFlight    int           // attempts in flight in this process (2048)
	ClaimBatch     int           // deliveries claimed per query (256)
	Lease          time.Duration // how long a claim is held before others may take it over (3 min; longer than any timeout)
	PollInterval   time.Duration // how often to look for work that other processes queued (250 ms)
	DefaultTimeout time.Duration // per attempt, unless the webhook sets one (15 s)
	// LogBodyBytes is the most of each request and response body an
	// attempt keeps (4 KiB; a webhook may set its own); successes keep at
	// most LogSuccessBodyBytes (1 KiB). NoBodies keeps none.
	LogBodyBytes        int
	LogSuccessBodyBytes int
	BodyTimeout         time.Duration // a response body must end this soon after its headers (5 s)
	Schedule            []time.Duration
	Endpoint            EndpointLimits // defaults: 256 in flight, no rate limit, breaker after 20 failures for 30 s (up to 10 min)
	DisableAfter        time.Duration  // unpublish a webhook failing this long without a success (5 days)
	FailingAlertAfter   time.Duration  // raise herald.webhook.failing after failing this long (1 h)
	SecretOverlap       time.Duration  // a rotated-out signing secret still signs this long (24 h)
	Retention           time.Duration  // purge attempts and finished events older than this (30 days; <0 keeps all)
	PurgeBatch          int            // rows per table in one purge transaction (64)
	PurgePause          time.Duration  // pause between purge transactions, so ingest never waits long (10 ms)
	UserAgent           string         // "herald/<version>"
	Location            *time.Location // for date-only template values (UTC)
}

func (c *Config) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	if c.MaxInFlight <= 0 {
		c.MaxInFlight = 2048
	}
	if c.ClaimBatch <= 0 {
		c.ClaimBatch = 256
	}
	def(&c.Lease, 3*time.Minute)
	def(&c.PollInterval, 250*time.Millisecond)
	def(&c.DefaultTimeout, 15*time.Second)
	switch {
	case c.LogBodyBytes == 0:
		c.LogBodyBytes = 4 << 10
	case c.LogBodyBytes < 0:
		c.LogBodyBytes = 0
	}
	switch {
	case c.LogSuccessBodyBytes == 0:
		c.LogSuccessBodyBytes = 1 << 10
	case c.LogSuccessBodyBytes < 0:
		c.LogSuccessBodyBytes = 0
	}
	def(&c.BodyTimeout, 5*time.Second)
	if len(c.Schedule) == 0 {
		c.Schedule = DefaultSchedule
	}
	if c.Endpoint.Concurrency == 0 {
		c.Endpoint.Concurrency = 256
	}
	if c.Endpoint.BreakerThreshold == 0 {
		c.Endpoint.BreakerThreshold = 20
	}
	def(&c.Endpoint.BreakerCooldown, 30*time.Second)
	def(&c.Endpoint.BreakerMax, 10*time.Minute)
	def(&c.DisableAfter, 5*24*time.Hour)
	def(&c.FailingAlertAfter, time.Hour)
	def(&c.SecretOverlap, 24*time.Hour)
	def(&c.Retention, 30*24*time.Hour)
	if c.PurgeBatch <= 0 {
		c.PurgeBatch = 64
	}
	def(&c.PurgePause, 10*time.Millisecond)
	if c.UserAgent == "" {
		c.UserAgent = "herald"
	}
}

// NoBodies, as LogBodyBytes or LogSuccessBodyBytes, keeps no body.
const NoBodies = -1

// Deps are the engine's collaborators; Clock, Policy, Metrics and Log
// default to the real clock, JitteredSchedule(±20 %), unregistered
// metrics and slog.Default.
type Deps struct {
	Service   *herald.Service
	Queue     herald.Queue
	Transport http.RoundTripper // default: netguard's transport with no allow-list
	Clock     Clock
	Policy    RetryPolicy
	Metrics   *Metrics
	Log       *slog.Logger
	// Listen, if set, wakes the claim loop when other processes queue
	// work (PostgreSQL LISTEN/NOTIFY), instead of waiting for the poll.
	Listen func(ctx context.Context, wake func()) error
}

// Engine ingests events and delivers them. It implements herald.Ingester
// and herald.DeliveryControl.
type Engine struct {
	cfg    Config
	svc    *herald.Service
	store  herald.Store
	queue  herald.Queue
	client *http.Client
	// redactors keeps the redactor of each set of secrets (redact.go).
	redactors redactorCache
	// baseTransport is Deps.Transport when it is an *http.Transport: the
	// clients that present a client certificate clone it.
	baseTransport *http.Transport
	creds         credentials
	certWarned    sync.Map // authorization id@revision@day → struct{}
	clock         Clock
	policy        RetryPolicy
	metrics       *Metrics
	log           *slog.Logger
	listen        func(ctx context.Context, wake func()) error
	cache         payload.Cache
	conds         payload.Conditions
	eps           endpoints

	wake     chan struct{}
	outcomes chan *herald.OutcomeRecord
	jobs     chan *job // to idle workers (see hand; cap MaxInFlight)
	inflight atomic.Int64
	// idleWorkers counts the worker goroutines waiting for a job (at
	// most ClaimBatch linger; see worker).
	idleWorkers atomic.Int64
	// starting is set while a worker started by growIfBehind has not
	// run yet.
	starting atomic.Bool
	// slotBound is set while the claim loop waits because every worker
	// slot is taken (see finished).
	slotBound atomic.Bool
	// claimIdle is set while the claim loop waits after a claim that
	// found nothing more due (see ingestLease).
	claimIdle atomic.Bool
	// ingestMu guards claimsStopped: once Stop sets it, no ingest
	// dispatches deliveries it claimed (see dispatchIngested).
	ingestMu      sync.RWMutex
	claimsStopped bool

	// ctx is the engine's base context: every goroutine the engine
	// starts runs on it or on a context derived from it. Stop cancels it
	// when shutdown's grace (Stop's ctx) ends, and at the latest when it
	// returns.
	ctx        context.Context
	cancel     context.CancelFunc
	stopClaims context.CancelFunc
	workers    sync.WaitGroup // jobs handed to workers and not yet finished
	goroutines sync.WaitGroup // worker goroutines, busy or idle
	loops      sync.WaitGroup // claim loop, janitor, listener
	bg         sync.WaitGroup // alerts and auto-disables (see background)
	bgMu       sync.Mutex
	bgClosed   bool // Stop is waiting for bg: no new background work
	writerDone chan struct{}
	started    atomic.Bool
	stopped    atomic.Bool // Stop ran (a second call returns at once)
	stopping   atomic.Bool

	hookEndpoint sync.Map // webhook id → endpoint key of its last attempt
	postponed    sync.Map // webhook id → the saturation end its deliveries were postponed to
	disabling    sync.Map // webhook id → struct{}: an auto-disable in progress
	alerted      sync.Map // webhook id → struct{}: failing alert raised
}

var (
	_ herald.Ingester        = (*Engine)(nil)
	_ herald.DeliveryControl = (*Engine)(nil)
	_ herald.EndpointMonitor = (*Engine)(nil)
)

// New returns an engine; Start begins delivering.
func New(cfg Config, d Deps) *Engine {
	cfg.defaults()
	if d.Clock == nil {
		d.Clock = realClock{}
	}
	if d.Policy == nil {
		d.Policy = JitteredSchedule{Jitter: 0.2, Rand: randFloat, MinRetryAfter: time.Second, MaxRetryAfter: 24 * time.Hour}
	}
	if d.Metrics == nil {
		d.Metrics = NewMetrics(prometheus.NewRegistry(), d.Queue)
	}
	if d.Log == nil {
		d.Log = slog.Default()
	}
	if d.Transport == nil {
		d.Transport = netguard.New(nil).Transport() // safe by default: no internal addresses
	}
	e := &Engine{cfg: cfg, svc: d.Service, store: d.Service.Store, queue: d.Queue, clock: d.Clock, policy: d.Policy, metrics: d.Metrics, log: d.Log, listen: d.Listen,
		wake: make(chan struct{}, 1), outcomes: make(chan *herald.OutcomeRecord, 4096), jobs: make(chan *job, cfg.MaxInFlight), writerDone: make(chan struct{})}
	e.client = &http.Client{Transport: d.Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	e.baseTransport, _ = d.Transport.(*http.Transport)
	e.cache.Location = cfg.Location
	e.eps.limits = cfg.Endpoint
	e.eps.log = d.Log
	e.metrics.registerEndpoints(e)
	e.eps.maxWaiting = cfg.MaxInFlight / 2
	e.eps.handBack = e.handBack
	e.ctx, e.cancel = context.WithCancel(context.Background())
	return e
}

// Wake tells the claim loop that work may be due (after an ingest, a
// retry, or — in tests — a clock step).
func (e *Engine) Wake() {
	select {
	case e.wake <- struct{}{}:
	default:
	}
}

// Start runs the claim loop, the outcome writer and the retention janitor.
func (e *Engine) Start() {
	if !e.started.CompareAndSwap(false, true) {
		return
	}
	ctx, cancel := context.WithCancel(e.ctx)
	e.stopClaims = cancel
	e.loops.Add(2)
	go func() { defer e.loops.Done(); e.claimLoop(ctx) }()
	go func() { defer e.loops.Done(); e.janitor(ctx) }()
	if e.listen != nil {
		e.loops.Add(1)
		go func() {
			defer e.loops.Done()
			if err := e.listen(ctx, e.Wake); err != nil {
				e.log.Warn("listening for other processes' work failed; polling instead", "err", err)
			}
		}()
	}
	go e.writeLoop()
}

// Stop stops claiming, lets attempts in flight finish until ctx ends,
// aborts the rest and hands them back to the queue (due at once, attempt
// not counted), and writes every outcome before it returns. Alerts and
// auto-disables under way get the rest of ctx too; when ctx ends they are
// canceled. No goroutine the engine started outlives Stop.
func (e *Engine) Stop(ctx context.Context) {
	if !e.started.Load() || !e.stopped.CompareAndSwap(false, true) {
		return
	}
	e.stopClaims()
	e.ingestMu.Lock()
	e.claimsStopped = true
	e.ingestMu.Unlock()
	e.loops.Wait()
	e.waitOrCancel(ctx, &e.workers)
	e.bgMu.Lock()
	e.bgClosed = true
	e.bgMu.Unlock()
	e.waitOrCancel(ctx, &e.bg)
	e.stopping.Store(true)
	close(e.outcomes)
	select {
	case <-e.writerDone:
	case <-ctx.Done():
		e.cancel() // the writer gives up after its current try
		<-e.writerDone
	}
	e.cancel()
	e.goroutines.Wait() // idle workers return once e.ctx is canceled
}

// waitOrCancel waits for wg; if ctx ends first, it cancels the engine's
// base context (aborting what wg counts) and waits for the rest.
func (e *Engine) waitOrCancel(ctx context.Context, wg *sync.WaitGroup) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		e.cancel()
		// Jobs parked for a busy endpoint have no goroutine to notice:
		// they go back to the queue, due now.
		e.eps.flush()
		<-done
	}
}

// background runs f on the engine's base context in a goroutine that
// Stop waits for. Once Stop has begun waiting for them, f is not started
// (it would outlive Stop) and background reports false.
func (e *Engine) background(f func(ctx context.Context)) bool {
	e.bgMu.Lock()
	defer e.bgMu.Unlock()
	if e.bgClosed {
		return false
	}
	e.bg.Add(1)
	go func() {
		defer e.bg.Done()
		f(e.ctx)
	}()
	return true
}

// EndpointHealth implements herald.EndpointMonitor: the endpoint's
// circuit breaker in this process.
func (e *Engine) EndpointHealth(endpoint string) herald.EndpointHealth {
	return e.eps.health(herald.EndpointKey(endpoint), e.clock.Now())
}

// logStoreError logs a failed store call. While the database is away
// (EUnavailable) the store itself logs one line per change of state, so
// the engine's retries, once a second or more, stay at debug.
func (e *Engine) logStoreError(msg string, err error, args ...any) {
	args = append([]any{"err", err}, args...)
	if herald.ErrorCodeOf(err) == herald.EUnavailable {
		e.log.Debug(msg, args...)
		return
	}
	e.log.Error(msg, args...)
}
