package api

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/payload"
)

// oaDoc is the embedded document, parsed once per test.
func oaDoc(t *testing.T) map[string]any {
	t.Helper()
	var doc map[string]any
	if err := json.Unmarshal(openAPIDocument, &doc); err != nil {
		t.Fatalf("openapi.json is not valid JSON: %v", err)
	}
	return doc
}

var oaMethods = []string{"get", "put", "post", "delete", "options", "head", "patch", "trace"}

// oaOperations returns the document's operations keyed "METHOD /path".
func oaOperations(t *testing.T, doc map[string]any) map[string]map[string]any {
	t.Helper()
	paths, ok := doc["paths"].(map[string]any)
	if !ok {
		t.Fatal("openapi.json: paths is missing or not an object")
	}
	ops := map[string]map[string]any{}
	for path, item := range paths {
		pi, ok := item.(map[string]any)
		if !ok {
			t.Errorf("paths[%q] is not an object", path)
			continue
		}
		for _, m := range oaMethods {
			if raw, ok := pi[m]; ok {
				op, ok := raw.(map[string]any)
				if !ok {
					t.Errorf("paths[%q].%s is not an object", path, m)
					continue
				}
				ops[strings.ToUpper(m)+" "+path] = op
			}
		}
	}
	return ops
}

func TestOpenAPIVersionAndInfo(t *testing.T) {
	doc := oaDoc(t)
	if v, _ := doc["openapi"].(string); !strings.HasPrefix(v, "3.1.") {
		t.Errorf("openapi = %q, want 3.1.x", v)
	}
	info, _ := doc["info"].(map[string]any)
	if info["title"] != "herald" || info["version"] == nil {
		t.Errorf("info = %v, want title herald and a version", info)
	}
	servers, _ := doc["servers"].([]any)
	if len(servers) != 1 || servers[0].(map[string]any)["url"] != "/api/v1" {
		t.Errorf("servers = %v, want [{url: /api/v1}]", servers)
	}
	if _, ok := oaPointer(doc, "#/components/securitySchemes/bearerAuth"); !ok {
		t.Error("components.securitySchemes.bearerAuth is missing")
	}
}

// TestOpenAPIRoutes checks the document against the route table both ways:
// an undocumented route and a documented path nobody serves both fail.
func TestOpenAPIRoutes(t *testing.T) {
	ops := oaOperations(t, oaDoc(t))
	routed := map[string]bool{"GET /openapi.json": true}
	for _, r := range Routes() {
		routed[r] = true
		if _, ok := ops[r]; !ok {
			t.Errorf("route %s is not documented in openapi.json", r)
		}
	}
	for op := range ops {
		if !routed[op] {
			t.Errorf("openapi.json documents %s, which is not in apiRoutes", op)
		}
	}
	if _, ok := ops["GET /openapi.json"]; !ok {
		t.Error("GET /openapi.json is not documented")
	}
}

