package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"
	"unicode/utf8"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/payload"
)

// FuzzDecodeAndValidate feeds arbitrary bodies through the strict decoder
// and the validation of every input type: never a panic, and every
// failure is a *herald.Error a client can act on.
func FuzzDecodeAndValidate(f *testing.F) {
	seeds := []string{
		`{"name":"x","event":"member.verified","endpoint_url":"https://a.example.com/{{ member.id }}","method":"POST","payload_type":"JSON","payload":"{}"}`,
		`{"endpoint":"https://x.example.com","type":"header","header":{"key":"X","value":"v","visibility":"SECRET"}}`,
		`{"custom_headers":[{"name":"Host","value":"x"}]}`, `{"header":{"secret":1}}`, `[]`, `null`, `{"a":`, "\xff", `{"name":"\u0000"}`,
		`{"endpoint_url":"https://{{x}}.example.com"}`, `{"endpoint_url":"http://[::1]:80/{{ a }}{% if %}"}`,
		`{"type":"member.verified","data":{"member":{"name":"Ana \xff"}}}`, `{"events":[{"type":"a","data":null},{"data":{"k\xc3":1}}]}`,
		`{"type":"x","data":{"a":[1,{"b":"\xed\xa0\x80"}]},"occurred_at":"2025-05-12T12:34:56Z"}`,
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		check := func(err error) {
			var e *herald.Error
			if err != nil && !errors.As(err, &e) {
				t.Fatalf("error %v (%T) is not a *herald.Error", err, err)
			}
		}
		var ws herald.WebhookSpec
		if err := decodeJSON(body, &ws); err != nil {
			check(err)
		} else {
			ws.Normalize()
			check(ws.Validate())
		}
		var as herald.AuthorizationSpec
		if err := decodeJSON(body, &as); err != nil {
			check(err)
		} else {
			as.Normalize()
			check(as.Validate())
		}
		var patch webhookPatch
		patch.WebhookSpec = &herald.WebhookSpec{}
		check(decodeJSON(body, &patch))
		// Events: text that is not UTF-8 is never accepted (encoding/json
		// would store U+FFFD instead), and the error names a field.
		var batch struct {
			Events []eventBody `json:"events"`
		}
		var ev eventBody
		for _, v := range []any{&ev, &batch} {
			err := decodeJSON(body, v)
			check(err)
			if err == nil && !utf8.Valid(body) {
				t.Fatalf("decoded a body that is not UTF-8: %q", body)
			}
			var e *herald.Error
			if errors.As(err, &e) && e.Code == herald.EInvalid && len(e.Fields) == 0 {
				t.Fatalf("invalid without a field: %v", err)
			}
		}
	})
}

// FuzzCreateWebhook sends arbitrary bodies to the real handler on a real
// SQLite store: the server answers, never with a 500, never crashing.
func FuzzCreateWebhook(f *testing.F) {
	f.Add([]byte(`{"name":"x","event":"member.verified","endpoint_url":"https://a.example.com/x","method":"POST","payload_type":"JSON","payload":"{\"a\": 1}"}`))
	f.Add([]byte(`{"name":"x","event":"member.verified","endpoint_url":"https://a.example.com/x","method":"GET","payload_type":"FORM","payload":""}`))
	f.Add([]byte(`{"authorization_enabled":true,"authorization_id":"01ARZ3NDEKTSV4RRFFQ69G5FAV"}`))
	store := openSQLite(f)
	svc := herald.NewService(store, nil)
	srv := newServer(f, Config{MaxBodyBytes: 64 << 10}, svc, payload.Previewer{}, fakeDelivery(), slog.New(slog.NewTextHandler(io.Discard, nil)))
	ws, err := store.EnsureWorkspace(t0(), herald.DefaultWorkspace)
	if err != nil {
		f.Fatal(err)
	}
	key, rec := herald.NewAPIKey(ws.ID, "fuzz", []herald.Scope{herald.ScopeAdmin}, ws.CreatedAt)
	if err := store.CreateAPIKey(t0(), rec); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, target := range []string{"/api/v1/webhooks", "/api/v1/authorizations", "/api/v1/event-types"} {
			req := httptest.NewRequest("POST", target, bytes.NewReader(body))
			req.Header.Set("Authorization", "Bearer "+key)
			w := httptest.NewRecorder()
			srv.ServeHTTP(w, req)
			if w.Code >= 500 {
				t.Fatalf("POST %s: %d %s", target, w.Code, w.Body)
			}
			if w.Code >= 400 {
				var p problem
				if w.Header().Get("Content-Type") != "application/problem+json" || json.Unmarshal(w.Body.Bytes(), &p) != nil || p.Status != w.Code {
					t.Fatalf("POST %s: %d not a problem document: %s", target, w.Code, w.Body)
				}
			} else if w.Code != http.StatusCreated {
				t.Fatalf("POST %s: unexpected %d", target, w.Code)
			}
		}
	})
}
