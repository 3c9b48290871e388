package delivery

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/netguard"
	"github.com/heraldhq/herald/internal/payload"
)

// Config tunes the engine; zero values take the documented defaults.
type Config struct {
	MaxInFlight    int           // attempts in flight in this process (256)
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
	jobs     chan *job // to idle workers
	inflight atomic.Int64

	workCtx    context.Context // canceled when shutdown's grace ends
	cancelWork context.CancelFunc
	stopClaims context.CancelFunc
	workers    sync.WaitGroup
	loops      sync.WaitGroup
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
		wake: make(chan struct{}, 1), outcomes: make(chan *herald.OutcomeRecord, 4096), jobs: make(chan *job), writerDone: make(chan struct{})}
	e.client = &http.Client{Transport: d.Transport, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	e.baseTransport, _ = d.Transport.(*http.Transport)
	e.cache.Location = cfg.Location
	e.eps.limits = cfg.Endpoint
	e.eps.log = d.Log
	e.metrics.registerEndpoints(e)
	e.eps.maxWaiting = cfg.MaxInFlight / 2
	e.workCtx, e.cancelWork = context.WithCancel(context.Background())
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
	ctx, cancel := context.WithCancel(context.Background())
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
// not counted), and writes every outcome before it returns.
func (e *Engine) Stop(ctx context.Context) {
	if !e.started.Load() || !e.stopped.CompareAndSwap(false, true) {
		return
	}
	e.stopClaims()
	e.loops.Wait()
	done := make(chan struct{})
	go func() { e.workers.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
		e.cancelWork()
		<-done
	}
	e.stopping.Store(true)
	close(e.outcomes)
	<-e.writerDone
	e.cancelWork()
}

func (e *Engine) claimLoop(ctx context.Context) {
	for ctx.Err() == nil {
		free := e.cfg.MaxInFlight - int(e.inflight.Load())
		want := min(free, e.cfg.ClaimBatch)
		if want > 0 {
			e.postponeSaturated(ctx)
			claims, err := e.queue.ClaimDeliveries(ctx, e.clock.Now(), e.cfg.Lease, want)
			if err != nil {
				if ctx.Err() != nil {
					return
				}
				e.logStoreError("claim deliveries", err)
				sleep(ctx, time.Second)
				continue
			}
			if len(claims) > 0 {
				e.dispatch(claims)
			}
			if len(claims) == want {
				continue // there may be more due
			}
		}
		timer := time.NewTimer(e.cfg.PollInterval)
		select {
		case <-ctx.Done():
			timer.Stop()
			return
		case <-e.wake:
		case <-timer.C:
		}
		timer.Stop()
	}
}

// postponeSaturated moves the queued deliveries of webhooks whose
// endpoint is saturated past the saturation, in one statement per newly
// saturated endpoint, so claims stop picking deliveries that would only
// wait and be handed back — a hanging receiver then costs almost nothing.
func (e *Engine) postponeSaturated(ctx context.Context) {
	now := e.clock.Now()
	if !e.eps.anySaturated(now) {
		return // the common case: no walk over every webhook per claim
	}
	var hooks []string
	var until time.Time
	e.hookEndpoint.Range(func(k, v any) bool {
		u, ok := e.eps.saturation(v.(string), now)
		if !ok {
			return true
		}
		if done, seen := e.postponed.Load(k); seen && !done.(time.Time).Before(u) {
			return true // already postponed for this saturation
		}
		e.postponed.Store(k, u)
		hooks = append(hooks, k.(string))
		until = later(until, u)
		return len(hooks) < 500
	})
	if len(hooks) == 0 {
		return
	}
	// A bounded slice, the soonest due: what the claims would pick next.
	n, err := e.queue.PostponeDue(ctx, hooks, now, until, postponeSlice)
	if err != nil {
		if ctx.Err() == nil {
			e.log.Warn("postpone deliveries of a saturated endpoint", "err", err)
		}
		return
	}
	e.metrics.Deliveries.WithLabelValues("deferred").Add(float64(n))
}

// postponeSlice bounds one postponement: enough to keep the next claims
// off a saturated endpoint, never a rewrite of a deep queue.
const postponeSlice = 1024

func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
	case <-t.C:
	}
}

// job is one claim with what it needs.
type job struct {
	claim *herald.Claim
	event *herald.Event
	vars  map[string]any
	hook  *herald.Webhook
	auth  *herald.Authorization
}

