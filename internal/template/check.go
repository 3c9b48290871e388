package template

import "fmt"

// Check compiles src, renders it against sample (the event type's sample
// variables, `event` included) and verifies the output is well-formed for
// opts.Format. Problems come back as an *Error with line and column.
// Warnings list every variable path the sample does not provide; they are
// returned even when rendering fails, as long as src compiles.
func Check(src string, opts Options, sample map[string]any) (warnings []Diagnostic, err error) {
	t, err := Compile(src, opts)
	if err != nil {
		return nil, err
	}
	warnings = t.MissingPaths(sample)
	if _, err := t.Render(sample); err != nil {
		return warnings, err
	}
	return warnings, nil
}

// eventFields are provided by every event, whatever its sample holds.
var eventFields = map[string]any{"id": "", "type": "", "created_at": ""}

// MissingPaths returns a warning for every path the template reads that
// sample does not provide. Lists are walked as [] (any element may
// provide the rest; an empty list cannot tell, so it counts as
// providing).
func (t *Template) MissingPaths(sample map[string]any) []Diagnostic {
	var out []Diagnostic
	for _, p := range t.varPaths {
		root := any(sample)
		if p.segs[0].kind == segKey && p.segs[0].key == "event" {
			if _, ok := sample["event"]; !ok {
				root = map[string]any{"event": eventFields}
			}
		}
		if provides(root, p.segs) {
			continue
		}
		out = append(out, t.diag(p.pos, fmt.Sprintf("%q is not provided by this event type (not in its sample event); it renders empty", p.String())))
	}
	return out
}

func provides(v any, segs []pathSeg) bool {
	if len(segs) == 0 {
		return true
	}
	s, rest := segs[0], segs[1:]
	switch s.kind {
	case segAny:
		items, ok := iterValues(v)
		if !ok {
			return false
		}
		if len(items) == 0 {
			return true
		}
		for _, it := range items {
			if provides(it, rest) {
				return true
			}
		}
		return false
	case segIndex:
		if l, ok := asList(v); ok {
			if len(l) == 0 {
				return true
			}
			return s.idx < len(l) && provides(l[s.idx], rest)
		}
	}
	if m, ok := asMap(v); ok {
		e, ok := m[s.key]
		return ok && provides(e, rest)
	}
	if l, ok := asList(v); ok && s.kind == segKey {
		if len(l) == 0 {
			return true
		}
		for _, it := range l {
			if provides(getAttr(it, pathKey{s: s.key}), rest) {
				return true
			}
		}
	}
	return false
}
