package template

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// decodeVars decodes JSON the way herald does (UseNumber).
func decodeVars(t testing.TB, js string) map[string]any {
	t.Helper()
	if js == "" {
		return map[string]any{}
	}
	dec := json.NewDecoder(strings.NewReader(js))
	dec.UseNumber()
	var m map[string]any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("bad test vars %s: %v", js, err)
	}
	return m
}

func renderString(t testing.TB, opts Options, src string, vars map[string]any) (string, error) {
	t.Helper()
	tpl, err := Compile(src, opts)
	if err != nil {
		return "", err
	}
	out, err := tpl.Render(vars)
	return string(out), err
}

// renderCase is one template rendered against vars, with the output wanted.
type renderCase struct {
	src  string
	want string
}

func runRenderCases(t *testing.T, opts Options, varsJSON string, cases []renderCase) {
	t.Helper()
	vars := decodeVars(t, varsJSON)
	for _, c := range cases {
		got, err := renderString(t, opts, c.src, vars)
		if err != nil {
			t.Errorf("%s: %v", c.src, err)
			continue
		}
		if got != c.want {
			t.Errorf("%s\n got: %q\nwant: %q", c.src, got, c.want)
		}
	}
}

// asError returns the *Error inside err.
func asError(t testing.TB, err error) *Error {
	t.Helper()
	var e *Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T) is not a *template.Error", err, err)
	}
	return e
}