// dispatch loads the events, webhooks and authorizations of a batch of
// claims in three queries and starts one worker per claim. If the batch
// cannot be loaded (say, one webhook's secret does not decrypt), each
// claim is loaded alone, so one broken row holds back only its own
// deliveries: they wait a minute, with the reason on the delivery.
func (e *Engine) dispatch(claims []*herald.Claim) {
	events, hooks, auths, err := e.load(claims)
	if err != nil {
		if len(claims) == 1 {
			e.log.Error("load claimed delivery; it waits a minute", "delivery", claims[0].ID, "err", err)
			rec := deferral(claims[0], nil, e.clock.Now().Add(time.Minute))
			rec.LastError = "cannot load the delivery: " + err.Error()
			e.emit(rec)
			return
		}
		for _, c := range claims {
			e.dispatch([]*herald.Claim{c})
		}
		return
	}
	e.start(claims, events, hooks, auths)
}

func (e *Engine) load(claims []*herald.Claim) (map[string]*herald.Event, map[string]*herald.Webhook, map[string]*herald.Authorization, error) {
	ctx := context.Background()
	evIDs, hookIDs := make([]string, 0, len(claims)), make([]string, 0, 4)
	seenEv, seenHook := map[string]bool{}, map[string]bool{}
	for _, c := range claims {
		if !seenEv[c.EventID] {
			seenEv[c.EventID] = true
			evIDs = append(evIDs, c.EventID)
		}
		if !seenHook[c.WebhookID] {
			seenHook[c.WebhookID] = true
			hookIDs = append(hookIDs, c.WebhookID)
		}
	}
	events, err := e.queue.EventsByID(ctx, evIDs)
	if err != nil {
		return nil, nil, nil, err
	}
	hooks, err := e.queue.WebhooksByID(ctx, hookIDs)
	if err != nil {
		return nil, nil, nil, err
	}
	var authIDs []string
	for _, w := range hooks {
		if w.AuthorizationEnabled {
			authIDs = append(authIDs, w.AuthorizationID)
		}
	}
	auths, err := e.queue.AuthorizationsByID(ctx, authIDs)
	if err != nil {
		return nil, nil, nil, err
	}
	return events, hooks, auths, nil
}

// start hands each claim to a worker.
func (e *Engine) start(claims []*herald.Claim, events map[string]*herald.Event, hooks map[string]*herald.Webhook, auths map[string]*herald.Authorization) {
	varsOf := make(map[string]map[string]any, len(events))
	for _, c := range claims {
		j := &job{claim: c, event: events[c.EventID], hook: hooks[c.WebhookID]}
		if j.event != nil {
			if j.vars = varsOf[c.EventID]; j.vars == nil {
				j.vars = eventVars(j.event)
				varsOf[c.EventID] = j.vars
			}
		}
		if j.hook != nil && j.hook.AuthorizationEnabled {
			j.auth = auths[j.hook.AuthorizationID]
		}
		e.inflight.Add(1)
		e.workers.Add(1)
		select {
		case e.jobs <- j: // an idle worker takes it
		default:
			go e.worker(j)
		}
	}
}

// worker runs jobs until it has been idle for a while. Reusing
// goroutines keeps their grown stacks: a fresh goroutine per delivery
// spends measurable time growing its stack for the HTTP call.
func (e *Engine) worker(j *job) {
	idle := time.NewTimer(workerIdle)
	defer idle.Stop()
	for {
		e.emit(e.attempt(j, false))
		e.finished()
		idle.Reset(workerIdle)
		select {
		case j = <-e.jobs:
		case <-idle.C:
			return
		case <-e.workCtx.Done(): // stopped
			return
		}
	}
}

const workerIdle = 10 * time.Second

// finished frees a worker slot and wakes the claim loop when a good
// share of slots is free again (not after every single completion, which
// would turn into one claim query per delivery).
func (e *Engine) finished() {
	n := e.inflight.Add(-1)
	e.workers.Done()
	free := e.cfg.MaxInFlight - int(n)
	if free >= max(1, min(e.cfg.ClaimBatch, e.cfg.MaxInFlight)/4) || n == 0 {
		e.Wake()
	}
}

// eventVars is what a template sees: the data plus "event".
func eventVars(ev *herald.Event) map[string]any {
	vars := make(map[string]any, len(ev.Data)+1)
	for k, v := range ev.Data {
		vars[k] = v
	}
	vars["event"] = map[string]any{"id": ev.ID, "type": ev.Type, "created_at": ev.OccurredAt.UTC().Format(time.RFC3339)}
	return vars
}