// TestOpenAPIOperations checks each operation: a unique operationId, a
// summary, a 2xx response, a problem for every error response, a declared
// parameter for every path template, and the security the server applies.
func TestOpenAPIOperations(t *testing.T) {
	doc := oaDoc(t)
	ops := oaOperations(t, doc)
	keys := make([]string, 0, len(ops))
	for k := range ops {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	seen := map[string]string{}
	for _, key := range keys {
		op := ops[key]
		id, _ := op["operationId"].(string)
		switch {
		case id == "":
			t.Errorf("%s: no operationId", key)
		case seen[id] != "":
			t.Errorf("%s: operationId %q is also used by %s", key, id, seen[id])
		default:
			seen[id] = key
		}
		if s, _ := op["summary"].(string); s == "" {
			t.Errorf("%s: no summary", key)
		}

		responses, _ := op["responses"].(map[string]any)
		var ok2xx bool
		for code, resp := range responses {
			n, err := strconv.Atoi(code)
			if err != nil || n < 100 || n > 599 {
				t.Errorf("%s: response %q is not an HTTP status", key, code)
				continue
			}
			if n >= 200 && n < 300 {
				ok2xx = true
			}
			if n >= 400 {
				r := oaResolve(doc, resp)
				ref, _ := oaPath(r, "content", "application/problem+json", "schema", "$ref")
				if ref != "#/components/schemas/Problem" {
					t.Errorf("%s: response %s is not application/problem+json with the Problem schema", key, code)
				}
			}
		}
		if !ok2xx {
			t.Errorf("%s: no 2xx response", key)
		}

		_, path, _ := strings.Cut(key, " ")
		declared := map[string]bool{}
		params, _ := op["parameters"].([]any)
		for _, p := range params {
			pm, _ := oaResolve(doc, p).(map[string]any)
			if pm["in"] == "path" {
				name, _ := pm["name"].(string)
				declared[name] = true
				if pm["required"] != true {
					t.Errorf("%s: path parameter %v is not required", key, pm["name"])
				}
			}
		}
		for rest := path; ; {
			_, after, found := strings.Cut(rest, "{")
			if !found {
				break
			}
			name, tail, _ := strings.Cut(after, "}")
			if !declared[name] {
				t.Errorf("%s: path parameter {%s} is not declared", key, name)
			}
			delete(declared, name)
			rest = tail
		}
		for name := range declared {
			t.Errorf("%s: parameter %q is declared in path but %s has no {%s}", key, name, path, name)
		}

		sec, hasSec := op["security"].([]any)
		public := key == "GET /openapi.json"
		if public && (!hasSec || len(sec) != 0) {
			t.Errorf("%s: want security: [] (the document is public)", key)
		}
		if !public {
			if hasSec {
				t.Errorf("%s: overrides the global bearer security, but the server authenticates it", key)
			}
			if _, ok := responses["401"]; !ok {
				t.Errorf("%s: no 401 response", key)
			}
		}
		if _, hasBody := op["requestBody"]; hasBody {
			for _, code := range []string{"400", "413", "422"} {
				if _, ok := responses[code]; !ok {
					t.Errorf("%s: takes a body but documents no %s", key, code)
				}
			}
		}
		if strings.Contains(path, "{") {
			if _, ok := responses["404"]; !ok {
				t.Errorf("%s: has a path parameter but no 404 response", key)
			}
		}
	}
}

// TestOpenAPIRefs checks that every $ref points at an existing component.
func TestOpenAPIRefs(t *testing.T) {
	doc := oaDoc(t)
	var walk func(at string, v any)
	walk = func(at string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if raw, ok := v["$ref"]; ok {
				ref, _ := raw.(string)
				if !strings.HasPrefix(ref, "#/components/") {
					t.Errorf("%s: $ref %q does not point into #/components/", at, raw)
				} else if _, ok := oaPointer(doc, ref); !ok {
					t.Errorf("%s: $ref %q does not resolve", at, ref)
				}
			}
			for k, e := range v {
				walk(at+"/"+k, e)
			}
		case []any:
			for i, e := range v {
				walk(at+"/"+strconv.Itoa(i), e)
			}
		}
	}
	walk("#", doc)
}

