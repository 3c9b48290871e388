package template

import (
	"strings"
	"testing"
)

// The herald extensions have no Twig to compare with: known digests.
func TestHashAndEncodingFilters(t *testing.T) {
	runRenderCases(t, Options{}, `{"s": "abc", "fox": "The quick brown fox jumps over the lazy dog", "b": "aGVsbG8_d29ybGQ", "n": 5}`, []renderCase{
		{`{{ s|sha256 }}`, "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"},
		{`{{ s|sha1 }}`, "a9993e364706816aba3e25717850c26c9cd0d89d"},
		{`{{ s|md5 }}`, "900150983cd24fb0d6963f7d28e17f72"},
		{`{{ fox|hmac('sha256', 'key') }}`, "f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8"},
		{`{{ fox|hmac('md5', 'key') }}`, "80070713463e7749b90c2dc24911e275"},
		{`{{ s|hex }}|{{ s|base64_encode }}|{{ 'YWJj'|base64_decode }}|{{ 'YWJj=='|base64_decode }}|{{ b|base64_decode }}`, "616263|YWJj|abc|abc|hello?world"},
		{`{{ ' Ana@Example.com '|trim|lower|sha256 }}`, "8e43ca37701228e74983efdbd0cff5c16b3b1e5d4e29a7c05626d4d25a018e11"},
		{`{{ n|sha1 }}`, "ac3478d69a3c81fa62e60f5c3696165a4e5e6ac4"},
	})
}

func TestExtensionErrors(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{`{{ s|hmac('sha3', 'k') }}`, `line 1, column 6: hmac: unknown algorithm "sha3" — did you mean "sha1"?`},
		{`{{ '%%%'|base64_decode }}`, `base64_decode: the value is not base64`},
		{`{{ [1]|sha256 }}`, `sha256: the value must be a string, got a list`},
	} {
		_, err := renderString(t, Options{}, c.src, map[string]any{"s": "x"})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.src, err, c.want)
		}
	}
}

// Everything a template can reach stays within the limits, with a clear
// error.
func TestTwigFeatureLimits(t *testing.T) {
	for _, c := range []struct {
		src, want string
		opts      Options
	}{
		{`{% macro r(n) %}{{ _self }}{% import _self as m %}{{ m.r(n + 1) }}{% endmacro %}{% import _self as m %}{{ m.r(0) }}`, `calls macros more than 32 deep`, Options{}},
		{`{{ range(1, 100000000, 1)|length }}`, `step limit`, Options{}},
		{`{{ range(0, 1, 0) }}`, `range: the step must not be 0`, Options{}},
		{`{% for x in range(1, 3000) %}{% for y in range(1, 3000) %}{% endfor %}{% endfor %}`, `too much work`, Options{MaxSteps: 200000}},
		{`{{ range(1, 5000)|map(x => range(1, 5000)|reduce((c, y) => c + y, 0))|length }}`, `too much work`, Options{MaxSteps: 200000}},
		{`{% set s %}{% for i in range(1, 200000) %}0123456789{% endfor %}{% endset %}{{ s|length }}`, `larger than the limit of 100000 bytes`, Options{MaxOutputBytes: 100000}},
	} {
		_, err := renderString(t, c.opts, c.src, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.src, err, c.want)
		}
	}
}

func TestTwigTagErrors(t *testing.T) {
	for _, c := range []struct{ src, want string }{
		{`{% aply upper %}x{% endapply %}`, `line 1, column 4: unknown tag "aply" — did you mean "apply"?`},
		{`{% with {'a': 1} %}x`, `line 1, column 1: {% with %} is never closed: expected {% endwith %}`},
		{`{% import 'forms.twig' as f %}`, `line 1, column 11: only {% import _self as name %} is supported`},
		{`{{ xs|map(x) }}`, `line 1, column 7: map: the argument must be an arrow function`},
		{`{{ mx(1, 2) }}`, `line 1, column 4: unknown function "mx" — did you mean "max"?`},
		{`{{ range(1) }}`, `line 1, column 4: function "range" takes 2 to 3 arguments, got 1`},
		{`{% endapply %}`, `line 1, column 4: unexpected {% endapply %}: no {% apply %} is open`},
		{`{{ "a #{ b" }}`, `line 1, column 11: string is never closed`},
	} {
		_, err := Compile(c.src, Options{})
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.src, err, c.want)
		}
	}
}
