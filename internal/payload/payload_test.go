package payload

import (
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/herald"
)

func eventType(t *testing.T, key string) *herald.EventType {
	for _, et := range herald.BuiltInEventTypes() {
		if et.Key == key {
			return et
		}
	}
	t.Fatalf("no event type %s", key)
	return nil
}

func spec(method string, pt herald.PayloadType, url, body string, headers ...herald.Header) *herald.WebhookSpec {
	return &herald.WebhookSpec{Method: method, PayloadType: pt, EndpointURL: url, Payload: body, CustomHeaders: headers}
}

func TestRenderRequest(t *testing.T) {
	et := eventType(t, "coupon.redeemed")
	vars := et.SampleVars()
	vars["member"] = map[string]any{"id": "a/b c", "email": "ana+vip@example.com"}
	cases := []struct {
		name                      string
		spec                      *herald.WebhookSpec
		wantURL, wantBody, wantCT string
		wantHeader                string
	}{
		{"json post, path and query escaped", spec("POST", herald.PayloadJSON, "https://api.example.com/m/{{ member.id }}?e={{ member.email }}", `{"id": "{{ member.id }}"}`,
			herald.Header{Name: "X-Member", Value: "{{ member.id }}"}),
			"https://api.example.com/m/a%2Fb%20c?e=ana%2Bvip%40example.com", `{"id": "a/b c"}`, "application/json", "a/b c"},
		{"get form becomes the query", spec("GET", herald.PayloadForm, "https://api.example.com/track?v=1", `email={{ member.email }}`),
			"https://api.example.com/track?v=1&email=ana%2Bvip%40example.com", "", "", ""},
		{"get with no payload", spec("GET", herald.PayloadForm, "https://api.example.com/ping", ""), "https://api.example.com/ping", "", "", ""},
		{"xml put", spec("PUT", herald.PayloadXML, "https://api.example.com/x", `<m id="{{ member.id }}"/>`), "https://api.example.com/x", `<m id="a/b c"/>`, "application/xml", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			compiled, err := Compile(c.spec, nil)
			if err != nil {
				t.Fatal(err)
			}
			r, err := compiled.Render(vars)
			if err != nil {
				t.Fatal(err)
			}
			if r.URL != c.wantURL || string(r.Body) != c.wantBody || r.ContentType != c.wantCT {
				t.Fatalf("got %s %q %q", r.URL, r.Body, r.ContentType)
			}
			if c.wantHeader != "" && (len(r.Headers) != 1 || r.Headers[0].Value != c.wantHeader) {
				t.Fatalf("headers %v", r.Headers)
			}
		})
	}
	// A header value that would carry a line break is refused at render time.
	compiled, _ := Compile(spec("POST", herald.PayloadPlain, "https://a.example.com", "x", herald.Header{Name: "X-A", Value: "{{ member.id }}"}), nil)
	vars["member"] = map[string]any{"id": "x\r\nInjected: 1"}
	if _, err := compiled.Render(vars); err == nil || !strings.Contains(err.Error(), "custom_headers[0].value") {
		t.Fatalf("CRLF header: %v", err)
	}
}

func TestCheckWebhook(t *testing.T) {
	et := eventType(t, "member.verified")
	ch := Checker{}
	warnings, err := ch.CheckWebhook(spec("POST", herald.PayloadJSON, "https://a.example.com/{{ member.id }}", `{"a": "{{ member.param.first_name }}", "b": "{{ member.nope }}"}`), et, nil)
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || warnings[0].Field != "payload" || warnings[0].Line != 1 || !strings.Contains(warnings[0].Message, "member.nope") {
		t.Fatalf("warnings %+v", warnings)
	}
	_, err = ch.CheckWebhook(spec("POST", herald.PayloadJSON, "https://a.example.com", "{\n\"a\": {{ member.id | dat('U') }}\n}"), et, nil)
	var e *herald.Error
	if !asError(err, &e) || len(e.Fields) == 0 || e.Fields[0].Field != "payload" || e.Fields[0].Line != 2 || e.Fields[0].Column == 0 || !strings.Contains(e.Fields[0].Message, `did you mean "date"`) {
		t.Fatalf("unknown filter: %v", err)
	}
	_, err = ch.CheckWebhook(spec("POST", herald.PayloadJSON, "https://a.example.com", `{"a": {% raw %}`), et, nil)
	if err == nil {
		t.Fatal("malformed template accepted")
	}
	_, err = ch.CheckWebhook(spec("POST", herald.PayloadJSON, "https://a.example.com", `{"a": 1,}`), et, nil)
	if !asError(err, &e) || e.Fields[0].Field != "payload" {
		t.Fatalf("invalid JSON output: %v", err)
	}
	_, err = ch.CheckWebhook(spec("POST", herald.PayloadXML, "https://a.example.com", `<a><b></a>`), et, nil)
	if !asError(err, &e) || e.Fields[0].Field != "payload" {
		t.Fatalf("malformed XML output: %v", err)
	}
	_, err = ch.CheckWebhook(spec("POST", herald.PayloadJSON, "https://a.example.com", `{}`, herald.Header{Name: "X", Value: "{{ member.id "}), et, nil)
	if !asError(err, &e) || e.Fields[0].Field != "custom_headers[0].value" {
		t.Fatalf("bad header template: %v", err)
	}
}

func TestCacheCompilesOncePerRevision(t *testing.T) {
	var c Cache
	w := &herald.Webhook{ID: herald.NewID(), Revision: 1, WebhookSpec: *spec("POST", herald.PayloadJSON, "https://a.example.com", `{"v": 1}`)}
	a, _ := c.Get(w, nil)
	b, _ := c.Get(w, nil)
	if a != b {
		t.Fatal("same revision compiled twice")
	}
	w.Revision, w.Payload = 2, `{"v": 2}`
	n, _ := c.Get(w, nil)
	r, _ := n.Render(map[string]any{})
	if n == a || string(r.Body) != `{"v": 2}` {
		t.Fatalf("new revision not recompiled: %s", r.Body)
	}
}

func asError(err error, target **herald.Error) bool {
	e, ok := err.(*herald.Error)
	if ok {
		*target = e
	}
	return ok
}