// TestOpenAPISchemasMatchGoTypes keeps the schemas true to the types the
// handlers encode and decode: the same property names, and for responses,
// a field is required exactly when Go always writes it.
func TestOpenAPISchemasMatchGoTypes(t *testing.T) {
	doc := oaDoc(t)
	var authPatch authorizationPatchBody
	tests := []struct {
		schema string
		value  any
		output bool // encoded by herald: check required too
	}{
		{"AuthorizationInput", herald.AuthorizationSpec{}, false},
		{"HeaderAuthInput", herald.HeaderAuth{}, false},
		{"BasicAuthInput", herald.BasicAuth{}, false},
		{"AuthorizationPatch", authPatch, false},
		{"HeaderAuthPatch", patchHeader{}, false},
		{"BasicAuthPatch", patchBasic{}, false},
		{"Authorization", authorizationView{}, true},
		{"HeaderAuthView", headerView{}, true},
		{"BasicAuthView", basicView{}, true},
		{"BearerAuthInput", herald.BearerAuth{}, false},
		{"QueryAuthInput", herald.QueryAuth{}, false},
		{"OAuth2AuthInput", herald.OAuth2Auth{}, false},
		{"TLSClientAuthInput", herald.TLSClientAuth{}, false},
		{"BearerAuthPatch", patchBearer{}, false},
		{"QueryAuthPatch", patchQuery{}, false},
		{"OAuth2AuthPatch", patchOAuth2{}, false},
		{"TLSClientAuthPatch", patchTLSClient{}, false},
		{"BearerAuthView", bearerView{}, true},
		{"QueryAuthView", queryView{}, true},
		{"OAuth2AuthView", oauth2View{}, true},
		{"TLSClientAuthView", tlsClientView{}, true},
		{"Preset", herald.Preset{}, true},
		{"PresetAuthorization", herald.PresetAuth{}, true},
		{"PresetField", herald.PresetField{}, true},
		{"PresetList", listResponse[*herald.Preset]{}, true},
		{"AuthorizationList", listResponse[authorizationView]{}, true},
		{"WebhookInput", herald.WebhookSpec{}, false},
		{"CustomHeader", herald.Header{}, true},
		{"WebhookPatch", webhookPatch{}, false},
		{"Webhook", webhookView{}, true},
		{"WebhookList", listResponse[webhookView]{}, true},
		{"EventType", herald.EventType{}, true},
		{"EventTypeInput", eventTypeInput{}, false},
		{"EventTypeList", listResponse[*herald.EventType]{}, true},
		{"RenderRequest", renderRequest{}, false},
		{"RenderEvent", reflect.New(reflect.TypeOf(renderRequest{}.Event).Elem()).Elem().Interface(), false},
		{"RenderResponse", renderResponse{}, true},
		{"MatchRequest", matchRequest{}, false},
		{"MatchEvent", reflect.New(reflect.TypeOf(matchRequest{}.Event).Elem()).Elem().Interface(), false},
		{"MatchResult", herald.MatchResult{}, true},
		{"SourceInput", sourceBody{}, false},
		{"SourcePatch", sourceBody{}, false},
		{"Source", sourceView{}, true},
		{"SourceList", listResponse[sourceView]{}, true},
		{"NATSSourceConfig", herald.NATSSource{}, false},
		{"AMQPSourceConfig", herald.AMQPSource{}, false},
		{"OutboxSourceConfig", herald.OutboxSource{}, false},
		{"SourceMapping", herald.SourceMapping{}, false},
		{"RejectedMessage", rejectView{}, true},
		{"RejectedList", listResponse[rejectView]{}, true},
		{"Problem", problem{}, true},
		{"Workspace", herald.Workspace{}, true},
		{"WorkspaceList", listResponse[*herald.Workspace]{}, true},
		{"WorkspacePatch", struct {
			workspacePatchBody
			Name any `json:"name"`
		}{}, false},
		{"WorkspaceUpdate", workspacePatchBody{}, false},
		{"MemberPatch", memberPatchBody{}, false},
		{"Member", herald.Member{}, true},
		{"MemberList", listResponse[*herald.Member]{}, true},
		{"MemberInput", struct {
			Email string      `json:"email"`
			Role  herald.Role `json:"role"`
		}{}, false},
		{"FieldError", herald.FieldError{}, true},
		// Events and deliveries. POST /events decodes eventBody; clients
		// encode herald.EventInput: both must match EventInput.
		{"EventInput", eventBody{}, false},
		{"EventInput", herald.EventInput{}, false},
		{"IngestResult", herald.IngestResult{}, true},
		{"Event", herald.Event{}, true},
		{"Delivery", herald.Delivery{}, true},
		{"DeliveryList", listResponse[*herald.Delivery]{}, true},
		{"Attempt", attemptView{Attempt: &herald.Attempt{}}, true},
		{"HTTPHeader", herald.Header{}, true},
		{"AttemptList", listResponse[*attemptView]{}, true},
		// The handlers decode these bodies into anonymous structs and
		// answer maps, so these rows mirror them; TestOpenAPIEngineRoutes
		// checks the real handlers against the same schemas.
		{"EventBatch", struct {
			Events []eventBody `json:"events"`
		}{}, false},
		{"IngestBatchResult", struct {
			Results []herald.IngestResult `json:"results"`
		}{}, true},
		{"ReplayRequest", struct {
			Since *time.Time `json:"since"`
			Until *time.Time `json:"until"`
		}{}, false},
		{"ReplayResult", struct {
			Replayed int `json:"replayed"`
		}{}, true},
		{"ResendRequest", struct {
			WebhookID string `json:"webhook_id"`
		}{}, false},
		{"RotatedSecret", struct {
			Secret                  string    `json:"secret"`
			PreviousSecretExpiresAt time.Time `json:"previous_secret_expires_at"`
		}{}, true},
	}
	for _, tt := range tests {
		t.Run(tt.schema, func(t *testing.T) {
			raw, ok := oaPointer(doc, "#/components/schemas/"+tt.schema)
			if !ok {
				t.Fatalf("components.schemas.%s is missing", tt.schema)
			}
			schema := raw.(map[string]any)
			props, _ := schema["properties"].(map[string]any)
			fields := oaSchemaFields(reflect.TypeOf(tt.value))
			var goNames, docNames []string
			for name := range fields {
				goNames = append(goNames, name)
			}
			for name := range props {
				docNames = append(docNames, name)
			}
			sort.Strings(goNames)
			sort.Strings(docNames)
			if !slices.Equal(goNames, docNames) {
				t.Errorf("properties = %v, Go type %T has %v", docNames, tt.value, goNames)
			}
			if !tt.output {
				if schema["additionalProperties"] != false {
					t.Error("request bodies are decoded with unknown fields refused: want additionalProperties: false")
				}
				return
			}
			required := map[string]bool{}
			reqList, _ := schema["required"].([]any)
			for _, r := range reqList {
				required[r.(string)] = true
			}
			for name, always := range fields {
				if always != required[name] {
					t.Errorf("%s: required = %v, but Go always writes it = %v", name, required[name], always)
				}
			}
		})
	}
}

