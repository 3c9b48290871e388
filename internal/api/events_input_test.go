package api

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/storetest"
)

// Invalid UTF-8 and data: null are refused with a 422 naming the field,
// never stored as something the client did not send (encoding/json would
// turn the bytes into U+FFFD; null used to become {}).
func TestEventInputHonesty(t *testing.T) {
	store := storetest.OpenSQLite(t)
	e := setup(t, store, Config{})
	srv := withEngine(t, store, &syncBuffer{})
	cases := []struct {
		name, path, body, field, message string
	}{
		{"invalid UTF-8 in data", "/api/v1/events", "{\"type\": \"member.verified\", \"data\": {\"member\": {\"name\": \"Ana \xff\"}}}", "data.member.name", "not valid UTF-8"},
		{"invalid UTF-8 in a list", "/api/v1/events", "{\"type\": \"member.verified\", \"data\": {\"tags\": [\"a\", \"b\xc3\"]}}", "data.tags[1]", "not valid UTF-8"},
		{"invalid UTF-8 in a key", "/api/v1/events", "{\"type\": \"member.verified\", \"data\": {\"n\xe9\": 1}}", "data", "key that is not valid UTF-8"},
		{"invalid UTF-8 in type", "/api/v1/events", "{\"type\": \"member.verified\xff\", \"data\": {}}", "type", "not valid UTF-8"},
		{"invalid UTF-8 in a batch", "/api/v1/events/batch", "{\"events\": [{\"type\": \"member.verified\"}, {\"type\": \"member.verified\"}, {\"type\": \"member.verified\"}, {\"type\": \"member.verified\", \"data\": {\"member\": {\"name\": \"\xed\xa0\x80\"}}}]}", "events[3].data.member.name", "not valid UTF-8"},
		{"data null", "/api/v1/events", `{"type": "member.verified", "data": null}`, "data", "not null"},
		{"data null in a batch", "/api/v1/events/batch", `{"events": [{"type": "member.verified", "data": {}}, {"type": "member.verified", "data": null}]}`, "events[1].data", "not null"},
		{"data null in a batch of one", "/api/v1/events/batch", `{"events": [{"type": "member.verified", "data": null}]}`, "events[0].data", "not null"},
		{"data a list", "/api/v1/events", `{"type": "member.verified", "data": [1]}`, "data", "must be a JSON object"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			res, body := post(t, srv.URL+c.path, e.key, c.body)
			if res.StatusCode != http.StatusUnprocessableEntity {
				t.Fatalf("status %d, want 422\n%s", res.StatusCode, body)
			}
			var p problem
			json.Unmarshal(body, &p)
			if len(p.Errors) != 1 || p.Errors[0].Field != c.field || !strings.Contains(p.Errors[0].Message, c.message) {
				t.Fatalf("errors %+v, want one for %s containing %q", p.Errors, c.field, c.message)
			}
		})
	}
	var n int
	store.DB().QueryRow(`SELECT COUNT(*) FROM events`).Scan(&n)
	if n != 0 {
		t.Fatalf("%d events stored from refused requests", n)
	}

	// Left out, data is an event without variables; valid UTF-8 (escaped
	// or not) is kept exactly.
	res, body := post(t, srv.URL+"/api/v1/events", e.key, `{"type": "member.verified"}`)
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("data left out: %d %s", res.StatusCode, body)
	}
	res, body = post(t, srv.URL+"/api/v1/events", e.key, `{"type": "member.verified", "data": {"name": "Ana Šuštar \ud83d\ude00 😀"}}`)
	if res.StatusCode != http.StatusAccepted {
		t.Fatalf("UTF-8: %d %s", res.StatusCode, body)
	}
	var stored string
	store.DB().QueryRow(`SELECT data FROM events WHERE data != '{}'`).Scan(&stored)
	if stored != `{"name":"Ana Šuštar \ud83d\ude00 😀"}` {
		t.Fatalf("stored %q", stored)
	}
}

func TestJSONPathAt(t *testing.T) {
	doc := `{"a": 1, "b": {"c": [10, {"d": "x"}], "e": "y"}, "f": [[1, 2], [3]]}`
	cases := map[string]string{`1`: "a", `10`: "b.c[0]", `"x"`: "b.c[1].d", `"y"`: "b.e", `2`: "f[0][1]", `3`: "f[1][0]"}
	for token, want := range cases {
		off := strings.Index(doc, token)
		if got, key, ok := jsonPathAt([]byte(doc), int64(off)); !ok || key || got != want {
			t.Errorf("%s at %d: %q %v %v, want %q", token, off, got, key, ok, want)
		}
	}
	if got, key, ok := jsonPathAt([]byte(doc), int64(strings.Index(doc, `"d"`))); !ok || !key || got != "b.c[1]" {
		t.Errorf("key d: %q %v %v", got, key, ok)
	}
	if _, _, ok := jsonPathAt([]byte(`{"a": 1,, "b": "x"}`), 12); ok {
		t.Error("malformed JSON before the offset: ok")
	}
}