func deferral(c *herald.Claim, hook *herald.Webhook, until time.Time) *herald.OutcomeRecord {
	return &herald.OutcomeRecord{DeliveryID: c.ID, WebhookID: c.WebhookID, Token: c.Token, Status: herald.DeliveryPending, NextAttemptAt: until,
		LastStatus: c.LastStatus, LastError: c.LastError, At: until, Ordered: hook != nil && hook.Ordered}
}

func final(c *herald.Claim, hook *herald.Webhook, status herald.DeliveryStatus, reason string, at time.Time) *herald.OutcomeRecord {
	return &herald.OutcomeRecord{DeliveryID: c.ID, WebhookID: c.WebhookID, Token: c.Token, Status: status, Reason: reason,
		LastStatus: c.LastStatus, LastError: c.LastError, At: at, Ordered: hook != nil && hook.Ordered}
}

// attempt decides and, when it may, makes one attempt of a delivery. A
// test send (test=true) is never retried and always logged.
func (e *Engine) attempt(j *job, test bool) *herald.OutcomeRecord {
	c, w := j.claim, j.hook
	now := e.clock.Now()
	switch {
	case j.event == nil:
		return final(c, w, herald.DeliveryCanceled, "the event no longer exists", now)
	case w == nil:
		return final(c, w, herald.DeliveryCanceled, "webhook deleted", now)
	case w.Status != herald.Published && !test && !j.event.Test:
		return final(c, w, herald.DeliveryCanceled, "webhook unpublished", now)
	case !test && e.beingDisabled(w.ID):
		// Unpublished a moment ago (410 Gone, or failing too long) by a
		// goroutine that may not have committed yet: this claim loaded
		// the webhook before.
		return final(c, w, herald.DeliveryCanceled, "webhook unpublished", now)
	case !test && w.FailingSince != nil && e.cfg.DisableAfter > 0 && now.Sub(*w.FailingSince) >= e.cfg.DisableAfter:
		reason := fmt.Sprintf("disabled automatically: every delivery failed since %s (more than %s)", w.FailingSince.UTC().Format(time.RFC3339), e.cfg.DisableAfter)
		e.disable(w, reason)
		return final(c, w, herald.DeliveryCanceled, reason, now)
	}
	compiled, err := e.cache.Get(w, e.svc.Location(context.Background(), w.WorkspaceID))
	var req *payload.Request
	if err == nil {
		req, err = compiled.Render(j.vars)
	}
	if err != nil {
		// A template that cannot render this event will not render it
		// on a retry either: fail for good and say why.
		return e.unsendable(j, herald.ErrClassTemplate, err.Error(), now, test)
	}
	if w.AuthorizationEnabled {
		if j.auth == nil {
			return e.unsendable(j, herald.ErrClassBlocked, "the webhook's authorization no longer exists", now, test)
		}
		if !j.auth.InScope(req.URL) {
			return e.unsendable(j, herald.ErrClassBlocked, fmt.Sprintf("the rendered URL %s lies outside the authorization's endpoint %s; credentials are not sent there", req.URL, j.auth.Endpoint), now, test)
		}
	}
	key := endpointKey(req.URL)
	e.hookEndpoint.Store(w.ID, key)
	adm := e.eps.acquire(key, now, c.Attempts > 0, e.workCtx.Done())
	if !adm.ok {
		e.metrics.Deliveries.WithLabelValues("deferred").Inc()
		rec := deferral(c, w, adm.deferUntil)
		rec.LastError = adm.reason
		return rec
	}
	e.metrics.InFlight.Inc()
	s := e.send(e.workCtx, req, c, w, j.auth)
	e.metrics.InFlight.Dec()
	done := e.clock.Now()
	e.eps.release(key, done, adm.probe, s.success, s.health)
	if e.workCtx.Err() != nil && !s.success {
		// Shutdown aborted the call: hand the delivery back, due now.
		return deferral(c, w, done)
	}
	e.metrics.AttemptSeconds.WithLabelValues(string(s.attempt.Outcome)).Observe(s.attempt.DurationMS / 1000)
	e.metrics.Attempts.WithLabelValues(string(s.attempt.Outcome), string(s.attempt.ErrorClass)).Inc()
	rec := &herald.OutcomeRecord{DeliveryID: c.ID, WebhookID: c.WebhookID, Token: c.Token, Counted: true, LastStatus: s.status,
		LastError: s.attempt.Error, At: done, Ordered: w.Ordered}
	if !s.success || !w.LogOnlyErrors || test {
		rec.Attempt = s.attempt
	}
	switch {
	case s.success:
		rec.Status = herald.DeliverySucceeded
		e.metrics.Deliveries.WithLabelValues("succeeded").Inc()
		e.alerted.Delete(w.ID)
	case s.status == http.StatusGone && !test:
		rec.Status, rec.Reason = herald.DeliveryFailed, "the receiver answered 410 Gone"
		e.metrics.Deliveries.WithLabelValues("failed").Inc()
		e.disable(w, "unpublished: the receiver answered 410 Gone for delivery "+c.ID)
	default:
		delay, ok := e.policy.Next(ParseScheduleOr(w.RetrySchedule, e.cfg.Schedule), c.Attempts+1, s.retryAfter)
		if ok && !test && !j.event.Test {
			rec.Status, rec.NextAttemptAt = herald.DeliveryPending, done.Add(delay)
			e.metrics.Deliveries.WithLabelValues("retried").Inc()
			e.maybeFailingAlert(w, done)
		} else {
			rec.Status = herald.DeliveryFailed
			if !test && !j.event.Test {
				rec.Reason = fmt.Sprintf("failed after %d attempts", c.Attempts+1)
				e.exhausted(j, rec)
			}
			e.metrics.Deliveries.WithLabelValues("failed").Inc()
		}
	}
	return rec
}