// oaSchemaFields returns the JSON names encoding/json uses for t's fields,
// each with whether it is always written (no omitempty or omitzero).
// Embedded structs are flattened as encoding/json does.
func oaSchemaFields(t reflect.Type) map[string]bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	out := map[string]bool{}
	depthOf := map[string]int{}
	var walk func(t reflect.Type, depth int)
	walk = func(t reflect.Type, depth int) {
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			tag := f.Tag.Get("json")
			if tag == "-" {
				continue
			}
			name, opts, _ := strings.Cut(tag, ",")
			ft := f.Type
			if ft.Kind() == reflect.Pointer {
				ft = ft.Elem()
			}
			if f.Anonymous && name == "" && ft.Kind() == reflect.Struct {
				walk(ft, depth+1)
				continue
			}
			if !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			omit := strings.Contains(opts, "omitempty") || strings.Contains(opts, "omitzero")
			// As in encoding/json, the shallowest field of a name wins.
			if d, ok := depthOf[name]; !ok || depth < d {
				out[name], depthOf[name] = !omit, depth
			}
		}
	}
	walk(t, 0)
	return out
}

// resolve follows a local $ref, if v is one.
func oaResolve(doc map[string]any, v any) any {
	if m, ok := v.(map[string]any); ok {
		if ref, ok := m["$ref"].(string); ok {
			if target, ok := oaPointer(doc, ref); ok {
				return target
			}
		}
	}
	return v
}

// oaPointer resolves a local JSON pointer such as #/components/schemas/X.
func oaPointer(doc map[string]any, ref string) (any, bool) {
	ptr, ok := strings.CutPrefix(ref, "#/")
	if !ok {
		return nil, false
	}
	var keys []string
	for _, k := range strings.Split(ptr, "/") {
		keys = append(keys, strings.NewReplacer("~1", "/", "~0", "~").Replace(k))
	}
	return oaPath(doc, keys...)
}

