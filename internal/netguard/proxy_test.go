package netguard

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"testing"
)

func TestParseProxy(t *testing.T) {
	for _, ok := range []string{"http://127.0.0.1:3128", "http://user:pw@proxy.internal:8080", "http://[::1]:3128/"} {
		if _, err := ParseProxy(ok); err != nil {
			t.Errorf("ParseProxy(%q) = %v", ok, err)
		}
	}
	for _, bad := range []string{"", "127.0.0.1:3128", "https://proxy:443", "socks5://proxy:1080", "http://proxy", "http://proxy:3128/path", "http://proxy:3128?x=1"} {
		if _, err := ParseProxy(bad); err == nil {
			t.Errorf("ParseProxy(%q) accepted", bad)
		}
	}
}

// A proxy that refuses the CONNECT is a *ProxyError with its status, and
// the Proxy-Authorization from the URL's user info reaches it; a blocked
// destination never reaches it at all.
func TestProxyRefusalAndBlockedDestination(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	var connects []string
	var auth string
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		connects = append(connects, r.Host)
		auth = r.Header.Get("Proxy-Authorization")
		http.Error(w, "no", http.StatusForbidden)
	})}
	go srv.Serve(ln)
	defer srv.Close()
	u, err := ParseProxy("http://herald:pw@" + ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	g := New([]netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")})
	dial := g.ProxyTransport(u).DialContext
	_, err = dial(context.Background(), "tcp", "127.0.0.2:80")
	mu.Lock()
	defer mu.Unlock()
	var pe *ProxyError
	if !errors.As(err, &pe) || !strings.Contains(err.Error(), "403") {
		t.Fatalf("dial through a refusing proxy: %v, want a ProxyError with 403", err)
	}
	if len(connects) != 1 || connects[0] != "127.0.0.2:80" || auth != "Basic aGVyYWxkOnB3" {
		t.Fatalf("the proxy saw CONNECT %v with Proxy-Authorization %q", connects, auth)
	}
	mu.Unlock()
	_, err = dial(context.Background(), "tcp", "localhost:80")
	mu.Lock()
	var be *BlockedError
	if !errors.As(err, &be) || be.Host != "localhost" {
		t.Fatalf("dial to localhost through the proxy: %v, want a BlockedError for host localhost", err)
	}
	if len(connects) != 1 {
		t.Fatalf("the proxy was asked for a blocked destination: %v", connects)
	}
}
