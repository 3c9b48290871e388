package source

import (
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/herald"
)

func TestMap(t *testing.T) {
	published := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	msg := func(body string, headers map[string]string) *herald.SourceMessage {
		return &herald.SourceMessage{ID: "EVENTS:7", Subject: "events.member", Headers: headers, Body: []byte(body), PublishedAt: published}
	}
	tests := []struct {
		name               string
		mapping            herald.SourceMapping
		msg                *herald.SourceMessage
		wantType, wantData string
		wantKey            string
		wantErr            string
	}{
		{"header type, whole body, broker id", herald.SourceMapping{TypeFrom: "header:Event-Type", DataFrom: "body", IDFrom: "message_id"},
			msg(`{"member": {"id": 1}}`, map[string]string{"event-type": "member.verified"}), "member.verified", `{"member": {"id": 1}}`, "source:S:EVENTS:7", ""},
		{"field type and data, id from a number field", herald.SourceMapping{TypeFrom: "field:meta.type", DataFrom: "field:payload", IDFrom: "field:meta.seq"},
			msg(`{"meta": {"type": "coupon.redeemed", "seq": 42}, "payload": {"coupon": {"id": "c"}}}`, nil), "coupon.redeemed", `{"coupon": {"id": "c"}}`, "source:S:42", ""},
		{"fixed type, id from a header", herald.SourceMapping{TypeFrom: "fixed:member.verified", DataFrom: "body", IDFrom: "header:X-Id"},
			msg(`{}`, map[string]string{"X-Id": "abc"}), "member.verified", `{}`, "source:S:abc", ""},
		{"not JSON", herald.SourceMapping{TypeFrom: "fixed:member.verified", DataFrom: "body", IDFrom: "message_id"},
			msg(`{"member": `, nil), "", "", "", "body is not JSON"},
		{"empty body", herald.SourceMapping{TypeFrom: "fixed:member.verified", DataFrom: "body", IDFrom: "message_id"},
			msg(``, nil), "", "", "", "body is empty"},
		{"no type header", herald.SourceMapping{TypeFrom: "header:Event-Type", DataFrom: "body", IDFrom: "message_id"},
			msg(`{}`, nil), "", "", "", "no Event-Type header"},
		{"type field missing", herald.SourceMapping{TypeFrom: "field:type", DataFrom: "body", IDFrom: "message_id"},
			msg(`{"kind": "x"}`, nil), "", "", "", "the body has no field type"},
		{"type field not a string", herald.SourceMapping{TypeFrom: "field:type", DataFrom: "body", IDFrom: "message_id"},
			msg(`{"type": 3}`, nil), "", "", "", "is a number, not a string"},
		{"data path through a non-object", herald.SourceMapping{TypeFrom: "fixed:member.verified", DataFrom: "field:a.b", IDFrom: "message_id"},
			msg(`{"a": [1]}`, nil), "", "", "", "a is an array, not an object"},
		{"id field an object", herald.SourceMapping{TypeFrom: "fixed:member.verified", DataFrom: "body", IDFrom: "field:id"},
			msg(`{"id": {}}`, nil), "", "", "", "not a string or a number"},
		{"no broker id", herald.SourceMapping{TypeFrom: "fixed:member.verified", DataFrom: "body", IDFrom: "message_id"},
			&herald.SourceMessage{Body: []byte(`{}`)}, "", "", "", "message has no id"},
	}
	src := &herald.Source{ID: "S"}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src.Mapping = tt.mapping
			in, err := Map(src, tt.msg)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %v, want one saying %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if in.Type != tt.wantType || string(in.Data) != tt.wantData || in.IdempotencyKey != tt.wantKey {
				t.Fatalf("got type %q data %s key %q", in.Type, in.Data, in.IdempotencyKey)
			}
			if tt.msg.PublishedAt.IsZero() == (in.OccurredAt != nil) || (in.OccurredAt != nil && !in.OccurredAt.Equal(published)) {
				t.Fatalf("occurred_at = %v, want the broker's time %v", in.OccurredAt, published)
			}
		})
	}
}

func TestIdempotencyKeyFitsIngest(t *testing.T) {
	id := herald.NewID()
	if k := IdempotencyKey(id, "m-1"); k != "source:"+id+":m-1" {
		t.Fatalf("key = %q", k)
	}
	long := strings.Repeat("x", 300)
	k := IdempotencyKey(id, long)
	if len(k) > maxKeyLength || !strings.HasPrefix(k, "source:"+id+":sha256:") || k != IdempotencyKey(id, long) || k == IdempotencyKey(id, long+"y") {
		t.Fatalf("long id's key = %q (%d bytes)", k, len(k))
	}
}

func TestEventIndex(t *testing.T) {
	tests := []struct {
		field string
		n     int
		i     int
		name  string
		ok    bool
	}{
		{"events[3].type", 5, 3, "type", true},
		{"events[0].data", 2, 0, "data", true},
		{"type", 1, 0, "type", true},
		{"type", 2, 0, "", false},
		{"events[9].type", 5, 0, "", false},
		{"events", 5, 0, "", false},
		{"events[x].type", 5, 0, "", false},
	}
	for _, tt := range tests {
		i, name, ok := eventIndex(tt.field, tt.n)
		if ok != tt.ok || (ok && (i != tt.i || name != tt.name)) {
			t.Errorf("eventIndex(%q, %d) = %d, %q, %v", tt.field, tt.n, i, name, ok)
		}
	}
}

func TestRedactHidesTheURLsPassword(t *testing.T) {
	raw := "amqp://herald:s3cr%2Ft@mq.internal:5672/"
	got := redact(`dial amqp://herald:s3cr%2Ft@mq.internal:5672/: auth failed for password "s3cr/t"`, raw)
	if strings.Contains(got, "s3cr") || !strings.Contains(got, "amqp://herald:••••@mq.internal:5672/") {
		t.Fatalf("redacted = %q", got)
	}
	if got := redact("connection refused", "nats://127.0.0.1:4222"); got != "connection refused" {
		t.Fatalf("an error without secrets changed: %q", got)
	}
}
