package herald

import "testing"

func TestInScope(t *testing.T) {
	cases := []struct {
		endpoint, url string
		want          bool
	}{
		{"https://api.example.com", "https://api.example.com/anything", true},
		{"https://api.example.com", "https://API.example.com:443/x", true},
		{"https://api.example.com/v2", "https://api.example.com/v2", true},
		{"https://api.example.com/v2/", "https://api.example.com/v2/contacts", true},
		{"https://api.example.com/v2", "https://api.example.com/v2/contacts/{{ member.id }}", true},
		{"https://api.example.com/v2", "https://api.example.com/v2x", false},
		{"https://api.example.com/v2", "https://api.example.com/v1", false},
		{"https://api.example.com", "http://api.example.com/", false},
		{"https://api.example.com", "https://api.example.com:8443/", false},
		{"https://api.example.com", "https://api.example.com.evil.com/", false},
		{"https://api.example.com", "https://evil.com/?u=https://api.example.com", false},
		{"http://127.0.0.1:9000", "http://127.0.0.1:9000/hook", true},
		{"https://api.example.com", "not a url", false},
	}
	for _, c := range cases {
		a := &Authorization{AuthorizationSpec: AuthorizationSpec{Endpoint: c.endpoint}}
		if got := a.InScope(c.url); got != c.want {
			t.Errorf("InScope(%q under %q) = %v, want %v", c.url, c.endpoint, got, c.want)
		}
	}
}

func TestParseEndpoint(t *testing.T) {
	ok := []string{
		"https://api.example.com", "http://127.0.0.1:8080/hook?x=1", "https://api.example.com/c/{{ member.id }}?e={{ member.email }}",
		"https://[::1]:8443/x", "https://api.example.com/{% if member.id %}a{% endif %}",
	}
	for _, s := range ok {
		if _, err := ParseEndpoint(s); err != nil {
			t.Errorf("ParseEndpoint(%q) = %v", s, err)
		}
	}
	bad := map[string]string{
		"":                                  "http:// or https://",
		"ftp://x.example.com":               "http:// or https://",
		"https://":                          "host",
		"https://u:p@x.example.com":         "user or password",
		"https://x.example.com/#frag":       "fragment",
		"https://{{ h }}.example.com/":      "placeholder in the host",
		"https://x.example.com:{{ port }}/": "placeholder in the host",
		"https://x.example.com/a b":         "spaces",
		"javascript:alert(1)":               "http:// or https://",
	}
	for s, want := range bad {
		_, err := ParseEndpoint(s)
		if err == nil || !contains(err.Error(), want) {
			t.Errorf("ParseEndpoint(%q) = %v, want error containing %q", s, err, want)
		}
	}
	u, _ := ParseEndpoint("HTTPS://API.Example.com/Path")
	if u.Host != "api.example.com:443" || u.Scheme != "https" || u.Path != "/Path" {
		t.Errorf("normalized to %s", u)
	}
}

func TestMask(t *testing.T) {
	for in, want := range map[string]string{"": "", "short": "••••", "0123456789abcdef": "••••cdef"} {
		if got := Mask(in); got != want {
			t.Errorf("Mask(%q) = %q, want %q", in, got, want)
		}
	}
}

func contains(s, sub string) bool {
	for i := 0; i+len(sub) <= len(s); i++ {
		if s[i:i+len(sub)] == sub {
			return true
		}
	}
	return false
}

func FuzzParseEndpoint(f *testing.F) {
	for _, s := range []string{"https://a.example.com/{{ x }}", "http://[::1]:80", "https://{{", "https://a/{%", "{{}}://"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		u, err := ParseEndpoint(s)
		if err != nil {
			return
		}
		if u.Scheme != "http" && u.Scheme != "https" || u.Hostname() == "" {
			t.Fatalf("accepted %q as %s", s, u)
		}
		a := &Authorization{AuthorizationSpec: AuthorizationSpec{Endpoint: s}}
		if !a.InScope(s) {
			t.Fatalf("%q is not in its own scope", s)
		}
	})
}
