package api

import (
	"encoding/json"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/heraldhq/herald/internal/herald"
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
	var authPatch struct {
		authorizationPatch
		Header *patchHeader `json:"header"`
		Basic  *patchBasic  `json:"basic"`
	}
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
		{"Problem", problem{}, true},
		{"FieldError", herald.FieldError{}, true},
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
