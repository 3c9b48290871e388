package web

import "testing"

// Only bare origins reach the frame-ancestors header; anything that could
// widen or break it is left out, and nothing left means 'none'.
func TestFrameAncestors(t *testing.T) {
	for _, c := range []struct {
		in   []string
		want string
	}{
		{nil, "'none'"},
		{[]string{"https://admin.platform.example"}, "https://admin.platform.example"},
		{[]string{"https://a.example:8443", "http://localhost:3000"}, "https://a.example:8443 http://localhost:3000"},
		{[]string{"https://a.example/path", "*", "https://b.example; script-src *", "javascript:alert(1)", "https://u@c.example", "'self'"}, "'none'"},
		{[]string{"https://ok.example", "https://x.example 'unsafe-inline'"}, "https://ok.example"},
	} {
		if got := frameAncestors(c.in); got != c.want {
			t.Errorf("frameAncestors(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}
