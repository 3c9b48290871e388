package main

import (
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// herald healthcheck: 0 when /healthz answers 200 (found from --url, from
// HERALD_ADDR as serve reads it, 0.0.0.0 meaning loopback), 1 with a
// one-line reason otherwise, 2 for a mistake in its flags.
func TestHealthcheck(t *testing.T) {
	s := startServe(t, env(map[string]string{"HERALD_DB": filepath.Join(t.TempDir(), "herald.db")}))
	hostPort := strings.TrimPrefix(s.url, "http://")
	_, port, _ := net.SplitHostPort(hostPort)

	for _, tc := range []struct {
		name string
		vars map[string]string
		args []string
	}{
		{"base --url", nil, []string{"--url", s.url}},
		{"full --url", nil, []string{"--url", s.url + "/healthz"}},
		{"HERALD_ADDR", map[string]string{"HERALD_ADDR": hostPort}, nil},
		{"0.0.0.0", map[string]string{"HERALD_ADDR": "0.0.0.0:" + port}, nil},
		{"--addr", nil, []string{"--addr", hostPort}},
	} {
		out, stderr, err := runHerald(t, env(tc.vars), append([]string{"healthcheck"}, tc.args...)...)
		if err != nil || !strings.HasPrefix(out, "healthy: http://127.0.0.1:"+port+"/healthz answered 200") {
			t.Errorf("%s: %v, stdout %q, stderr %q", tc.name, err, out, stderr)
		}
	}

	unavailable := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/healthz" {
			http.NotFound(w, r)
			return
		}
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	defer unavailable.Close()
	redirect := httptest.NewServer(http.RedirectHandler(s.url+"/healthz", http.StatusFound))
	defer redirect.Close()
	hang := make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-hang:
		case <-r.Context().Done():
		}
	}))
	defer slow.Close()
	defer close(hang)
	closed, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closedAddr := closed.Addr().String()
	closed.Close()

	for _, tc := range []struct {
		name string
		args []string
		want string
	}{
		{"503", []string{"--url", unavailable.URL}, "unhealthy: " + unavailable.URL + "/healthz answered 503 Service Unavailable"},
		{"redirect is not followed", []string{"--url", redirect.URL}, "answered 302 Found"},
		{"nothing listens", []string{"--addr", closedAddr}, "unhealthy: GET http://" + closedAddr + "/healthz: dial tcp " + closedAddr},
		{"too slow", []string{"--url", slow.URL, "--timeout", "200ms"}, "did not answer within 200ms"},
	} {
		start := time.Now()
		_, _, err := runHerald(t, env(nil), append([]string{"healthcheck"}, tc.args...)...)
		if err == nil || exitCode(err) != 1 {
			t.Errorf("%s: %v (exit %d), want exit 1", tc.name, err, exitCode(err))
			continue
		}
		line := errorLine(err)
		if !strings.HasPrefix(line, "herald healthcheck: ") || !strings.Contains(line, tc.want) || strings.Contains(line, "\n") {
			t.Errorf("%s: %q, want one line containing %q", tc.name, line, tc.want)
		}
		if d := time.Since(start); d > 3*time.Second {
			t.Errorf("%s took %s", tc.name, d)
		}
	}

	for _, args := range [][]string{{"--url", "127.0.0.1:8080"}, {"--url", "ftp://x/healthz"}, {"--addr", "8080"}, {"extra"}} {
		if _, _, err := runHerald(t, env(nil), append([]string{"healthcheck"}, args...)...); exitCode(err) != 2 {
			t.Errorf("healthcheck %v: %v (exit %d), want a usage error", args, err, exitCode(err))
		}
	}
	if _, stderr, err := runHerald(t, env(nil), "healthcheck", "--help"); err != nil || !strings.Contains(stderr, "HERALD_ADDR") {
		t.Errorf("healthcheck --help: %v %q", err, stderr)
	}
	if out, _, _ := runHerald(t, env(nil), "help"); !strings.Contains(out, "herald healthcheck") {
		t.Errorf("the usage does not list healthcheck:\n%s", out)
	}
}
