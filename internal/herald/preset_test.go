package herald_test

import (
	"encoding/json"
	"fmt"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/payload"
)

// Every preset, for every event type it offers: the webhook it starts
// passes the save-time checks, its URL and headers render, its payload
// renders to well-formed JSON holding every field the vendor's reference
// marks required, and the authorization it needs covers its URL.
func TestPresets(t *testing.T) {
	presets := herald.Presets()
	want := []string{"bloomreach", "klaviyo", "braze", "hubspot", "salesforce-marketing-cloud", "segment", "slack", "microsoft-teams", "mailchimp"}
	keys := map[string]bool{}
	for _, p := range presets {
		keys[p.Key] = true
	}
	for _, k := range want {
		if !keys[k] {
			t.Errorf("no preset %q", k)
		}
	}
	types := map[string]*herald.EventType{}
	for _, et := range herald.BuiltInEventTypes() {
		types[et.Key] = et
	}
	for _, p := range presets {
		t.Run(p.Key, func(t *testing.T) {
			if u, err := url.Parse(p.VendorDocsURL); err != nil || u.Scheme != "https" || u.Host == "" {
				t.Errorf("vendor_docs_url %q", p.VendorDocsURL)
			}
			if !herald.ValidAuthType(p.AuthorizationType) || len(p.EventTypes) < 10 || len(p.RequiredFields) == 0 {
				t.Fatalf("authorization type %q, %d event types, %d required fields", p.AuthorizationType, len(p.EventTypes), len(p.RequiredFields))
			}
			a := &herald.Authorization{AuthorizationSpec: herald.AuthorizationSpec{Endpoint: p.Authorization.Endpoint}}
			if _, err := herald.ParseEndpoint(p.Authorization.Endpoint); err != nil {
				t.Fatalf("authorization endpoint %q: %v", p.Authorization.Endpoint, err)
			}
			if p.AuthorizationType == herald.AuthOAuth2 {
				if _, err := herald.ParseEndpoint(p.Authorization.TokenURL); err != nil {
					t.Fatalf("token URL: %v", err)
				}
			}
			for _, f := range p.FieldsToFill {
				if f.Placeholder != "" && f.Field != "authorization.header.value" && !strings.Contains(p.EndpointURL+p.Payload+p.Authorization.Endpoint+p.Authorization.Username, strings.SplitN(f.Placeholder, ",", 2)[0]) {
					t.Errorf("field to fill %s: placeholder %q appears nowhere", f.Field, f.Placeholder)
				}
			}
			for _, key := range p.EventTypes {
				et := types[key]
				if et == nil {
					t.Fatalf("offers unknown event type %q", key)
				}
				spec := p.WebhookSpec(key)
				spec.AuthorizationID = herald.NewID()
				spec.Normalize()
				if err := spec.Validate(); err != nil {
					t.Fatalf("%s: the webhook does not validate: %v", key, err)
				}
				if _, err := (payload.Checker{}).CheckWebhook(&spec, et, time.UTC); err != nil {
					t.Fatalf("%s: save-time check: %v", key, err)
				}
				vars := et.SampleVars()
				rawURL, _, err := (payload.Previewer{}).Preview(herald.PayloadPlain, spec.EndpointURL, et, vars, time.UTC)
				if err != nil {
					t.Fatalf("%s: URL: %v", key, err)
				}
				if !a.InScope(string(rawURL)) {
					t.Fatalf("%s: rendered URL %s lies outside the authorization's endpoint %s", key, rawURL, p.Authorization.Endpoint)
				}
				body, _, err := (payload.Previewer{}).Preview(spec.PayloadType, spec.Payload, et, vars, time.UTC)
				if err != nil {
					t.Fatalf("%s: payload: %v", key, err)
				}
				var doc any
				if err := json.Unmarshal(body, &doc); err != nil {
					t.Fatalf("%s: payload is not JSON: %v\n%s", key, err, body)
				}
				for _, path := range p.RequiredFields {
					v, ok := lookup(doc, path)
					if !ok || v == nil || v == "" {
						t.Errorf("%s: required field %s missing or empty in\n%s", key, path, body)
					}
				}
				check, ok := vendorRules[p.Key]
				if ok {
					if err := check(doc); err != nil {
						t.Errorf("%s: %v\n%s", key, err, body)
					}
				}
			}
		})
	}
}

// vendorRules are constraints the references state beyond presence.
var vendorRules = map[string]func(doc any) error{
	// Mailchimp: "name … must be 2-30 characters in length", letters,
	// numbers, underscores and dashes.
	"mailchimp": func(doc any) error {
		name, _ := lookup(doc, "name")
		if s, _ := name.(string); !regexp.MustCompile(`^[A-Za-z0-9_-]{2,30}$`).MatchString(s) {
			return errorf("event name %q breaks Mailchimp's rule (2-30 letters, digits, _ or -)", s)
		}
		props, _ := lookup(doc, "properties")
		for k, v := range props.(map[string]any) {
			if _, ok := v.(string); !ok {
				return errorf("property %s is %T; Mailchimp event properties are strings", k, v)
			}
		}
		return nil
	},
	// Bloomreach: timestamp is a number of seconds.
	"bloomreach": func(doc any) error {
		ts, _ := lookup(doc, "timestamp")
		if _, ok := ts.(float64); !ok {
			return errorf("timestamp is %T, want a number of seconds", ts)
		}
		return nil
	},
	// Klaviyo: JSON:API types.
	"klaviyo": func(doc any) error {
		for path, want := range map[string]string{"data.type": "event", "data.attributes.metric.data.type": "metric", "data.attributes.profile.data.type": "profile"} {
			if v, _ := lookup(doc, path); v != want {
				return errorf("%s = %v, want %s", path, v, want)
			}
		}
		return nil
	},
	"microsoft-teams": func(doc any) error {
		if v, _ := lookup(doc, "attachments.0.contentType"); v != "application/vnd.microsoft.card.adaptive" {
			return errorf("attachment content type %v", v)
		}
		return nil
	},
}

func errorf(format string, args ...any) error {
	return fmt.Errorf(format, args...)
}

// lookup follows a dotted path (numbers index arrays).
func lookup(doc any, path string) (any, bool) {
	v := doc
	for _, part := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[part]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(part)
			if err != nil || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}
