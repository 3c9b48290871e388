package api

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/storetest"
)

func natsSourceBody(password string) map[string]any {
	return map[string]any{"name": "orders", "type": "nats", "url": "nats://herald:" + password + "@127.0.0.1:4222",
		"nats":    map[string]any{"stream": "ORDERS", "subjects": []string{"orders.>"}},
		"mapping": map[string]any{"type_from": "header:Event-Type"}}
}

func TestSourceLifecycleAndMasking(t *testing.T) {
	stores(t, func(t *testing.T, open func(testing.TB) herald.Store) {
		e := setup(t, open(t), Config{})
		e.svc.Audit = e.store.(herald.AuditLog)
		const password = "nats-pass-0123456789"
		created := e.do("POST", "/api/v1/sources", natsSourceBody(password)).must(t, http.StatusCreated).json(t)
		id := created["id"].(string)
		if created["url"] != "nats://herald:••••@127.0.0.1:4222" || created["state"] != "connecting" || created["ingested"] != 0.0 ||
			created["lag"] != nil || created["last_message_at"] != nil {
			t.Fatalf("created %v; want the password masked and a fresh status", created)
		}
		mapping := created["mapping"].(map[string]any)
		if mapping["data_from"] != "body" || mapping["id_from"] != "message_id" || created["nats"].(map[string]any)["consumer"] != herald.DefaultNATSConsumer {
			t.Fatalf("defaults not filled: %v", created)
		}
		// Sending back what GET returned keeps the password; a new host with the mask keeps it too.
		got := e.do("GET", "/api/v1/sources/"+id, nil).must(t, http.StatusOK).json(t)
		e.do("PATCH", "/api/v1/sources/"+id, got).must(t, http.StatusOK)
		e.do("PATCH", "/api/v1/sources/"+id, map[string]any{"url": "nats://herald:••••@127.0.0.1:4223"}).must(t, http.StatusOK)
		src, err := e.svc.Source(context.Background(), wsID(t, e), id)
		if err != nil || src.URL != "nats://herald:"+password+"@127.0.0.1:4223" {
			t.Fatalf("stored url after PATCHes = %q, %v", src.URL, err)
		}
		patched := e.do("PATCH", "/api/v1/sources/"+id, map[string]any{"nats": map[string]any{"subjects": []string{"a.*", "b.>"}}}).must(t, http.StatusOK).json(t)
		if n := patched["nats"].(map[string]any); n["stream"] != "ORDERS" || len(n["subjects"].([]any)) != 2 {
			t.Fatalf("nats merge: %v", n)
		}
		// The type cannot change.
		errs := e.do("PATCH", "/api/v1/sources/"+id, map[string]any{"type": "amqp"}).must(t, http.StatusUnprocessableEntity).fieldErrors(t)
		if !strings.Contains(errs["type"], "cannot change") {
			t.Fatalf("type change errors = %v", errs)
		}
		if p := e.do("POST", "/api/v1/sources/"+id+"/pause", nil).must(t, http.StatusOK).json(t); p["paused"] != true || p["state"] != "paused" {
			t.Fatalf("paused = %v", p)
		}
		if p := e.do("POST", "/api/v1/sources/"+id+"/resume", nil).must(t, http.StatusOK).json(t); p["paused"] != false || p["state"] == "paused" {
			t.Fatalf("resumed = %v", p)
		}
		e.do("POST", "/api/v1/sources", natsSourceBody("x")).must(t, http.StatusConflict)

		// Status and rejected messages, as the runner records them.
		ss := e.store.(herald.SourceStore)
		ss.SetSourceState(context.Background(), id, herald.SourceError, "connection refused", time.Now())
		ss.RecordSourceProgress(context.Background(), id, herald.SourceProgress{Ingested: 7, LastMessageAt: time.Now(), Lag: 3})
		ss.RecordRejects(context.Background(), id, []*herald.SourceReject{{MessageID: "ORDERS:9", Reason: "body is not JSON", Raw: []byte("nope\xff"), RawSize: 5, At: time.Now()}})
		got = e.do("GET", "/api/v1/sources/"+id, nil).must(t, http.StatusOK).json(t)
		if got["state"] != "error" || got["last_error"] != "connection refused" || got["ingested"] != 7.0 || got["rejected"] != 1.0 || got["lag"] != 3.0 || got["last_message_at"] == nil {
			t.Fatalf("status = %v", got)
		}
		rj := e.do("GET", "/api/v1/sources/"+id+"/rejected", nil).must(t, http.StatusOK).json(t)
		items := rj["data"].([]any)
		if len(items) != 1 || items[0].(map[string]any)["reason"] != "body is not JSON" || items[0].(map[string]any)["raw"] != "nope\uFFFD" {
			t.Fatalf("rejected = %v", rj)
		}
		list := e.do("GET", "/api/v1/sources?type=nats", nil).must(t, http.StatusOK).json(t)
		if len(list["data"].([]any)) != 1 {
			t.Fatalf("list = %v", list)
		}
		e.do("GET", "/api/v1/sources?type=kafka", nil).must(t, http.StatusUnprocessableEntity)
		e.do("DELETE", "/api/v1/sources/"+id, nil).must(t, http.StatusNoContent)
		e.do("GET", "/api/v1/sources/"+id, nil).must(t, http.StatusNotFound)
		e.do("GET", "/api/v1/sources/"+id+"/rejected", nil).must(t, http.StatusNotFound)

		if strings.Contains(e.bodies.String(), password) || strings.Contains(e.logs.String(), password) {
			t.Fatal("the password left herald in a response or a log line")
		}
		entries, _, err := e.svc.Audit.ListAudit(context.Background(), wsID(t, e), herald.AuditFilter{ObjectID: id})
		var actions []string
		for _, a := range entries {
			actions = append(actions, a.Action)
			if strings.Contains(a.Summary, password) {
				t.Fatalf("audit summary %q holds the password", a.Summary)
			}
		}
		if err != nil || !strings.Contains(strings.Join(actions, " "), "source.delete") || !strings.Contains(strings.Join(actions, " "), "source.pause") ||
			!strings.Contains(strings.Join(actions, " "), "source.create") {
			t.Fatalf("audit actions = %v, %v", actions, err)
		}
	})
}

