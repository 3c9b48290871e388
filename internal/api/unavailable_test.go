package api

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/delivery"
	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/payload"
	"github.com/heraldhq/herald/internal/sqlstore"
	"github.com/heraldhq/herald/internal/storetest"
)

// post sends body to path with key and returns the raw answer, whatever
// its status (env.do fails the test on a 5xx).
func post(t *testing.T, url, key, body string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest("POST", url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return res, data
}

// withEngine serves the API with a real delivery engine (not started: it
// ingests, delivers nothing) on store, logging to log.
func withEngine(t *testing.T, store *sqlstore.Store, log io.Writer) *httptest.Server {
	t.Helper()
	svc := herald.NewService(store, nil)
	engine := delivery.New(delivery.Config{}, delivery.Deps{Service: svc, Queue: store, Log: slogTo(io.Discard)})
	srv := httptest.NewServer(newServer(t, Config{}, svc, payload.Previewer{}, Delivery{Ingester: engine, Control: engine, Reader: store, Rotate: engine.RotateSecret}, slogTo(log)))
	t.Cleanup(srv.Close)
	return srv
}

// checkUnavailable asserts the answer is the documented 503.
func checkUnavailable(t *testing.T, res *http.Response, body []byte) {
	t.Helper()
	var p problem
	if res.StatusCode != http.StatusServiceUnavailable || json.Unmarshal(body, &p) != nil {
		t.Fatalf("status %d, want 503 problem\n%s", res.StatusCode, body)
	}
	if res.Header.Get("Retry-After") != "2" || res.Header.Get("Content-Type") != "application/problem+json" ||
		p.Type != "urn:herald:problem:unavailable" || p.Status != 503 || p.Title != "Service unavailable" {
		t.Fatalf("Retry-After %q, Content-Type %q, problem %+v", res.Header.Get("Retry-After"), res.Header.Get("Content-Type"), p)
	}
	if strings.Contains(p.Detail, "SQLITE") || strings.Contains(p.Detail, "full") {
		t.Fatalf("detail shows the driver's error: %q", p.Detail)
	}
}

// A real SQLITE_FULL (PRAGMA max_page_count on the one write connection):
// ingest answers 503 with Retry-After, the outage is logged once, nothing
// is half-written, and ingest works again when there is room.
func TestIngestWhenSQLiteIsFull(t *testing.T) {
	storeLog := &syncBuffer{}
	store := storetest.OpenSQLite(t, sqlstore.WithLogger(slogTo(storeLog)))
	e := setup(t, store, Config{})
	for _, name := range []string{"a", "b"} {
		wh := validWebhook()
		wh["name"], wh["event"] = name, "member.verified"
		id := e.createWebhook(wh)["id"].(string)
		e.do("POST", "/api/v1/webhooks/"+id+"/publish", nil).must(t, http.StatusOK)
	}
	apiLog := &syncBuffer{}
	srv := withEngine(t, store, apiLog)

	ws, err := store.EnsureWorkspace(t0(), herald.DefaultWorkspace)
	if err != nil {
		t.Fatal(err)
	}
	db := store.DB()
	var pages int
	if err := db.QueryRow(`PRAGMA page_count`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(fmt.Sprintf(`PRAGMA max_page_count = %d`, pages+8)); err != nil {
		t.Fatal(err)
	}
	padding := strings.Repeat("x", 1500)
	var accepted []string
	var refused int
	batchRefused := false
	for i := 0; i < 2000 && refused < 10; i++ {
		body := fmt.Sprintf(`{"type": "member.verified", "data": {"n": %d, "pad": %q}}`, i, padding)
		path := "/api/v1/events"
		if i%5 == 4 {
			path = "/api/v1/events/batch"
			body = `{"events": [` + body + `, ` + body + `]}`
		}
		res, data := post(t, srv.URL+path, e.key, body)
		switch res.StatusCode {
		case http.StatusAccepted:
			if refused > 0 {
				t.Fatalf("event %d accepted after the database was full: %s", i, data)
			}
			if path == "/api/v1/events" {
				var r herald.IngestResult
				json.Unmarshal(data, &r)
				accepted = append(accepted, r.EventID)
			} else {
				var r struct{ Results []herald.IngestResult }
				json.Unmarshal(data, &r)
				for _, x := range r.Results {
					accepted = append(accepted, x.EventID)
				}
			}
		default:
			checkUnavailable(t, res, data)
			refused++
			batchRefused = batchRefused || path == "/api/v1/events/batch"
		}
	}
	if refused == 0 || len(accepted) == 0 {
		t.Fatalf("%d accepted, %d refused: max_page_count did not fill the database", len(accepted), refused)
	}
	res, data := post(t, srv.URL+"/api/v1/events/batch", e.key, `{"events": [{"type": "member.verified", "data": {"pad": "`+padding+`"}}]}`)
	checkUnavailable(t, res, data)

	// Nothing half-written: exactly the accepted events, each with its two
	// deliveries.
	consistent := func() {
		t.Helper()
		var events, deliveries, short int
		db.QueryRow(`SELECT COUNT(*) FROM events`).Scan(&events)
		db.QueryRow(`SELECT COUNT(*) FROM deliveries`).Scan(&deliveries)
		db.QueryRow(`SELECT COUNT(*) FROM events e WHERE (SELECT COUNT(*) FROM deliveries d WHERE d.event_id = e.id) != 2`).Scan(&short)
		if events != len(accepted) || deliveries != 2*len(accepted) || short != 0 {
			t.Fatalf("%d events and %d deliveries stored (%d events without both deliveries) for %d accepted", events, deliveries, short, len(accepted))
		}
		for _, id := range accepted {
			if _, err := store.Event(t0(), ws.ID, id); err != nil {
				t.Fatalf("accepted event %s: %v", id, err)
			}
		}
	}
	consistent()
	if n := strings.Count(storeLog.String(), `msg="database unavailable; ingest answers 503`); n != 1 {
		t.Fatalf("%d unavailable lines for %d refused requests, want 1:\n%s", n, refused+1, storeLog)
	}
	if strings.Contains(apiLog.String(), "level=ERROR") || strings.Contains(storeLog.String(), "available again") {
		t.Fatalf("API log:\n%s\nstore log:\n%s", apiLog, storeLog)
	}
	if store.Available() {
		t.Fatal("store reports available while full")
	}

	// Room again: the next event is accepted and the recovery logged once.
	if _, err := db.Exec(`PRAGMA max_page_count = 1073741823`); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 3; i++ {
		res, data = post(t, srv.URL+"/api/v1/events", e.key, `{"type": "member.verified", "data": {"after": true}}`)
		if res.StatusCode != http.StatusAccepted {
			t.Fatalf("after the limit was lifted: %d %s", res.StatusCode, data)
		}
		var r herald.IngestResult
		json.Unmarshal(data, &r)
		accepted = append(accepted, r.EventID)
	}
	consistent()
	if n := strings.Count(storeLog.String(), `msg="database available again"`); n != 1 || !strings.Contains(storeLog.String(), "downtime=") || !store.Available() {
		t.Fatalf("%d available-again lines, want 1:\n%s", n, storeLog)
	}
	t.Logf("%d events accepted, %d requests refused with 503 while full; one line each for the outage and the recovery", len(accepted), refused+1)
}

// The document promises what TestIngestWhenSQLiteIsFull and the outage
// test in cmd/herald observe: 503 with Retry-After on the ingest routes.
func TestOpenAPIDocumentsUnavailable(t *testing.T) {
	doc := oaDoc(t)
	ops := oaOperations(t, doc)
	for _, route := range []string{"POST /events", "POST /events/batch"} {
		op := ops[route]
		if op == nil {
			t.Fatalf("%s not in the document", route)
		}
		resp, ok := oaPath(op, "responses", "503")
		if !ok {
			t.Fatalf("%s: no 503 answer", route)
		}
		resp = oaResolve(doc, resp)
		if _, ok := oaPath(resp, "headers", "Retry-After"); !ok {
			t.Errorf("%s: the 503 answer has no Retry-After header", route)
		}
		if typ, _ := oaPath(resp, "content", "application/problem+json", "example", "type"); typ != "urn:herald:problem:unavailable" {
			t.Errorf("%s: the 503 example's type is %v", route, typ)
		}
	}
}