// ParseScheduleOr is ParseSchedule with the engine's default.
func ParseScheduleOr(s []string, def []time.Duration) []time.Duration {
	if len(s) == 0 {
		return def
	}
	return ParseSchedule(s)
}

// unsendable records a delivery that cannot be sent as configured.
func (e *Engine) unsendable(j *job, class herald.ErrorClass, msg string, now time.Time, test bool) *herald.OutcomeRecord {
	c := j.claim
	a := &herald.Attempt{ID: herald.NewID(), WorkspaceID: c.WorkspaceID, DeliveryID: c.ID, WebhookID: c.WebhookID, EventID: c.EventID,
		Number: c.Attempts + 1, StartedAt: now.UTC(), Outcome: herald.OutcomeFailure, ErrorClass: class, Error: msg, RequestMethod: j.hook.Method,
		RequestURL: j.hook.EndpointURL, RequestHeaders: []herald.Header{}}
	rec := final(c, j.hook, herald.DeliveryFailed, msg, now)
	rec.Counted, rec.LastError, rec.Attempt = true, msg, a
	e.metrics.Deliveries.WithLabelValues("failed").Inc()
	e.metrics.Attempts.WithLabelValues(string(a.Outcome), string(class)).Inc()
	if !test && !j.event.Test {
		e.exhausted(j, rec)
	}
	return rec
}

// endpointKey is scheme://host:port, the unit of isolation.
func endpointKey(raw string) string { return herald.EndpointKey(raw) }

// EndpointHealth implements herald.EndpointMonitor: the endpoint's
// circuit breaker in this process.
func (e *Engine) EndpointHealth(endpoint string) herald.EndpointHealth {
	return e.eps.health(herald.EndpointKey(endpoint), e.clock.Now())
}

// emit hands an outcome to the writer.
func (e *Engine) emit(rec *herald.OutcomeRecord) { e.outcomes <- rec }

