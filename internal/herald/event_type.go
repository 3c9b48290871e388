package herald

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"
)

// EventType is one kind of event a platform sends. Sample holds realistic
// data (the variables other than "event") for previews and test sends.
type EventType struct {
	Key         string         `json:"key"`
	DisplayName string         `json:"display_name"`
	Description string         `json:"description"`
	Variables   []string       `json:"variables"`
	Sample      map[string]any `json:"sample"`
	BuiltIn     bool           `json:"built_in"`
	WorkspaceID string         `json:"-"`
	CreatedAt   time.Time      `json:"created_at,omitzero"`
}

// SampleEvent is the `event` variable of a preview or test send.
func (t *EventType) SampleEvent() map[string]any {
	return map[string]any{
		"id":         "01JV2Q7R6M3K8N4P5S9T0W1X2Y",
		"type":       t.Key,
		"created_at": "2025-05-12T12:34:56Z",
	}
}

// SampleVars returns the sample data plus the event variable: exactly what
// a template sees when it renders the sample event.
func (t *EventType) SampleVars() map[string]any {
	vars := make(map[string]any, len(t.Sample)+1)
	for k, v := range t.Sample {
		vars[k] = v
	}
	vars["event"] = t.SampleEvent()
	return vars
}

var eventKeyPattern = regexp.MustCompile(`^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$`)

// Validate checks a custom event type.
func (t *EventType) Validate() error {
	var v Validation
	switch {
	case t.Key == "":
		v.Add("key", "is required")
	case len(t.Key) > 100:
		v.Add("key", "must be at most 100 characters")
	case !eventKeyPattern.MatchString(t.Key):
		v.Add("key", "must be dot-separated lower-case words, e.g. member.birthday")
	case strings.HasPrefix(t.Key, "herald."):
		v.Add("key", "the herald. prefix is reserved for herald's own events")
	}
	if t.DisplayName == "" {
		v.Add("display_name", "is required")
	} else if len(t.DisplayName) > MaxNameLength {
		v.Add("display_name", "must be at most %d characters", MaxNameLength)
	}
	if len(t.Description) > MaxDescriptionLength {
		v.Add("description", "must be at most %d characters", MaxDescriptionLength)
	}
	if _, ok := t.Sample["event"]; ok {
		v.Add("sample.event", "is set by herald; give only the event's data")
	}
	for _, name := range t.Variables {
		if _, ok := t.Sample[name]; !ok {
			v.Add("variables", "%q has no value in sample", name)
		}
	}
	return v.Err()
}

//go:embed catalog.json
var catalogJSON []byte

// BuiltInEventTypes returns the loyalty catalog every workspace starts
// with, sorted by key. Each call returns fresh copies.
func BuiltInEventTypes() []*EventType {
	var doc struct {
		Entities map[string]any `json:"entities"`
		Types    []struct {
			Key         string   `json:"key"`
			DisplayName string   `json:"display_name"`
			Description string   `json:"description"`
			Variables   []string `json:"variables"`
			// Sample overrides shared entities for this type.
			Sample map[string]any `json:"sample"`
		} `json:"types"`
	}
	if err := DecodeJSON(catalogJSON, &doc); err != nil {
		panic(fmt.Sprintf("herald: embedded catalog: %v", err))
	}
	types := make([]*EventType, 0, len(doc.Types))
	for _, t := range doc.Types {
		sample := make(map[string]any, len(t.Variables))
		for _, name := range t.Variables {
			v, ok := t.Sample[name]
			if !ok {
				v, ok = doc.Entities[name]
			}
			if !ok {
				panic("herald: embedded catalog: no sample for " + name)
			}
			sample[name] = v
		}
		types = append(types, &EventType{Key: t.Key, DisplayName: t.DisplayName, Description: t.Description,
			Variables: t.Variables, Sample: sample, BuiltIn: true})
	}
	sort.Slice(types, func(i, j int) bool { return types[i].Key < types[j].Key })
	return types
}

// DecodeJSON decodes with numbers kept as json.Number, so a template
// prints 1250 as 1250 and 5.50 as 5.50, never as a float's spelling.
func DecodeJSON(data []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		return err
	}
	if dec.More() {
		return fmt.Errorf("unexpected data after the JSON value")
	}
	return nil
}
