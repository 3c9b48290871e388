package web_test

import (
	"context"
	"fmt"
	"html"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/storetest"
	"github.com/heraldhq/herald/internal/web"
)

const (
	adminEmail    = "admin@example.com"
	adminPassword = "correct horse battery"
	setupToken    = "test-setup-token-0123456789"
)

// env is one UI over a real store, and a browser-like client (cookie jar,
// redirects not followed, so each step's status is checked).
type env struct {
	t       *testing.T
	srv     *httptest.Server
	client  *http.Client
	store   storetest.UsersStore
	svc     *herald.Service
	ws      string
	csrf    string
	reader  *fakeReader
	control *fakeControl
	rotator *fakeRotator
	ui      *web.Server
}

type options struct {
	storeReader bool // the store reads deliveries (no fake reader)
	store       func(testing.TB) storetest.UsersStore
	cfg         web.Config // SetupToken and BcryptCost are set by setup
	retention   time.Duration
	endpoints   herald.EndpointMonitor
}

func sqliteStore(t testing.TB) storetest.UsersStore   { return storetest.OpenSQLite(t) }
func postgresStore(t testing.TB) storetest.UsersStore { return storetest.OpenPostgres(t) }

// stores runs fn on SQLite and, when a server answers, PostgreSQL.
func stores(t *testing.T, fn func(t *testing.T, open func(testing.TB) storetest.UsersStore)) {
	t.Run("sqlite", func(t *testing.T) { t.Parallel(); fn(t, sqliteStore) })
	t.Run("postgres", func(t *testing.T) { t.Parallel(); fn(t, postgresStore) })
}

func setup(t *testing.T, opts ...options) *env {
	t.Helper()
	var o options
	if len(opts) > 0 {
		o = opts[0]
	}
	if o.store == nil {
		o.store = sqliteStore
	}
	st := o.store(t)
	ws, err := st.EnsureWorkspace(context.Background(), herald.DefaultWorkspace)
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, store: st, svc: herald.NewService(st, nil), ws: ws.ID}
	deps := testDeps(st, e.svc)
	e.reader, e.control, e.rotator = deps.Deliveries.(*fakeReader), deps.Control.(*fakeControl), deps.Secrets.(*fakeRotator)
	if o.endpoints != nil {
		deps.Endpoints = o.endpoints
	}
	if o.storeReader {
		deps.Deliveries = st.(herald.DeliveryReader)
	}
	cfg := o.cfg
	cfg.SetupToken, cfg.BcryptCost = setupToken, bcrypt.MinCost
	if o.retention != 0 {
		cfg.Retention = o.retention
	}
	ui, err := web.New(cfg, deps)
	if err != nil {
		t.Fatal(err)
	}
	e.ui = ui
	e.srv = httptest.NewServer(ui)
	t.Cleanup(e.srv.Close)
	jar, _ := cookiejar.New(nil)
	e.client = &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return e
}

// signedIn returns an env with an admin signed in.
func signedIn(t *testing.T, opts ...options) *env {
	e := setup(t, opts...)
	if _, err := web.CreateUser(context.Background(), e.store, e.ws, adminEmail, adminPassword, bcrypt.MinCost); err != nil {
		t.Fatal(err)
	}
	e.get("/login")
	res, _ := e.post("/login", url.Values{"email": {adminEmail}, "password": {adminPassword}})
	e.status(res, http.StatusSeeOther)
	return e
}

var csrfRE = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// get fetches a page and remembers its CSRF token.
func (e *env) get(path string) (*http.Response, string) {
	e.t.Helper()
	res, err := e.client.Get(e.srv.URL + path)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.read(res)
}

func (e *env) read(res *http.Response) (*http.Response, string) {
	e.t.Helper()
	b, err := io.ReadAll(res.Body)
	res.Body.Close()
	if err != nil {
		e.t.Fatal(err)
	}
	body := string(b)
	if m := csrfRE.FindStringSubmatch(body); m != nil {
		e.csrf = m[1]
	}
	return res, body
}