// writeLoop records outcomes in batches: one transaction for all that
// are waiting. A failed write is retried (the outcomes are not dropped;
// meanwhile leases may expire, which at worst repeats a delivery).
func (e *Engine) writeLoop() {
	defer close(e.writerDone)
	batch := make([]*herald.OutcomeRecord, 0, 512)
	for rec := range e.outcomes {
		batch = append(batch[:0], rec)
	fill:
		for len(batch) < cap(batch) {
			select {
			case r, ok := <-e.outcomes:
				if !ok {
					break fill
				}
				batch = append(batch, r)
			default:
				break fill
			}
		}
		for try, wait := 1, 100*time.Millisecond; ; try, wait = try+1, min(2*wait, 10*time.Second) {
			err := e.queue.RecordOutcomes(context.Background(), batch)
			if err == nil {
				break
			}
			if e.stopping.Load() && try >= 5 {
				// Shutting down with the database away: these deliveries
				// are still pending under their lease and go out again
				// after it (at least once, never lost).
				e.log.Error("record delivery outcomes; giving up at shutdown, the deliveries will be retried after their lease", "err", err, "count", len(batch))
				break
			}
			e.logStoreError("record delivery outcomes; retrying", err, "count", len(batch))
			time.Sleep(wait)
		}
		e.Wake()
	}
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

// disable unpublishes a webhook (410 Gone or failing too long), cancels
// its pending deliveries and raises herald.webhook.disabled.
func (e *Engine) disable(w *herald.Webhook, reason string) {
	if _, busy := e.disabling.LoadOrStore(w.ID, struct{}{}); busy {
		return
	}
	go func() {
		defer e.disabling.Delete(w.ID)
		ctx := herald.WithActor(context.Background(), "herald")
		if _, err := e.svc.UnpublishWebhook(ctx, w.WorkspaceID, w.ID, reason); err != nil {
			e.log.Error("auto-disable webhook", "webhook", w.ID, "err", err)
			return
		}
		e.log.Warn("webhook disabled", "webhook", w.ID, "reason", reason)
		e.alert(ctx, w.WorkspaceID, "herald.webhook.disabled", map[string]any{"webhook": webhookInfo(w), "reason": reason})
	}()
}

func (e *Engine) beingDisabled(webhookID string) bool {
	_, busy := e.disabling.Load(webhookID)
	return busy
}

func (e *Engine) maybeFailingAlert(w *herald.Webhook, now time.Time) {
	if w.FailingSince == nil || now.Sub(*w.FailingSince) < e.cfg.FailingAlertAfter || alertsOnly(w.Events) {
		return
	}
	if _, done := e.alerted.LoadOrStore(w.ID, struct{}{}); done {
		return
	}
	e.log.Warn("webhook failing: no delivery has succeeded for a while", "webhook", w.ID, "name", w.Name,
		"failing_since", w.FailingSince.UTC().Format(time.RFC3339), "disabled_after", e.cfg.DisableAfter)
	go e.alert(context.Background(), w.WorkspaceID, "herald.webhook.failing", map[string]any{"webhook": webhookInfo(w),
		"failing_since": w.FailingSince.UTC().Format(time.RFC3339)})
}

func (e *Engine) exhausted(j *job, rec *herald.OutcomeRecord) {
	if strings.HasPrefix(j.event.Type, "herald.") {
		return // no alert about an alert: that could loop
	}
	data := map[string]any{"webhook": webhookInfo(j.hook), "delivery": map[string]any{"id": j.claim.ID, "event_id": j.event.ID,
		"event_type": j.event.Type, "attempts": j.claim.Attempts + 1, "last_status": rec.LastStatus, "last_error": rec.LastError}}
	go e.alert(context.Background(), j.claim.WorkspaceID, "herald.delivery.exhausted", data)
}

func webhookInfo(w *herald.Webhook) map[string]any {
	events := make([]any, len(w.Events))
	for i, e := range w.Events {
		events[i] = e
	}
	return map[string]any{"id": w.ID, "name": w.Name, "event": w.Event, "events": events, "endpoint_url": w.EndpointURL}
}

// alertsOnly reports whether a webhook receives only herald's own alerts
// (no alert is raised about it: that could loop).
func alertsOnly(events []string) bool {
	for _, e := range events {
		if !strings.HasPrefix(e, herald.AlertPrefix) {
			return false
		}
	}
	return len(events) > 0
}

// alert raises one of herald's own events in the workspace; admins
// subscribe to them like to any other event type.
func (e *Engine) alert(ctx context.Context, workspaceID, typ string, data map[string]any) {
	raw, err := json.Marshal(data)
	if err == nil {
		_, err = e.ingest(ctx, workspaceID, []herald.EventInput{{Type: typ, Data: raw}}, true)
	}
	if err != nil {
		e.log.Error("raise alert", "type", typ, "err", err)
	}
}

// MaxBatchEvents bounds one ingest call.
const MaxBatchEvents = 1000

// Ingest validates events and stores them with their deliveries; when it
// returns nil they are on disk. herald's own event types (herald.…) are
// refused: only herald raises them.
func (e *Engine) Ingest(ctx context.Context, workspaceID string, inputs []herald.EventInput) ([]herald.IngestResult, error) {
	return e.ingest(ctx, workspaceID, inputs, false)
}

func (e *Engine) ingest(ctx context.Context, workspaceID string, inputs []herald.EventInput, internal bool) ([]herald.IngestResult, error) {
	var v herald.Validation
	if len(inputs) > MaxBatchEvents {
		v.Add("events", "at most %d events per batch", MaxBatchEvents)
		return nil, v.Err()
	}
	now := e.clock.Now().UTC().Truncate(time.Microsecond)
	reqs := make([]*herald.IngestRequest, len(inputs))
	for i, in := range inputs {
		prefix := ""
		if len(inputs) > 1 {
			prefix = fmt.Sprintf("events[%d].", i)
		}
		ev := &herald.Event{ID: herald.NewID(), WorkspaceID: workspaceID, Type: strings.TrimSpace(in.Type), OccurredAt: now, ReceivedAt: now}
		switch known, err := e.svc.KnownEventType(ctx, workspaceID, ev.Type); {
		case err != nil:
			return nil, err
		case ev.Type == "":
			v.Add(prefix+"type", "is required")
		case !known:
			known := e.knownTypes(ctx, workspaceID)
			if near := herald.Closest(ev.Type, known); near != "" {
				v.Add(prefix+"type", "unknown event type %q — did you mean %q? Known types: %s", ev.Type, near, strings.Join(known, ", "))
			} else {
				v.Add(prefix+"type", "unknown event type %q; known types: %s", ev.Type, strings.Join(known, ", "))
			}
		case strings.HasPrefix(ev.Type, "herald.") && !internal:
			v.Add(prefix+"type", "%q is one of herald's own alerts; only herald raises them", ev.Type)
		}
		data := bytes.TrimSpace(in.Data)
		switch {
		case len(data) == 0: // data left out: an event without variables
			ev.RawData = []byte("{}")
		case bytes.Equal(data, []byte("null")):
			// Refused rather than stored as {}: a null is more often a bug
			// in the sender than a deliberate "no variables".
			v.Add(prefix+"data", "must be a JSON object of the event's variables, not null; send {} (or leave data out) for an event without variables")
		case data[0] != '{':
			v.Add(prefix+"data", "must be a JSON object of the event's variables, e.g. {\"member\": {…}}")
		case !utf8.Valid(data):
			v.Add(prefix+"data", "is not valid UTF-8; send text as UTF-8")
		default:
			var buf bytes.Buffer
			if err := json.Compact(&buf, data); err != nil {
				v.Add(prefix+"data", "is not valid JSON: %v", err)
			}
			ev.RawData = buf.Bytes()
		}
		if in.OccurredAt != nil {
			ev.OccurredAt = in.OccurredAt.UTC().Truncate(time.Microsecond)
		}
		key := in.IdempotencyKey
		if key == "" {
			key = in.ID
		}
		if len(key) > 255 {
			v.Add(prefix+"idempotency_key", "must be at most 255 characters")
		}
		ev.IdempotencyKey = key
		reqs[i] = &herald.IngestRequest{Event: ev}
	}
	if err := v.Err(); err != nil {
		return nil, err
	}
	router := &ingestRouter{conds: &e.conds, loc: e.svc.Location(ctx, workspaceID)}
	for _, r := range reqs {
		r.Router = router
	}
	if err := e.queue.Ingest(ctx, reqs); err != nil {
		return nil, fmt.Errorf("store events: %w", err)
	}
	e.countRouting(reqs)
	out := make([]herald.IngestResult, len(reqs))
	fresh := 0
	for i, r := range reqs {
		out[i] = r.Result
		if !r.Result.Duplicate {
			fresh++
		}
	}
	e.metrics.EventsIngested.Add(float64(fresh))
	e.Wake()
	return out, nil
}

// knownTypes lists the workspace's event types, sorted.
func (e *Engine) knownTypes(ctx context.Context, workspaceID string) []string {
	types, err := e.svc.EventTypes(ctx, workspaceID)
	if err != nil {
		return []string{"(unavailable)"}
	}
	keys := make([]string, len(types))
	for i, t := range types {
		keys[i] = t.Key
	}
	sort.Strings(keys)
	return keys
}

// SendTest implements herald.DeliveryControl: the catalog's sample event,
// sent now, logged, never retried.
func (e *Engine) SendTest(ctx context.Context, workspaceID, webhookID string) (*herald.Attempt, error) {
	w, err := e.store.Webhook(ctx, workspaceID, webhookID)
	if err != nil {
		return nil, err
	}
	types, err := e.svc.CoveredEventTypes(ctx, workspaceID, w.Events)
	if err != nil {
		return nil, err
	}
	if len(types) == 0 {
		return nil, &herald.Error{Code: herald.EConflict, Message: "the webhook's event types match no known type: there is no sample to send"}
	}
	et := types[0]
	raw, err := json.Marshal(et.Sample)
	if err != nil {
		return nil, fmt.Errorf("encode sample: %w", err)
	}
	now := e.clock.Now().UTC().Truncate(time.Microsecond)
	ev := &herald.Event{ID: herald.NewID(), WorkspaceID: workspaceID, Type: et.Key, OccurredAt: now, ReceivedAt: now, RawData: raw, Test: true}
	if err := e.queue.Ingest(ctx, []*herald.IngestRequest{{Event: ev}}); err != nil {
		return nil, fmt.Errorf("store test event: %w", err)
	}
	if err := herald.DecodeJSON(raw, &ev.Data); err != nil {
		return nil, err
	}
	claim, err := e.queue.CreateClaimedDelivery(ctx, workspaceID, ev.ID, w.ID, now, e.cfg.Lease)
	if err != nil {
		return nil, fmt.Errorf("create test delivery: %w", err)
	}
	j := &job{claim: claim, event: ev, vars: eventVars(ev), hook: w}
	if w.AuthorizationEnabled {
		if j.auth, err = e.store.Authorization(ctx, workspaceID, w.AuthorizationID); err != nil && herald.ErrorCodeOf(err) != herald.ENotFound {
			return nil, err
		}
	}
	rec := e.attempt(j, true)
	if rec.Status == herald.DeliveryPending {
		// Not sent (endpoint busy or circuit open): a test is now or never.
		rec.Status, rec.Reason, rec.NextAttemptAt = herald.DeliveryCanceled, "test not sent: "+rec.LastError, time.Time{}
	}
	if err := e.queue.RecordOutcomes(ctx, []*herald.OutcomeRecord{rec}); err != nil {
		return nil, fmt.Errorf("record test attempt: %w", err)
	}
	if rec.Attempt == nil {
		return nil, &herald.Error{Code: herald.EConflict, Message: "the test was not sent: " + rec.LastError}
	}
	return rec.Attempt, nil
}

// RetryDelivery implements herald.DeliveryControl.
func (e *Engine) RetryDelivery(ctx context.Context, workspaceID, deliveryID string) (*herald.Delivery, error) {
	d, err := e.queue.RetryDelivery(ctx, workspaceID, deliveryID, e.clock.Now())
	e.Wake()
	return d, err
}

// ResendEvent implements herald.DeliveryControl.
func (e *Engine) ResendEvent(ctx context.Context, workspaceID, eventID, webhookID string) (*herald.Delivery, error) {
	d, err := e.queue.CreateDelivery(ctx, workspaceID, eventID, webhookID, e.clock.Now())
	e.Wake()
	return d, err
}

// ReplayFailed implements herald.DeliveryControl.
func (e *Engine) ReplayFailed(ctx context.Context, workspaceID, webhookID string, since, until time.Time) (int, error) {
	if _, err := e.store.Webhook(ctx, workspaceID, webhookID); err != nil {
		return 0, err
	}
	n, err := e.queue.ReplayFailed(ctx, workspaceID, webhookID, since, until, e.clock.Now())
	e.Wake()
	return n, err
}

// RotateSecret gives the webhook a new signing secret; the old one keeps
// signing (a second signature) for the overlap period.
func (e *Engine) RotateSecret(ctx context.Context, workspaceID, webhookID string) (*herald.Webhook, error) {
	w, err := e.store.Webhook(ctx, workspaceID, webhookID)
	if err != nil {
		return nil, err
	}
	fresh := herald.NewSigningSecret()
	expires := e.clock.Now().Add(e.cfg.SecretOverlap).UTC().Truncate(time.Microsecond)
	if err := e.queue.SetSigningSecrets(ctx, workspaceID, webhookID, fresh, w.SigningSecret, expires); err != nil {
		return nil, fmt.Errorf("rotate secret of %s: %w", webhookID, err)
	}
	e.svc.RecordAudit(ctx, workspaceID, "webhook.rotate_secret", "webhook", webhookID, "previous secret valid until "+expires.Format(time.RFC3339))
	return e.store.Webhook(ctx, workspaceID, webhookID)
}
