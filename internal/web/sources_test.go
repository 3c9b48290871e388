package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/storetest"
)

func sourceForm(name string) url.Values {
	return url.Values{"name": {name}, "type": {"nats"}, "url": {"nats://herald:pa55-w0rd-secret@127.0.0.1:4222"},
		"nats.stream": {"ORDERS"}, "nats.consumer": {"herald"}, "nats.subjects": {"orders.>\norders.created"},
		"mapping.type_from": {"header:Event-Type"}, "mapping.data_from": {"body"}, "mapping.id_from": {"message_id"},
		"amqp.queue": {"ignored"}, "outbox.table": {"ignored"}}
}

func TestSourcePages(t *testing.T) {
	stores(t, func(t *testing.T, open func(testing.TB) storetest.UsersStore) {
		e := signedIn(t, options{store: open})
		_, body := e.get("/sources")
		contains(t, body, "No sources yet", "Add a source")
		_, body = e.get("/sources/new")
		contains(t, body, "NATS JetStream", "AMQP (RabbitMQ)", "PostgreSQL outbox", `value="header:Event-Type"`)

		// A form that fails names each field next to its input.
		bad := sourceForm("")
		bad.Set("nats.stream", "a.b")
		bad.Set("nats.subjects", "ok\nbad..subject")
		bad.Set("mapping.type_from", "subject")
		res, body := e.post("/sources", bad)
		e.status(res, http.StatusUnprocessableEntity)
		fieldError(t, body, "name", "is required")
		fieldError(t, body, "nats.stream", "must not contain")
		fieldError(t, body, "nats.subjects[1]", "is not a NATS subject")
		fieldError(t, body, "mapping.type_from", "header:NAME")
		lacks(t, body, "pa55-w0rd-secret")

		res, _ = e.post("/sources", sourceForm("orders"))
		e.status(res, http.StatusSeeOther)
		res, body = e.follow(res)
		e.status(res, http.StatusOK)
		contains(t, body, "orders", "Connecting", "nats://herald:••••@127.0.0.1:4222", "ORDERS", "orders.>", "orders.created", "None yet")
		lacks(t, body, "pa55-w0rd-secret")
		id := strings.TrimPrefix(res.Request.URL.Path, "/sources/")
		src, err := e.svc.Source(context.Background(), e.ws, id)
		if err != nil || src.URL != "nats://herald:pa55-w0rd-secret@127.0.0.1:4222" || src.AMQP != nil || src.Outbox != nil || len(src.NATS.Subjects) != 2 {
			t.Fatalf("stored %+v, %v", src, err)
		}

		// The edit form shows the URL masked; saving it keeps the password.
		_, body = e.get("/sources/" + id + "/edit")
		contains(t, body, `value="nats://herald:••••@127.0.0.1:4222"`)
		lacks(t, body, "pa55-w0rd-secret")
		edit := sourceForm("orders-eu")
		edit.Set("url", "nats://herald:••••@127.0.0.1:4223")
		res, _ = e.post("/sources/"+id, edit)
		e.status(res, http.StatusSeeOther)
		src, _ = e.svc.Source(context.Background(), e.ws, id)
		if src.Name != "orders-eu" || src.URL != "nats://herald:pa55-w0rd-secret@127.0.0.1:4223" {
			t.Fatalf("after edit: %q %q", src.Name, src.URL)
		}

		// What the runner records shows on the page: state, counts, error, rejects.
		ss := e.store.(herald.SourceStore)
		ss.SetSourceState(context.Background(), id, herald.SourceError, "dial tcp 127.0.0.1:4223: connection refused", time.Now())
		ss.RecordSourceProgress(context.Background(), id, herald.SourceProgress{Ingested: 12345, LastMessageAt: time.Now(), Lag: 17})
		ss.RecordRejects(context.Background(), id, []*herald.SourceReject{{MessageID: "ORDERS:42", Subject: "orders.created", Reason: "body is not JSON: invalid character", Raw: []byte("<xml/>"), RawSize: 6, At: time.Now()}})
		_, body = e.get("/sources/" + id)
		contains(t, body, "Error", "connection refused", "12,345", "17 waiting in the broker", "ORDERS:42", "body is not JSON", "<xml/>")
		_, body = e.get("/sources")
		contains(t, body, "orders-eu", "12,345", "Error")

		res, _ = e.post("/sources/"+id+"/pause", url.Values{})
		e.status(res, http.StatusSeeOther)
		_, body = e.follow(res)
		contains(t, body, "paused", "Paused", "Resume")
		res, _ = e.post("/sources/"+id+"/resume", url.Values{})
		e.status(res, http.StatusSeeOther)
		_, body = e.follow(res)
		contains(t, body, "resumed", "Pause")

		_, body = e.get("/sources/" + id + "/delete")
		contains(t, body, "Delete the source “orders-eu”?")
		res, _ = e.post("/sources/"+id+"/delete", url.Values{})
		e.status(res, http.StatusSeeOther)
		res, _ = e.get("/sources/" + id)
		e.status(res, http.StatusNotFound)
	})
}
