package herald

import (
	"encoding/json"
	"slices"
	"testing"
)

func TestEventMatches(t *testing.T) {
	cases := []struct {
		entry, typ string
		want       bool
	}{
		{"coupon.redeemed", "coupon.redeemed", true},
		{"coupon.redeemed", "coupon.assigned", false},
		{"member.*", "member.verified", true},
		{"member.*", "member.tier.changed", true},
		{"member.*", "member", false},
		{"member.*", "members.verified", false},
		{"member.tier.*", "member.tier.changed", true},
		{"member.tier.*", "member.tier_changed", false},
		{"*", "wallet.credited", true},
		{"*", "herald.delivery.exhausted", false},
		{"herald.*", "herald.delivery.exhausted", true},
		{"herald.delivery.exhausted", "herald.delivery.exhausted", true},
	}
	for _, c := range cases {
		if got := EventMatches(c.entry, c.typ); got != c.want {
			t.Errorf("EventMatches(%q, %q) = %v, want %v", c.entry, c.typ, got, c.want)
		}
		// The store's filter finds exactly the entries that match.
		if got := slices.Contains(CoveringEntries(c.typ), c.entry); got != c.want {
			t.Errorf("CoveringEntries(%q) contains %q = %v, want %v", c.typ, c.entry, got, c.want)
		}
	}
}

func TestStatusList(t *testing.T) {
	var l StatusList
	if err := json.Unmarshal([]byte(`[200, "201", "3xx", "400-404"]`), &l); err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(l, StatusList{"200", "201", "3xx", "400-404"}) {
		t.Fatalf("decoded %q", l)
	}
	for code, want := range map[int]bool{200: true, 201: true, 202: false, 302: true, 403: true, 405: false, 500: false} {
		if got := l.Accepts(code); got != want {
			t.Errorf("Accepts(%d) = %v, want %v", code, got, want)
		}
	}
	if !(StatusList(nil)).Accepts(204) || (StatusList(nil)).Accepts(301) {
		t.Error("an empty list must mean 2xx")
	}
	if err := json.Unmarshal([]byte(`[true]`), &l); err == nil {
		t.Error("a boolean status was accepted")
	}
}

func TestValidateEvents(t *testing.T) {
	base := func() WebhookSpec {
		return WebhookSpec{Name: "n", EndpointURL: "https://a.example.com/x", Method: "POST", PayloadType: PayloadJSON, Payload: "{}"}
	}
	cases := []struct {
		change func(*WebhookSpec)
		field  string
	}{
		{func(s *WebhookSpec) {}, "event"},
		{func(s *WebhookSpec) { s.Events = []string{} }, "events"},
		{func(s *WebhookSpec) { s.Events = []string{"a.b", "a.*b"} }, "events[1]"},
		{func(s *WebhookSpec) { s.Events = []string{"a.b", "a.b"} }, "events[1]"},
		{func(s *WebhookSpec) { s.Event, s.Events = "a.b", []string{"c.d"} }, "event"},
		{func(s *WebhookSpec) { s.Events = []string{"a.b"}; s.SuccessStatuses = StatusList{"600"} }, "success_statuses[0]"},
		{func(s *WebhookSpec) { s.Events = []string{"*", "a.*", "a.b"} }, ""},
		{func(s *WebhookSpec) { s.Event = "a.b" }, ""},
	}
	for i, c := range cases {
		s := base()
		c.change(&s)
		s.Normalize()
		err := s.Validate()
		var fields []string
		if e, ok := err.(*Error); ok {
			for _, f := range e.Fields {
				fields = append(fields, f.Field)
			}
		}
		if c.field == "" && err != nil || c.field != "" && !slices.Contains(fields, c.field) {
			t.Errorf("case %d: %v, want an error on %q", i, err, c.field)
		}
	}
}
