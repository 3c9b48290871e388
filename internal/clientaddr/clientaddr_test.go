package clientaddr

import (
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestResolve(t *testing.T) {
	trusted, err := Parse([]string{"10.0.0.0/8,127.0.0.1", "::1/128"})
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		trusted *Trusted
		remote  string
		xff     []string
		proto   string
		tls     bool
		want    string
		https   bool
	}{
		{"no proxy trusted: the header is ignored", nil, "198.51.100.9:4000", []string{"203.0.113.7"}, "https", false, "198.51.100.9", false},
		{"untrusted peer: the header is ignored", trusted, "198.51.100.9:4000", []string{"203.0.113.7"}, "https", false, "198.51.100.9", false},
		{"trusted peer, one hop", trusted, "127.0.0.1:4000", []string{"203.0.113.7"}, "https", false, "203.0.113.7", true},
		{"forged left part is skipped", trusted, "10.1.2.3:4000", []string{"6.6.6.6, 203.0.113.7"}, "", false, "203.0.113.7", false},
		{"chain of trusted proxies", trusted, "10.1.2.3:4000", []string{"203.0.113.7, 10.9.9.9", "10.0.0.2"}, "http", false, "203.0.113.7", false},
		{"all hops trusted: the leftmost", trusted, "10.1.2.3:4000", []string{"10.0.0.5, 10.0.0.6"}, "", false, "10.0.0.5", false},
		{"garbage stops the walk", trusted, "10.1.2.3:4000", []string{"203.0.113.7, nonsense, 10.0.0.6"}, "", false, "10.0.0.6", false},
		{"no header: the peer", trusted, "10.1.2.3:4000", nil, "", false, "10.1.2.3", false},
		{"hop with port", trusted, "10.1.2.3:4000", []string{"203.0.113.7:5555"}, "", false, "203.0.113.7", false},
		{"IPv6 hop with port", trusted, "[::1]:4000", []string{"[2001:db8::1]:443"}, "HTTPS", false, "2001:db8::1", true},
		{"mapped IPv4 peer", trusted, "[::ffff:127.0.0.1]:4000", []string{"203.0.113.8"}, "", false, "203.0.113.8", false},
		{"own TLS is https whatever the header", nil, "198.51.100.9:4000", nil, "http", true, "198.51.100.9", true},
		{"nearest proxy's proto wins", trusted, "10.1.2.3:4000", []string{"203.0.113.7"}, "http, https", false, "203.0.113.7", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest("GET", "/", nil)
			r.RemoteAddr = tt.remote
			for _, v := range tt.xff {
				r.Header.Add("X-Forwarded-For", v)
			}
			if tt.proto != "" {
				r.Header.Set("X-Forwarded-Proto", tt.proto)
			}
			if tt.tls {
				r.TLS = &tls.ConnectionState{}
			}
			info := tt.trusted.Resolve(r)
			if info.Addr != tt.want || info.HTTPS != tt.https {
				t.Fatalf("Resolve = %+v, want {%s %v}", info, tt.want, tt.https)
			}
			// Through the middleware, From and HTTPS say the same.
			var gotAddr string
			var gotHTTPS bool
			tt.trusted.Middleware(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				gotAddr, gotHTTPS = From(r), HTTPS(r)
			})).ServeHTTP(httptest.NewRecorder(), r)
			if gotAddr != tt.want || gotHTTPS != tt.https {
				t.Fatalf("From/HTTPS = %s %v, want %s %v", gotAddr, gotHTTPS, tt.want, tt.https)
			}
		})
	}
}

func TestFromWithoutMiddlewareIsThePeer(t *testing.T) {
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "127.0.0.1:999"
	r.Header.Set("X-Forwarded-For", "203.0.113.7")
	if got := From(r); got != "127.0.0.1" {
		t.Fatalf("From = %q", got)
	}
	if HTTPS(r) {
		t.Fatal("HTTPS without TLS")
	}
}

func TestParseRefusesNonsense(t *testing.T) {
	for _, bad := range []string{"10.0.0.0/33", "example.com", "10.0.0", "/8"} {
		if _, err := Parse([]string{bad}); err == nil {
			t.Errorf("Parse(%q) accepted", bad)
		}
	}
	tr, err := Parse([]string{"", " , "})
	if err != nil || tr.Len() != 0 {
		t.Fatalf("empty entries: %v, %d", err, tr.Len())
	}
}

func BenchmarkResolve(b *testing.B) {
	trusted, _ := Parse([]string{"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16"})
	r := httptest.NewRequest("GET", "/", nil)
	r.RemoteAddr = "10.1.2.3:4000"
	r.Header.Set("X-Forwarded-For", "203.0.113.7, 10.9.9.9")
	r.Header.Set("X-Forwarded-Proto", "https")
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		trusted.Resolve(r)
	}
}