// post sends a form with the last page's CSRF token (unless the form sets
// its own csrf_token).
func (e *env) post(path string, form url.Values) (*http.Response, string) {
	e.t.Helper()
	if _, ok := form["csrf_token"]; !ok {
		form.Set("csrf_token", e.csrf)
	}
	res, err := e.client.PostForm(e.srv.URL+path, form)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.read(res)
}

// follow fetches a redirect's target.
func (e *env) follow(res *http.Response) (*http.Response, string) {
	e.t.Helper()
	loc := res.Header.Get("Location")
	if loc == "" {
		e.t.Fatalf("no redirect: %d", res.StatusCode)
	}
	return e.get(loc)
}

func (e *env) status(res *http.Response, want int) {
	e.t.Helper()
	if res.StatusCode != want {
		e.t.Fatalf("%s %s: status %d, want %d", res.Request.Method, res.Request.URL.Path, res.StatusCode, want)
	}
}

// contains checks that body has each string (HTML-unescaped body).
func contains(t *testing.T, body string, want ...string) {
	t.Helper()
	plain := html.UnescapeString(body)
	for _, w := range want {
		if !strings.Contains(plain, w) {
			t.Errorf("page lacks %q", w)
		}
	}
	if t.Failed() {
		t.Logf("page:\n%s", excerpt(body))
	}
}

func lacks(t *testing.T, body string, bad ...string) {
	t.Helper()
	plain := html.UnescapeString(body)
	for _, b := range bad {
		if strings.Contains(plain, b) || strings.Contains(body, b) {
			t.Errorf("page contains %q", b)
		}
	}
}

// fieldError checks that the field's input is marked invalid and its
// message sits next to it, saying msg.
func fieldError(t *testing.T, body, field, msg string) {
	t.Helper()
	id := "f-" + strings.NewReplacer("[", "-", "]", "", ".", "-").Replace(field)
	re := regexp.MustCompile(`(?s)<p class="field-error" id="` + regexp.QuoteMeta(id) + `-error">(.*?)</p>`)
	m := re.FindStringSubmatch(body)
	if m == nil {
		t.Errorf("no error shown for %s (#%s-error)", field, id)
		return
	}
	if !strings.Contains(html.UnescapeString(m[1]), msg) {
		t.Errorf("error of %s = %q, want it to say %q", field, html.UnescapeString(m[1]), msg)
	}
	if !regexp.MustCompile(`aria-invalid="true"[^>]*aria-describedby="[^"]*`+regexp.QuoteMeta(id)+`-error`).MatchString(body) &&
		!regexp.MustCompile(`aria-describedby="[^"]*`+regexp.QuoteMeta(id)+`-error"[^>]*aria-invalid="true"`).MatchString(body) {
		t.Errorf("input of %s is not marked aria-invalid and described by its error", field)
	}
}

func excerpt(body string) string {
	if i := strings.Index(body, `<main`); i >= 0 {
		body = body[i:]
	}
	if len(body) > 4000 {
		body = body[:4000] + "…"
	}
	return body
}

// fakePreviewer stands in for the template engine: it renders
// {{ member.email }} and {{ event.type }} and fails on "{{ oops".
type fakePreviewer struct{}

func (fakePreviewer) Preview(pt herald.PayloadType, src string, et *herald.EventType, vars map[string]any, loc *time.Location) ([]byte, []herald.FieldError, error) {
	if i := strings.Index(src, "{{ oops"); i >= 0 {
		return nil, nil, &herald.Error{Code: herald.EInvalid, Message: "template error",
			Fields: []herald.FieldError{{Field: "template", Message: "unexpected end of template", Line: 1, Column: i + 1}}}
	}
	out := src
	if m, ok := vars["member"].(map[string]any); ok {
		out = strings.ReplaceAll(out, "{{ member.email }}", fmt.Sprint(m["email"]))
		out = strings.ReplaceAll(out, "{{ member.id }}", fmt.Sprint(m["id"]))
	}
	if ev, ok := vars["event"].(map[string]any); ok {
		out = strings.ReplaceAll(out, "{{ event.type }}", fmt.Sprint(ev["type"]))
	}
	var warnings []herald.FieldError
	if strings.Contains(src, "{{ nothing }}") {
		warnings = append(warnings, herald.FieldError{Field: "template", Message: `"nothing" is not a variable of this event`, Line: 1, Column: 1})
	}
	return []byte(out), warnings, nil
}

