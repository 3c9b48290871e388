package source

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/heraldhq/herald/internal/herald"
)

// maxKeyLength is the longest idempotency key ingest accepts.
const maxKeyLength = 255

// IdempotencyKey is the key of the event made from a source's message
// with this id: "source:<source id>:<message id>" (the message id hashed
// when the key would be too long), so a redelivered message is recognised
// by ingest and not stored twice.
func IdempotencyKey(sourceID, messageID string) string {
	key := "source:" + sourceID + ":" + messageID
	if len(key) <= maxKeyLength {
		return key
	}
	sum := sha256.Sum256([]byte(messageID))
	return "source:" + sourceID + ":sha256:" + hex.EncodeToString(sum[:])
}

// Map turns a message into an event as the source's mapping says. An
// error is the reason the message is rejected (shown on the source's
// page). Whether the type exists and the data is an object, ingest checks.
func Map(src *herald.Source, msg *herald.SourceMessage) (herald.EventInput, error) {
	var in herald.EventInput
	m := src.Mapping
	typeRule, dataRule, idRule := herald.ParseMappingRule(m.TypeFrom), herald.ParseMappingRule(m.DataFrom), herald.ParseMappingRule(m.IDFrom)
	body := bytes.TrimSpace(msg.Body)
	needJSON := typeRule.Kind == "field" || dataRule.Kind == "body" || dataRule.Kind == "field" || idRule.Kind == "field"
	if needJSON {
		if len(body) == 0 {
			return in, fmt.Errorf("body is empty; the mapping reads JSON from it")
		}
		if !json.Valid(body) {
			var v any
			err := json.Unmarshal(body, &v)
			return in, fmt.Errorf("body is not JSON: %v", err)
		}
	}
	switch typeRule.Kind {
	case "header":
		v, ok := header(msg.Headers, typeRule.Arg)
		if !ok || v == "" {
			return in, fmt.Errorf("no %s header: the event type comes from it (mapping.type_from %s)", typeRule.Arg, m.TypeFrom)
		}
		in.Type = v
	case "field":
		v, err := stringField(body, typeRule.Path)
		if err != nil {
			return in, fmt.Errorf("event type (mapping.type_from %s): %v", m.TypeFrom, err)
		}
		in.Type = v
	case "fixed":
		in.Type = typeRule.Arg
	default:
		return in, fmt.Errorf("mapping.type_from %q is not a rule herald knows", m.TypeFrom)
	}
	switch dataRule.Kind {
	case "body":
		in.Data = json.RawMessage(body)
	case "field":
		raw, err := field(body, dataRule.Path)
		if err != nil {
			return in, fmt.Errorf("data (mapping.data_from %s): %v", m.DataFrom, err)
		}
		in.Data = raw
	default:
		return in, fmt.Errorf("mapping.data_from %q is not a rule herald knows", m.DataFrom)
	}
	var id string
	switch idRule.Kind {
	case "message_id":
		id = msg.ID
	case "header":
		v, ok := header(msg.Headers, idRule.Arg)
		if !ok || v == "" {
			return in, fmt.Errorf("no %s header: the message id comes from it (mapping.id_from %s)", idRule.Arg, m.IDFrom)
		}
		id = v
	case "field":
		raw, err := field(body, idRule.Path)
		if err != nil {
			return in, fmt.Errorf("message id (mapping.id_from %s): %v", m.IDFrom, err)
		}
		var s string
		if json.Unmarshal(raw, &s) != nil {
			var n json.Number
			if json.Unmarshal(raw, &n) != nil {
				return in, fmt.Errorf("message id (mapping.id_from %s) is %s, not a string or a number", m.IDFrom, kind(raw))
			}
			s = n.String()
		}
		id = s
	default:
		return in, fmt.Errorf("mapping.id_from %q is not a rule herald knows", m.IDFrom)
	}
	if id == "" {
		return in, fmt.Errorf("message has no id (mapping.id_from %s)", m.IDFrom)
	}
	in.IdempotencyKey = IdempotencyKey(src.ID, id)
	if !msg.PublishedAt.IsZero() {
		t := msg.PublishedAt.UTC()
		in.OccurredAt = &t
	}
	return in, nil
}

// header looks a header up by name, case-insensitively.
func header(h map[string]string, name string) (string, bool) {
	if v, ok := h[name]; ok {
		return v, true
	}
	for k, v := range h {
		if strings.EqualFold(k, name) {
			return v, true
		}
	}
	return "", false
}

// field returns the JSON value at path in body.
func field(body []byte, path []string) (json.RawMessage, error) {
	cur := json.RawMessage(body)
	for i, key := range path {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(cur, &obj); err != nil || obj == nil {
			where := "the body"
			if i > 0 {
				where = strings.Join(path[:i], ".")
			}
			return nil, fmt.Errorf("%s is %s, not an object", where, kind(cur))
		}
		v, ok := obj[key]
		if !ok {
			return nil, fmt.Errorf("the body has no field %s", strings.Join(path[:i+1], "."))
		}
		cur = v
	}
	return cur, nil
}

func stringField(body []byte, path []string) (string, error) {
	raw, err := field(body, path)
	if err != nil {
		return "", err
	}
	var s string
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", fmt.Errorf("field %s is %s, not a string", strings.Join(path, "."), kind(raw))
	}
	if s == "" {
		return "", fmt.Errorf("field %s is empty", strings.Join(path, "."))
	}
	return s, nil
}

func kind(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "empty"
	}
	switch raw[0] {
	case '{':
		return "an object"
	case '[':
		return "an array"
	case '"':
		return "a string"
	case 't', 'f':
		return "a boolean"
	case 'n':
		return "null"
	}
	return "a number"
}
