package web_test

import (
	"net/url"
	"regexp"
	"strings"
	"testing"
)

var summaryLink = regexp.MustCompile(`<ul class="error-summary">(.*?)</ul>`)
var hrefID = regexp.MustCompile(`href="#([^"]+)"`)

// Every link of a form's error summary leads to an element of the page:
// a field, or the group of fields an error is about.
func TestErrorSummaryLinksLeadToTheirField(t *testing.T) {
	t.Parallel()
	e := signedIn(t)
	e.get("/authorizations/new") // the session's CSRF token
	// An authorization that exists, so a duplicate name is refused too.
	e.post("/authorizations", url.Values{"type": {"bearer"}, "name": {"Existing"}, "bearer.token": {"t0ken"}})
	forms := []struct {
		path string
		form url.Values
	}{
		{"/authorizations", url.Values{"type": {"header"}}},
		{"/authorizations", url.Values{"type": {"header"}, "name": {"Existing"}, "header.key": {"bad key"}, "header.visibility": {"SECRET"}}},
		{"/authorizations", url.Values{"type": {"basic"}}},
		{"/authorizations", url.Values{"type": {"bearer"}}},
		{"/authorizations", url.Values{"type": {"query"}}},
		{"/authorizations", url.Values{"type": {"oauth2_client_credentials"}}},
		{"/authorizations", url.Values{"type": {"oauth2_client_credentials"}, "name": {"O"}, "oauth2.token_url": {"ftp://x"}, "oauth2.client_id": {"c"}, "oauth2.client_auth": {"nope"}}},
		{"/authorizations", url.Values{"type": {"bearer"}, "name": {"T"}, "bearer.token": {"t"}, "tls_client.certificate_pem": {"not a certificate"}}},
		{"/authorizations", url.Values{"type": {"nope"}, "name": {"N"}}},
		{"/webhooks", url.Values{"action": {"save"}}},
		{"/webhooks", url.Values{"action": {"save"}, "name": {"W"}, "events": {"member.verified"}, "method": {"POST"}, "endpoint_url": {"https://x.example/{{ oops"},
			"payload_type": {"JSON"}, "payload": {"{"}, "custom_headers[0].key": {"bad key"}, "retry_schedule": {"soon"}, "condition": {"member.tier =="},
			"success_statuses": {"7xx"}, "log_body_bytes": {"-5"}, "timeout_seconds": {"0"}}},
		{"/settings/workspace/event-types", url.Values{}},
		{"/settings/workspace/event-types", url.Values{"key": {"Bad Key"}, "display_name": {"x"}, "sample": {"[1]"}}},
		{"/settings/api-keys", url.Values{}},
	}
	for _, f := range forms {
		_, body := e.post(f.path, f.form)
		m := summaryLink.FindStringSubmatch(body)
		if m == nil {
			t.Errorf("POST %s %v: no error summary", f.path, f.form)
			continue
		}
		for _, l := range hrefID.FindAllStringSubmatch(m[1], -1) {
			if !strings.Contains(body, `id="`+l[1]+`"`) {
				t.Errorf("POST %s %v: the summary links to #%s, which the page does not have", f.path, f.form, l[1])
			}
		}
	}
}