// fakeReader is an in-memory DeliveryReader.
type fakeReader struct {
	mu         sync.Mutex
	attempts   []*herald.Attempt
	deliveries map[string]*herald.Delivery
	lastFilter herald.AttemptFilter
}

func (f *fakeReader) add(a *herald.Attempt) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.attempts = append(f.attempts, a)
	if f.deliveries == nil {
		f.deliveries = map[string]*herald.Delivery{}
	}
	if _, ok := f.deliveries[a.DeliveryID]; !ok {
		status := herald.DeliveryFailed
		if a.Outcome == herald.OutcomeSuccess {
			status = herald.DeliverySucceeded
		}
		f.deliveries[a.DeliveryID] = &herald.Delivery{ID: a.DeliveryID, WorkspaceID: a.WorkspaceID, WebhookID: a.WebhookID, EventID: a.EventID,
			Status: status, Attempts: a.Number, CreatedAt: a.StartedAt}
	}
}

func (f *fakeReader) Event(ctx context.Context, ws, id string) (*herald.Event, error) {
	return nil, herald.ErrNotFound
}

func (f *fakeReader) Delivery(ctx context.Context, ws, id string) (*herald.Delivery, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if d, ok := f.deliveries[id]; ok && d.WorkspaceID == ws {
		return d, nil
	}
	return nil, herald.ErrNotFound
}

func (f *fakeReader) ListDeliveries(ctx context.Context, ws, webhookID string, flt herald.DeliveryFilter) ([]*herald.Delivery, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []*herald.Delivery
	for _, d := range f.deliveries {
		if d.WorkspaceID == ws && d.WebhookID == webhookID && (flt.Status == "" || d.Status == flt.Status) {
			out = append(out, d)
		}
	}
	return out, "", nil
}

func (f *fakeReader) Attempt(ctx context.Context, ws, id string) (*herald.Attempt, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, a := range f.attempts {
		if a.ID == id && a.WorkspaceID == ws {
			return a, nil
		}
	}
	return nil, herald.ErrNotFound
}

func (f *fakeReader) ListAttempts(ctx context.Context, ws, webhookID string, flt herald.AttemptFilter) ([]*herald.Attempt, string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.lastFilter = flt
	var out []*herald.Attempt
	for i := len(f.attempts) - 1; i >= 0; i-- {
		a := f.attempts[i]
		if a.WorkspaceID != ws || a.WebhookID != webhookID || (flt.Outcome != "" && a.Outcome != flt.Outcome) {
			continue
		}
		if (!flt.Since.IsZero() && a.StartedAt.Before(flt.Since)) || (!flt.Until.IsZero() && !a.StartedAt.Before(flt.Until)) {
			continue
		}
		out = append(out, a)
	}
	return out, "", nil
}

func (f *fakeReader) AttemptStats(ctx context.Context, ws, webhookID string, since time.Time) ([]herald.AttemptStats, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	byHour := map[time.Time]*herald.AttemptStats{}
	var out []herald.AttemptStats
	for _, a := range f.attempts {
		if a.WebhookID != webhookID || a.StartedAt.Before(since) {
			continue
		}
		h := a.StartedAt.Truncate(time.Hour)
		if byHour[h] == nil {
			byHour[h] = &herald.AttemptStats{Hour: h}
		}
		if a.Outcome == herald.OutcomeSuccess {
			byHour[h].Successes++
		} else {
			byHour[h].Failures++
		}
	}
	for _, s := range byHour {
		out = append(out, *s)
	}
	return out, nil
}

