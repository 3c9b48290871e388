package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/heraldhq/herald/client"
)

// dataFlag is --data, repeatable: each value is a JSON object, "@file"
// or "@-" (stdin). It is not a listFlag, so HERALD_DATA is one value
// (JSON has commas).
type dataFlag []string

func (d *dataFlag) String() string { return strings.Join(*d, " ") }
func (d *dataFlag) Set(v string) error {
	*d = append(*d, v)
	return nil
}

// runSend sends one event with the client package and prints herald's
// answer, {"id": …, "deliveries": N}, on stdout.
func runSend(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	var (
		eventType, baseURL, apiKey, idemKey, occurredAt, id string
		data                                                dataFlag
		timeout                                             time.Duration
	)
	fs := newFlagSet("send", stderr)
	fs.StringVar(&eventType, "type", "", "event type key (required), e.g. member.verified")
	fs.Var(&data, "data", "the event's data: a JSON object, @FILE, or @- for stdin (repeatable: objects are merged, later keys win)")
	fs.StringVar(&baseURL, "url", "http://127.0.0.1:8080", "herald's base URL")
	fs.StringVar(&apiKey, "api-key", "", "API key with the ingest or admin scope")
	fs.StringVar(&idemKey, "idempotency-key", "", "idempotency key (default: --id, else a random key, kept across retries)")
	fs.StringVar(&occurredAt, "occurred-at", "", "when the event happened, RFC 3339 (default: now)")
	fs.StringVar(&id, "id", "", "your platform's id of the event (also the idempotency key when none is given)")
	fs.DurationVar(&timeout, "timeout", 60*time.Second, "give up (retries included) after this long")
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	eventType = strings.TrimSpace(eventType)
	if eventType == "" {
		return usageError{"herald send: --type is required, e.g. --type member.verified"}
	}
	if apiKey == "" {
		return usageError{"herald send: --api-key (or HERALD_API_KEY) is required; create one with: herald apikey create --name NAME --scopes ingest"}
	}
	if !strings.HasPrefix(baseURL, "http://") && !strings.HasPrefix(baseURL, "https://") {
		return usageError{fmt.Sprintf("herald send: --url %q must start with http:// or https://", baseURL)}
	}
	ev := client.Event{Type: eventType, ID: id, IdempotencyKey: idemKey}
	if occurredAt != "" {
		t, err := time.Parse(time.RFC3339Nano, occurredAt)
		if err != nil {
			return usageError{fmt.Sprintf("herald send: --occurred-at %q is not an RFC 3339 time, e.g. 2025-05-12T12:34:56Z", occurredAt)}
		}
		ev.OccurredAt = t
	}
	raw, err := eventData(data, stdin)
	if err != nil {
		return err
	}
	if raw != nil {
		ev.Data = raw
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	c := client.New(baseURL, apiKey, client.WithUserAgent("herald-cli/"+version))
	res, err := c.SendEvent(ctx, ev)
	if err != nil {
		var herr *client.Error
		if !errors.As(err, &herr) {
			return fmt.Errorf("herald send: %w", err)
		}
		detail := herr.Detail
		if detail == "" {
			detail = herr.Title
		}
		fmt.Fprintf(stderr, "herald send: %s (%d %s)\n", detail, herr.Status, herr.Title)
		for _, f := range herr.Errors {
			fmt.Fprintf(stderr, "  %s\n", f)
		}
		return fmt.Errorf("herald send: the server refused the event: %d %s", herr.Status, herr.Title)
	}
	enc := json.NewEncoder(stdout)
	enc.SetEscapeHTML(false)
	return enc.Encode(res)
}

// eventData reads and merges the --data values into one JSON object; nil
// when there are none.
func eventData(values []string, stdin io.Reader) (json.RawMessage, error) {
	stdinUses := 0
	for _, v := range values {
		if v == "@-" {
			stdinUses++
		}
	}
	if stdinUses > 1 {
		return nil, usageError{"herald send: --data @- can be given only once"}
	}
	var parts []json.RawMessage
	for _, v := range values {
		src, raw := "--data", []byte(v)
		if name, ok := strings.CutPrefix(v, "@"); ok {
			var err error
			if name == "-" {
				src = "--data @- (stdin)"
				raw, err = io.ReadAll(io.LimitReader(stdin, 16<<20))
			} else {
				src = "--data " + v
				raw, err = os.ReadFile(name)
			}
			if err != nil {
				return nil, fmt.Errorf("herald send: %s: %w", src, err)
			}
		}
		raw = bytes.TrimSpace(raw)
		if err := checkObject(raw); err != nil {
			return nil, usageError{fmt.Sprintf("herald send: %s: %v", src, err)}
		}
		parts = append(parts, raw)
	}
	switch len(parts) {
	case 0:
		return nil, nil
	case 1: // sent as given: numbers and key order untouched
		return parts[0], nil
	}
	merged := map[string]json.RawMessage{}
	for _, p := range parts {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(p, &m); err != nil {
			return nil, err // checked by checkObject
		}
		for k, v := range m {
			merged[k] = v
		}
	}
	return json.Marshal(merged)
}

// checkObject says why raw is not one JSON object, with the position of
// a syntax error.
func checkObject(raw []byte) error {
	if len(raw) == 0 {
		return errors.New("is empty; give a JSON object such as {\"member\": {…}}")
	}
	if !utf8.Valid(raw) {
		// encoding/json would read the bytes as U+FFFD, and the server
		// refuses them: say where they are before sending anything.
		off := 0
		for off < len(raw) {
			r, size := utf8.DecodeRune(raw[off:])
			if r == utf8.RuneError && size == 1 {
				break
			}
			off += size
		}
		line, col := 1, 1
		for _, c := range raw[:off] {
			if c == '\n' {
				line, col = line+1, 1
			} else {
				col++
			}
		}
		return fmt.Errorf("is not valid UTF-8: byte 0x%02x at line %d, column %d; save the file as UTF-8", raw[off], line, col)
	}
	dec := json.NewDecoder(bytes.NewReader(raw))
	var v any
	if err := dec.Decode(&v); err != nil {
		var syn *json.SyntaxError
		if errors.As(err, &syn) {
			line, col := 1, 1
			for _, c := range raw[:min(int(syn.Offset), len(raw))] {
				if c == '\n' {
					line, col = line+1, 1
				} else {
					col++
				}
			}
			return fmt.Errorf("is not valid JSON: %v (line %d, column %d)", syn, line, col)
		}
		return fmt.Errorf("is not valid JSON: %v", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return errors.New("holds more than one JSON value")
	}
	if _, ok := v.(map[string]any); !ok {
		return errors.New("must be a JSON object of the event's variables, e.g. {\"member\": {…}}")
	}
	return nil
}