func TestSourceValidationNamesFields(t *testing.T) {
	e := setup(t, storetest.OpenSQLite(t), Config{})
	tests := []struct {
		name  string
		body  map[string]any
		field string
	}{
		{"no name", map[string]any{"type": "nats", "url": "nats://h:4222", "nats": map[string]any{"stream": "S"}, "mapping": map[string]any{"type_from": "field:type"}}, "name"},
		{"unknown type", map[string]any{"name": "a", "type": "kafka", "url": "nats://h:4222", "mapping": map[string]any{"type_from": "field:type"}}, "type"},
		{"no url", map[string]any{"name": "a", "type": "nats", "nats": map[string]any{"stream": "S"}, "mapping": map[string]any{"type_from": "field:type"}}, "url"},
		{"wrong scheme", map[string]any{"name": "a", "type": "amqp", "url": "nats://h:4222", "amqp": map[string]any{"queue": "q"}, "mapping": map[string]any{"type_from": "field:type"}}, "url"},
		{"no stream", map[string]any{"name": "a", "type": "nats", "url": "nats://h:4222", "mapping": map[string]any{"type_from": "field:type"}}, "nats.stream"},
		{"bad stream", map[string]any{"name": "a", "type": "nats", "url": "nats://h:4222", "nats": map[string]any{"stream": "a.b"}, "mapping": map[string]any{"type_from": "field:type"}}, "nats.stream"},
		{"bad subject", map[string]any{"name": "a", "type": "nats", "url": "nats://h:4222", "nats": map[string]any{"stream": "S", "subjects": []string{"ok", "a..b"}}, "mapping": map[string]any{"type_from": "field:type"}}, "nats.subjects[1]"},
		{"wrong object", map[string]any{"name": "a", "type": "nats", "url": "nats://h:4222", "nats": map[string]any{"stream": "S"}, "amqp": map[string]any{"queue": "q"}, "mapping": map[string]any{"type_from": "field:type"}}, "amqp"},
		{"no queue", map[string]any{"name": "a", "type": "amqp", "url": "amqp://h", "mapping": map[string]any{"type_from": "field:type"}}, "amqp.queue"},
		{"bad prefetch", map[string]any{"name": "a", "type": "amqp", "url": "amqp://h", "amqp": map[string]any{"queue": "q", "prefetch": -1}, "mapping": map[string]any{"type_from": "field:type"}}, "amqp.prefetch"},
		{"bad table", map[string]any{"name": "a", "type": "postgres_outbox", "url": "postgres://h/db", "outbox": map[string]any{"table": "x; DROP"}, "mapping": map[string]any{"type_from": "field:type"}}, "outbox.table"},
		{"no type_from", map[string]any{"name": "a", "type": "nats", "url": "nats://h:4222", "nats": map[string]any{"stream": "S"}, "mapping": map[string]any{}}, "mapping.type_from"},
		{"bad type_from", map[string]any{"name": "a", "type": "nats", "url": "nats://h:4222", "nats": map[string]any{"stream": "S"}, "mapping": map[string]any{"type_from": "subject"}}, "mapping.type_from"},
		{"unknown fixed type", map[string]any{"name": "a", "type": "nats", "url": "nats://h:4222", "nats": map[string]any{"stream": "S"}, "mapping": map[string]any{"type_from": "fixed:no.such"}}, "mapping.type_from"},
		{"bad data_from", map[string]any{"name": "a", "type": "nats", "url": "nats://h:4222", "nats": map[string]any{"stream": "S"}, "mapping": map[string]any{"type_from": "field:type", "data_from": "header:X"}}, "mapping.data_from"},
		{"bad id_from", map[string]any{"name": "a", "type": "nats", "url": "nats://h:4222", "nats": map[string]any{"stream": "S"}, "mapping": map[string]any{"type_from": "field:type", "id_from": "fixed:x"}}, "mapping.id_from"},
		{"unknown field", map[string]any{"name": "a", "type": "nats", "url": "nats://h:4222", "nats": map[string]any{"stream": "S", "durable": "x"}, "mapping": map[string]any{"type_from": "field:type"}}, "nats.durable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			errs := e.do("POST", "/api/v1/sources", tt.body).must(t, http.StatusUnprocessableEntity).fieldErrors(t)
			if errs[tt.field] == "" {
				t.Fatalf("errors = %v, want one naming %s", errs, tt.field)
			}
		})
	}
	// A fixed type the workspace knows is accepted.
	e.do("POST", "/api/v1/sources", map[string]any{"name": "a", "type": "nats", "url": "nats://h:4222", "nats": map[string]any{"stream": "S"},
		"mapping": map[string]any{"type_from": "fixed:member.verified"}}).must(t, http.StatusCreated)
}