// fakeControl records what the UI asked for.
type fakeControl struct {
	reader   *fakeReader
	mu       sync.Mutex
	retried  []string
	resent   []string
	testErr  error
	testSent int
	logTests bool // SendTest logs the attempt, as the engine does
	replays  [][2]time.Time
}

func (c *fakeControl) SendTest(ctx context.Context, ws, webhookID string) (*herald.Attempt, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.testErr != nil {
		return nil, c.testErr
	}
	c.testSent++
	a := &herald.Attempt{ID: herald.NewID(), WorkspaceID: ws, WebhookID: webhookID, DeliveryID: herald.NewID(), EventID: herald.NewID(), Number: 1,
		StartedAt: time.Now().UTC(), DurationMS: 12.5, Outcome: herald.OutcomeSuccess, RequestMethod: "POST", RequestURL: "https://hooks.example.com/in",
		RequestHeaders: []herald.Header{{Name: "Content-Type", Value: "application/json"}, {Name: "webhook-id", Value: "msg_test"}},
		RequestBody:    `{"test": true}`, ResponseStatus: 202, ResponseHeaders: []herald.Header{{Name: "X-Receiver", Value: "ok"}}, ResponseBody: "accepted by receiver"}
	if c.logTests {
		c.reader.add(a)
	}
	return a, nil
}

func (c *fakeControl) RetryDelivery(ctx context.Context, ws, id string) (*herald.Delivery, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.retried = append(c.retried, id)
	return &herald.Delivery{ID: id, Status: herald.DeliveryPending}, nil
}

func (c *fakeControl) ResendEvent(ctx context.Context, ws, eventID, webhookID string) (*herald.Delivery, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.resent = append(c.resent, eventID+"→"+webhookID)
	return &herald.Delivery{ID: herald.NewID(), Status: herald.DeliveryPending}, nil
}

func (c *fakeControl) ReplayFailed(ctx context.Context, ws, webhookID string, since, until time.Time) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.replays = append(c.replays, [2]time.Time{since, until})
	return 3, nil
}

// testDeps are the UI's dependencies over a real store: fakes of the
// delivery engine's parts (reader, controls, breakers, rotation) and of
// the previewer, which their own packages test against the real thing.
func testDeps(st storetest.UsersStore, svc *herald.Service) web.Deps {
	reader := &fakeReader{}
	return web.Deps{Service: svc, Users: st, Deliveries: reader, Control: &fakeControl{reader: reader},
		Previewer: fakePreviewer{}, Events: st.(herald.EventLister), Endpoints: &fakeMonitor{}, Secrets: &fakeRotator{store: st}}
}

// fakeMonitor is an EndpointMonitor that reports the circuits it was
// given (by endpoint key) and closed for every other endpoint.
type fakeMonitor struct {
	mu sync.Mutex
	by map[string]herald.EndpointHealth
}

func (m *fakeMonitor) set(h herald.EndpointHealth) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.by == nil {
		m.by = map[string]herald.EndpointHealth{}
	}
	m.by[h.Endpoint] = h
}

func (m *fakeMonitor) EndpointHealth(endpoint string) herald.EndpointHealth {
	m.mu.Lock()
	defer m.mu.Unlock()
	if h, ok := m.by[endpoint]; ok {
		return h
	}
	return herald.EndpointHealth{Endpoint: endpoint, State: herald.CircuitClosed}
}

// fakeRotator rotates through the store, as the service will.
type fakeRotator struct {
	store   herald.Store
	rotated int
}

func (r *fakeRotator) RotateSigningSecret(ctx context.Context, ws, id string) (*herald.Webhook, error) {
	w, err := r.store.Webhook(ctx, ws, id)
	if err != nil {
		return nil, err
	}
	w.SigningSecret = herald.NewSigningSecret()
	w.Revision++
	if err := r.store.UpdateWebhook(ctx, w); err != nil {
		return nil, err
	}
	r.rotated++
	return w, nil
}

func newJar() (http.CookieJar, error) { return cookiejar.New(nil) }

var regexpKey = regexp.MustCompile(`id="new-key" class="code" readonly value="(hrld_[A-Za-z0-9_-]+)"`)