func oaPath(v any, keys ...string) (any, bool) {
	for _, k := range keys {
		m, ok := v.(map[string]any)
		if !ok {
			return nil, false
		}
		if v, ok = m[k]; !ok {
			return nil, false
		}
	}
	return v, true
}

// oaFakeEngine answers every event and delivery call with fully populated
// values, so each optional field appears in the responses.
type oaFakeEngine struct{ now time.Time }

func (f oaFakeEngine) event(id string) *herald.Event {
	return &herald.Event{ID: id, Type: "coupon.redeemed", OccurredAt: f.now, ReceivedAt: f.now,
		Data: map[string]any{"coupon": map[string]any{"id": "c1"}}, IdempotencyKey: "key-1", Test: true}
}

func (f oaFakeEngine) delivery(id string) *herald.Delivery {
	next := f.now.Add(time.Minute)
	return &herald.Delivery{ID: id, EventID: herald.NewID(), EventType: "coupon.redeemed", WebhookID: herald.NewID(),
		Status: herald.DeliveryFailed, StatusReason: "failed after 8 attempts", Attempts: 8, NextAttemptAt: &next,
		LastStatus: 503, LastError: "503 Service Unavailable", CreatedAt: f.now, UpdatedAt: f.now}
}

func (f oaFakeEngine) attempt(id string) *herald.Attempt {
	return &herald.Attempt{ID: id, DeliveryID: herald.NewID(), WebhookID: herald.NewID(), EventID: herald.NewID(), Number: 2,
		StartedAt: f.now, DurationMS: 12.5, Outcome: herald.OutcomeFailure, ErrorClass: herald.ErrClassHTTP, Error: "503 Service Unavailable",
		RequestMethod: "POST", RequestURL: "https://hooks.example.com/x", RequestHeaders: []herald.Header{{Name: "Content-Type", Value: "application/json"}},
		RequestBody: "{}", ResponseStatus: 503, ResponseHeaders: []herald.Header{{Name: "Retry-After", Value: "5"}}, ResponseBody: "busy"}
}

func (f oaFakeEngine) Ingest(_ context.Context, _ string, in []herald.EventInput) ([]herald.IngestResult, error) {
	out := make([]herald.IngestResult, len(in))
	for i := range in {
		out[i] = herald.IngestResult{EventID: herald.NewID(), Deliveries: 2, Duplicate: true}
	}
	return out, nil
}

func (f oaFakeEngine) Event(_ context.Context, _, id string) (*herald.Event, error) {
	return f.event(id), nil
}

func (f oaFakeEngine) Delivery(_ context.Context, _, id string) (*herald.Delivery, error) {
	return f.delivery(id), nil
}

func (f oaFakeEngine) ListDeliveries(context.Context, string, string, herald.DeliveryFilter) ([]*herald.Delivery, string, error) {
	return []*herald.Delivery{f.delivery(herald.NewID())}, herald.NewID(), nil
}

func (f oaFakeEngine) Attempt(_ context.Context, _, id string) (*herald.Attempt, error) {
	return f.attempt(id), nil
}

func (f oaFakeEngine) ListAttempts(context.Context, string, string, herald.AttemptFilter) ([]*herald.Attempt, string, error) {
	return []*herald.Attempt{f.attempt(herald.NewID())}, herald.NewID(), nil
}

func (f oaFakeEngine) AttemptStats(context.Context, string, string, time.Time) ([]herald.AttemptStats, error) {
	return nil, nil
}

func (f oaFakeEngine) SendTest(context.Context, string, string) (*herald.Attempt, error) {
	return f.attempt(herald.NewID()), nil
}

func (f oaFakeEngine) RetryDelivery(_ context.Context, _, id string) (*herald.Delivery, error) {
	return f.delivery(id), nil
}

