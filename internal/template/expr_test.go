package template

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestCompileExprTruthy(t *testing.T) {
	vars := map[string]any{"member": map[string]any{"tier": "gold", "points": json.Number("150")}, "tags": []any{"a"}}
	cases := []struct {
		src  string
		want bool
	}{
		{`member.tier == "gold"`, true},
		{`member.tier == "gold" and member.points > 200`, false},
		{`member.points >= 100 or missing`, true},
		{`missing`, false},
		{`missing.deeper is not defined`, true},
		{`"a" in tags`, true},
		{`{a: {b: 1}}.a.b == 1`, true},
		{`tags|length > 0`, true},
		{"member.tier\n  starts with 'go'", true},
		{`(member.points // 100) == 1 ? true : false`, true},
		{`tags|filter(t => t == "b")|length`, false},
	}
	for _, c := range cases {
		e, err := CompileExpr(c.src, Options{})
		if err != nil {
			t.Fatalf("%q: %v", c.src, err)
		}
		got, err := e.Truthy(vars)
		if err != nil {
			t.Fatalf("%q: %v", c.src, err)
		}
		if got != c.want {
			t.Errorf("%q = %v, want %v", c.src, got, c.want)
		}
	}
}

func TestCompileExprErrorsArePositioned(t *testing.T) {
	cases := []struct {
		src          string
		line, column int
		msg          string
	}{
		{`member.tier ==`, 1, 15, ""},
		{"member.tier == 'gold'\nand member.points |nosuchfilter", 2, 20, "nosuchfilter"},
		{`a b`, 1, 3, "after the end"},
		{`(a`, 1, 1, "never closed"},
		{`a }`, 1, 3, ""},
		{`{% if a %}`, 1, 2, "expected a hash key"},
		{`   `, 1, 1, "empty"},
	}
	for _, c := range cases {
		_, err := CompileExpr(c.src, Options{})
		var te *Error
		if !errors.As(err, &te) || len(te.Diagnostics) == 0 {
			t.Fatalf("%q: err = %v, want a positioned *Error", c.src, err)
		}
		d := te.Diagnostics[0]
		if d.Line != c.line || d.Column != c.column || !strings.Contains(d.Message, c.msg) {
			t.Errorf("%q: got %v, want line %d column %d containing %q", c.src, d, c.line, c.column, c.msg)
		}
	}
}

func TestExprEvalError(t *testing.T) {
	e, err := CompileExpr(`100 / data.points > 1`, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Truthy(map[string]any{"data": map[string]any{"points": json.Number("0")}}); err == nil {
		t.Fatal("dividing by zero succeeded")
	}
	e, err = CompileExpr(`member.name`, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if p := e.MissingPaths(map[string]any{"member": map[string]any{}}); len(p) != 1 {
		t.Errorf("MissingPaths = %v, want one warning for member.name", p)
	}
}
