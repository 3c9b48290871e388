package herald

import (
	"context"
	"reflect"
	"sort"
	"strings"
	"time"
)

// AuditEntry records one configuration change: who, what, when (S5).
// Summary names what changed, never a secret's value.
type AuditEntry struct {
	ID          string    `json:"id"`
	WorkspaceID string    `json:"-"`
	At          time.Time `json:"at"`
	Actor       string    `json:"actor"`
	Action      string    `json:"action"` // e.g. webhook.update
	ObjectType  string    `json:"object_type"`
	ObjectID    string    `json:"object_id"`
	Summary     string    `json:"summary"`
}

// AuditFilter narrows the audit log.
type AuditFilter struct {
	ObjectID   string
	ObjectType string // webhook, authorization, event_type, api_key, workspace
	Actor      string // exactly as recorded, e.g. admin@example.com
	Cursor     string
	Limit      int
}

// AuditLog keeps the audit entries; the stores implement it.
type AuditLog interface {
	RecordAudit(ctx context.Context, e *AuditEntry) error
	// ListAudit returns a page of entries, newest first.
	ListAudit(ctx context.Context, workspaceID string, f AuditFilter) ([]*AuditEntry, string, error)
}

type actorKey struct{}

// WithActor names who acts in ctx: an admin's email, an API key's name,
// or "herald" for automatic changes.
func WithActor(ctx context.Context, actor string) context.Context {
	return context.WithValue(ctx, actorKey{}, actor)
}

// ActorFrom returns the actor of ctx, or "unknown".
func ActorFrom(ctx context.Context) string {
	if a, ok := ctx.Value(actorKey{}).(string); ok && a != "" {
		return a
	}
	return "unknown"
}

// changedFields lists the JSON names of the fields that differ between
// two values of one struct type (recursing into embedded structs). Values
// are never listed, so secrets cannot leak into the log.
func changedFields(before, after any) string {
	var out []string
	diffFields(reflect.ValueOf(before), reflect.ValueOf(after), &out)
	sort.Strings(out)
	return strings.Join(out, ", ")
}

func diffFields(a, b reflect.Value, out *[]string) {
	if a.Kind() == reflect.Pointer {
		if a.IsNil() || b.IsNil() {
			return
		}
		a, b = a.Elem(), b.Elem()
	}
	t := a.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous {
			diffFields(a.Field(i), b.Field(i), out)
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" || !f.IsExported() {
			continue
		}
		if !reflect.DeepEqual(a.Field(i).Interface(), b.Field(i).Interface()) {
			*out = append(*out, name)
		}
	}
}