func (f oaFakeEngine) ResendEvent(context.Context, string, string, string) (*herald.Delivery, error) {
	return f.delivery(herald.NewID()), nil
}

func (f oaFakeEngine) ReplayFailed(context.Context, string, string, time.Time, time.Time) (int, error) {
	return 3, nil
}

func (f oaFakeEngine) rotate(_ context.Context, _, id string) (*herald.Webhook, error) {
	exp := f.now.Add(24 * time.Hour)
	return &herald.Webhook{ID: id, SigningSecret: herald.NewSigningSecret(), PreviousSecretExpiresAt: &exp}, nil
}

// TestOpenAPIEngineRoutes calls the event and delivery handlers and checks
// their real answers against the document: the status is documented, and
// the body has the documented media type and conforms to its schema with
// every property present (the fake engine fills them all). Requests send
// every property of their schema, so a documented field the handler would
// refuse fails too.
func TestOpenAPIEngineRoutes(t *testing.T) {
	doc := oaDoc(t)
	ops := oaOperations(t, doc)
	e := setup(t, openSQLite(t), Config{})
	hook := e.createWebhook(validWebhook())["id"].(string)
	now := time.Now().UTC().Truncate(time.Second)
	id := herald.NewID()
	event := map[string]any{"type": "coupon.redeemed", "data": map[string]any{"coupon": map[string]any{"id": "c1"}},
		"occurred_at": now.Format(time.RFC3339), "id": "ext-1", "idempotency_key": "key-1"}
	rfc := func(t time.Time) string { return t.Format(time.RFC3339) }
	calls := []struct {
		route, path string
		body        any
		header      map[string]string
	}{
		{"POST /events", "/events", event, map[string]string{"Idempotency-Key": "key-2"}},
		{"POST /events/batch", "/events/batch", map[string]any{"events": []any{event, event}}, nil},
		{"GET /events/{id}", "/events/" + id, nil, nil},
		{"POST /events/{id}/resend", "/events/" + id + "/resend", map[string]any{"webhook_id": hook}, nil},
		{"POST /webhooks/{id}/test", "/webhooks/" + hook + "/test", nil, nil},
		{"POST /webhooks/{id}/rotate-secret", "/webhooks/" + hook + "/rotate-secret", nil, nil},
		{"GET /webhooks/{id}/attempts", "/webhooks/" + hook + "/attempts?outcome=failure&since=" + rfc(now.Add(-time.Hour)) +
			"&until=" + rfc(now) + "&cursor=" + id + "&limit=10", nil, nil},
		{"GET /webhooks/{id}/deliveries", "/webhooks/" + hook + "/deliveries?status=failed&cursor=" + id + "&limit=10", nil, nil},
		{"POST /webhooks/{id}/replay", "/webhooks/" + hook + "/replay", map[string]any{"since": rfc(now.Add(-time.Hour)), "until": rfc(now)}, nil},
		{"GET /attempts/{id}", "/attempts/" + id, nil, nil},
		{"POST /deliveries/{id}/retry", "/deliveries/" + id + "/retry", nil, nil},
	}

	fake := oaFakeEngine{now: now}
	log := slog.New(slog.NewTextHandler(io.Discard, nil))
	engine := httptest.NewServer(newServer(t, Config{}, e.svc, payload.Previewer{}, Delivery{Ingester: fake, Control: fake, Reader: fake, Rotate: fake.rotate}, log))
	t.Cleanup(engine.Close)

	for _, c := range calls {
		op, ok := ops[c.route]
		if !ok {
			t.Errorf("%s is not documented", c.route)
			continue
		}
		method, _, _ := strings.Cut(c.route, " ")
		var raw []byte
		if c.body != nil {
			var err error
			if raw, err = json.Marshal(c.body); err != nil {
				t.Fatal(err)
			}
			schema, _ := oaPath(op, "requestBody", "content", "application/json", "schema")
			var sent any
			json.Unmarshal(raw, &sent)
			oaConforms(t, doc, c.route+" request", schema, sent, true)
		}
		for _, srv := range []struct {
			name, url string
			want      func(int) bool
		}{
			{"with engine", engine.URL, func(s int) bool { return s >= 200 && s < 300 }},
		} {
			req, err := http.NewRequest(method, srv.url+"/api/v1"+c.path, bytes.NewReader(raw))
			if err != nil {
				t.Fatal(err)
			}
			req.Header.Set("Authorization", "Bearer "+e.key)
			if raw != nil {
				req.Header.Set("Content-Type", "application/json")
			}
			for k, v := range c.header {
				req.Header.Set(k, v)
			}
			res, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			data, _ := io.ReadAll(res.Body)
			res.Body.Close()
			at := fmt.Sprintf("%s (%s): %d", c.route, srv.name, res.StatusCode)
			if !srv.want(res.StatusCode) {
				t.Errorf("%s, unexpected status\n%s", at, data)
				continue
			}
			resp, ok := oaPath(op, "responses", strconv.Itoa(res.StatusCode))
			if !ok {
				t.Errorf("%s is not a documented response", at)
				continue
			}
			ct := res.Header.Get("Content-Type")
			schema, ok := oaPath(oaResolve(doc, resp), "content", ct, "schema")
			if !ok {
				t.Errorf("%s: Content-Type %q is not documented", at, ct)
				continue
			}
			var got any
			if err := json.Unmarshal(data, &got); err != nil {
				t.Errorf("%s: body is not JSON: %v", at, err)
				continue
			}
			oaConforms(t, doc, at, schema, got, res.StatusCode < 300)
		}
	}
}

