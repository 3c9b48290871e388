package herald

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Routing: which events a webhook receives.
//
// A webhook's Events lists event-type keys and patterns:
//
//	coupon.redeemed   that one type
//	member.*          every type whose key starts with "member." (one segment or more after it)
//	*                 every type except herald's own alerts (herald.*), which are sent only where named
//
// Condition, when set, is a Twig expression over the event's variables,
// evaluated at ingest: an event for which it is false creates no delivery
// for that webhook.

// MaxEvents bounds a webhook's list of event types and patterns, and
// MaxSuccessStatuses its success_statuses.
const (
	MaxEvents          = 50
	MaxSuccessStatuses = 50
)

// MaxListItems is the longest of the lists above (a form looks for
// item errors up to it).
const MaxListItems = max(MaxEvents, MaxSuccessStatuses)

// MaxConditionLength bounds a condition or success condition.
const MaxConditionLength = 8 << 10

// AllEvents is the pattern of every (non-alert) event type.
const AllEvents = "*"

var eventPatternPattern = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)*\.\*$`)

// IsEventPattern reports whether s is a pattern ("*" or "prefix.*")
// rather than one event-type key.
func IsEventPattern(s string) bool {
	return s == AllEvents || eventPatternPattern.MatchString(s)
}

// EventMatches reports whether one entry of a webhook's Events covers the
// event type typ.
func EventMatches(entry, typ string) bool {
	switch {
	case entry == typ:
		return true
	case entry == AllEvents:
		return !strings.HasPrefix(typ, AlertPrefix)
	case strings.HasSuffix(entry, ".*"):
		prefix := entry[:len(entry)-1] // keeps the dot
		return len(typ) > len(prefix) && strings.HasPrefix(typ, prefix)
	}
	return false
}

// AlertPrefix starts the keys of herald's own operator alerts.
const AlertPrefix = "herald."

// EventsCover reports whether any entry of events covers typ.
func EventsCover(events []string, typ string) bool {
	for _, e := range events {
		if EventMatches(e, typ) {
			return true
		}
	}
	return false
}

// CoveringEntries lists every entry that would cover typ: the key itself,
// each "prefix.*" of it, and "*" (unless typ is an alert). A store filters
// webhooks by type with it, without parsing their lists.
func CoveringEntries(typ string) []string {
	out := []string{typ}
	for i := 0; i < len(typ); i++ {
		if typ[i] == '.' {
			out = append(out, typ[:i+1]+"*")
		}
	}
	if !strings.HasPrefix(typ, AlertPrefix) {
		out = append(out, AllEvents)
	}
	return out
}

// SingleEvent returns the one plain key of events, or "" when the list
// holds patterns or several keys (the compatibility field "event").
func SingleEvent(events []string) string {
	if len(events) == 1 && !IsEventPattern(events[0]) {
		return events[0]
	}
	return ""
}

// StatusList is a webhook's success_statuses: codes ("200"), classes
// ("2xx") and ranges ("200-299"). On input each item may be a JSON number
// or a string. Empty means the default, 2xx.
type StatusList []string

// DefaultSuccessStatuses is what an empty StatusList means.
var DefaultSuccessStatuses = StatusList{"2xx"}

// UnmarshalJSON accepts numbers and strings.
func (l *StatusList) UnmarshalJSON(b []byte) error {
	var raw []json.RawMessage
	if err := json.Unmarshal(b, &raw); err != nil {
		return err
	}
	if raw == nil {
		*l = nil
		return nil
	}
	out := make(StatusList, len(raw))
	for i, r := range raw {
		var s string
		if err := json.Unmarshal(r, &s); err == nil {
			out[i] = s
			continue
		}
		var n json.Number
		if err := json.Unmarshal(r, &n); err != nil {
			return fmt.Errorf("success_statuses[%d]: want a status code such as 200 or a string such as \"2xx\" or \"200-299\"", i)
		}
		out[i] = n.String()
	}
	*l = out
	return nil
}

// parseStatusItem returns the inclusive range an item stands for.
func parseStatusItem(s string) (lo, hi int, ok bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	if len(s) == 3 && s[1:] == "xx" && s[0] >= '1' && s[0] <= '5' {
		c := int(s[0]-'0') * 100
		return c, c + 99, true
	}
	if a, b, found := strings.Cut(s, "-"); found {
		lo, err1 := strconv.Atoi(strings.TrimSpace(a))
		hi, err2 := strconv.Atoi(strings.TrimSpace(b))
		if err1 != nil || err2 != nil || lo < 100 || hi > 599 || lo > hi {
			return 0, 0, false
		}
		return lo, hi, true
	}
	n, err := strconv.Atoi(s)
	if err != nil || n < 100 || n > 599 {
		return 0, 0, false
	}
	return n, n, true
}

// Accepts reports whether the HTTP status code counts as a success.
func (l StatusList) Accepts(code int) bool {
	if len(l) == 0 {
		l = DefaultSuccessStatuses
	}
	for _, item := range l {
		if lo, hi, ok := parseStatusItem(item); ok && code >= lo && code <= hi {
			return true
		}
	}
	return false
}

// String is the list as stored ("200,201,2xx").
func (l StatusList) String() string { return strings.Join(l, ",") }

// RouteHook is what the ingest path knows of a published webhook.
type RouteHook struct {
	ID        string
	Revision  int
	Events    []string
	Condition string
	Ordered   bool
}

// Router evaluates webhook conditions at ingest. The store calls it
// inside the ingest transaction for every published webhook whose Events
// cover the event and whose Condition is set; it must not touch the
// database. It is called from one goroutine at a time, one event after
// another. The delivery engine implements it over compiled conditions
// cached per (webhook, revision).
type Router interface {
	// Match reports whether hook's condition holds for ev. An error (the
	// expression does not compile or fails to evaluate) does not fail the
	// ingest: the store creates the delivery as failed with the error.
	Match(hook *RouteHook, ev *Event) (bool, error)
}

// ConditionEvaluator evaluates a condition once, for previews. The
// template checker implements it. A condition that does not compile is
// an EInvalid *Error naming the field "condition" with line and column;
// one that fails to evaluate is any other error.
type ConditionEvaluator interface {
	EvalCondition(src string, vars map[string]any, loc *time.Location) (holds bool, result string, err error)
}

// MatchResult answers whether a webhook would receive an event, and why
// not (POST /webhooks/{id}/match, the form's live preview).
type MatchResult struct {
	Matches bool   `json:"matches"`
	Reason  string `json:"reason"`
}

// MatchEvent reports whether a webhook with spec's events and condition
// would receive an event of type typ whose template variables are vars
// (data plus "event"), as ingest decides it.
func (s *Service) MatchEvent(ctx context.Context, workspaceID string, spec *WebhookSpec, typ string, vars map[string]any) (*MatchResult, error) {
	events := spec.Events
	if len(events) == 0 && spec.Event != "" {
		events = []string{spec.Event}
	}
	if !EventsCover(events, typ) {
		return &MatchResult{Reason: fmt.Sprintf("%s is not among the webhook's event types (%s)", typ, strings.Join(events, ", "))}, nil
	}
	cond := strings.TrimSpace(spec.Condition)
	if cond == "" {
		return &MatchResult{Matches: true, Reason: fmt.Sprintf("%s is one of the webhook's event types, and it has no condition", typ)}, nil
	}
	ev, ok := s.Templates.(ConditionEvaluator)
	if !ok {
		return nil, &Error{Code: EUnavailable, Message: "conditions cannot be evaluated in this server"}
	}
	holds, result, err := ev.EvalCondition(cond, vars, s.Location(ctx, workspaceID))
	var herr *Error
	switch {
	case errors.As(err, &herr):
		return nil, err
	case err != nil:
		return &MatchResult{Reason: "the condition could not be evaluated: " + err.Error() + " (ingest would create the delivery failed, with this error)"}, nil
	case !holds:
		return &MatchResult{Reason: "the condition gave " + result + ": the event would not be sent"}, nil
	}
	return &MatchResult{Matches: true, Reason: "the condition holds (it gave " + result + ")"}, nil
}