// oaConforms checks v, decoded JSON, against schema: its type and enum,
// required properties, and no property the schema does not declare
// (unless additionalProperties is true), through $ref, properties and
// items. complete also requires every declared property.
// oaRarelySet names properties that the sample answers cannot all show at
// once (a held delivery has no next_attempt_at).
var oaRarelySet = map[string]bool{"held": true}

func oaConforms(t *testing.T, doc map[string]any, at string, schema, v any, complete bool) {
	t.Helper()
	s, _ := oaResolve(doc, schema).(map[string]any)
	if s == nil {
		t.Errorf("%s: no schema", at)
		return
	}
	if enum, ok := s["enum"].([]any); ok && !slices.Contains(enum, v) {
		t.Errorf("%s: %v is not one of %v", at, v, enum)
	}
	typ, _ := s["type"].(string)
	switch typ {
	case "object":
		m, ok := v.(map[string]any)
		if !ok {
			t.Errorf("%s: %v is not an object", at, v)
			return
		}
		props, _ := s["properties"].(map[string]any)
		req, _ := s["required"].([]any)
		for _, r := range req {
			if _, ok := m[r.(string)]; !ok {
				t.Errorf("%s: required property %s is missing", at, r)
			}
		}
		for name, ps := range props {
			e, ok := m[name]
			if !ok {
				if complete && !oaRarelySet[name] {
					t.Errorf("%s: property %s is missing", at, name)
				}
				continue
			}
			oaConforms(t, doc, at+"."+name, ps, e, complete)
		}
		if s["additionalProperties"] != true {
			for name := range m {
				if _, ok := props[name]; !ok {
					t.Errorf("%s: property %s is not in the schema", at, name)
				}
			}
		}
	case "array":
		list, ok := v.([]any)
		if !ok {
			t.Errorf("%s: %v is not an array", at, v)
			return
		}
		for i, e := range list {
			oaConforms(t, doc, at+"["+strconv.Itoa(i)+"]", s["items"], e, complete)
		}
	case "string", "boolean", "number", "integer":
		ok := false
		switch x := v.(type) {
		case string:
			ok = typ == "string"
		case bool:
			ok = typ == "boolean"
		case float64:
			ok = typ == "number" || typ == "integer" && x == float64(int64(x))
		}
		if !ok {
			t.Errorf("%s: %v is not a %s", at, v, typ)
		}
	}
}
