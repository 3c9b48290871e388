package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// serveOn runs `herald serve` on vars' database until the test ends and
// returns its base URL.
func serveOn(t *testing.T, vars func(string) string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	stdout := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0"}, vars, strings.NewReader(""), stdout, io.Discard)
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		for _, l := range strings.Split(stdout.String(), "\n") {
			if u, ok := strings.CutPrefix(l, "herald listening on "); ok {
				return u
			}
		}
	}
	t.Fatal("serve did not start within 20 s")
	return ""
}

func tenantAPI(t *testing.T, method, url, key string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = strings.NewReader(string(b))
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Authorization", "Bearer "+key)
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var m map[string]any
	json.NewDecoder(res.Body).Decode(&m)
	return res.StatusCode, m
}

// TestAPIKeyCreateInstance: `herald apikey create --instance` prints a key
// that manages workspaces over the API and acts in none.
func TestAPIKeyCreateInstance(t *testing.T) {
	t.Parallel()
	vars := env(map[string]string{"HERALD_DB": filepath.Join(t.TempDir(), "herald.db")})
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"apikey", "create", "--instance"}, "--name is required"},
		{[]string{"apikey", "create", "--instance", "--name", "p", "--workspace", "brand"}, "no --workspace and no --scopes"},
		{[]string{"apikey", "create", "--instance", "--name", "p", "--scopes", "read"}, "no --workspace and no --scopes"},
	} {
		_, _, err := runWithStdin(t, vars, "", c.args...)
		if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v (exit %d), want a usage error saying %q", c.args, err, exitCode(err), c.want)
		}
	}
	out, stderr, err := runWithStdin(t, vars, "", "apikey", "create", "--instance", "--name", "platform")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	key := strings.TrimSpace(out)
	if !strings.HasPrefix(key, "hrld_") || strings.Contains(stderr, key) || !strings.Contains(stderr, "instance key") {
		t.Fatalf("stdout %q, stderr %q", out, stderr)
	}
	wsKey, _, err := runWithStdin(t, vars, "", "apikey", "create", "--name", "ci")
	if err != nil {
		t.Fatal(err)
	}
	base := serveOn(t, vars)
	st, body := tenantAPI(t, "POST", base+"/api/v1/workspaces", key, map[string]any{"name": "brand-a"})
	if st != http.StatusCreated || body["name"] != "brand-a" {
		t.Fatalf("create a workspace with the instance key: %d %v", st, body)
	}
	if st, body := tenantAPI(t, "GET", base+"/api/v1/workspaces", key, nil); st != http.StatusOK || len(body["data"].([]any)) != 2 {
		t.Fatalf("list workspaces: %d %v", st, body)
	}
	if st, _ := tenantAPI(t, "GET", base+"/api/v1/webhooks", key, nil); st != http.StatusForbidden {
		t.Fatalf("the instance key on a workspace's route: %d, want 403", st)
	}
	if st, _ := tenantAPI(t, "GET", base+"/api/v1/workspaces", strings.TrimSpace(wsKey), nil); st != http.StatusForbidden {
		t.Fatalf("a workspace key on the instance API: %d, want 403", st)
	}
}

// TestUserInvite: `herald user invite` prints a one-time link (on
// --public-url, else on http://<addr>) that opens the invitation page of
// the running server, where the invited person sets a password and joins.
func TestUserInvite(t *testing.T) {
	t.Parallel()
	vars := env(map[string]string{"HERALD_DB": filepath.Join(t.TempDir(), "herald.db")})
	if _, stderr, err := runWithStdin(t, vars, "correct horse battery\n", "user", "create", "--email", "owner@example.com", "--workspace", "brand-a"); err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"user", "invite", "--workspace", "brand-a"}, "--email is required"},
		{[]string{"user", "invite", "--email", "v@example.com", "--workspace", "brand-a", "--role", "root"}, "role"},
		{[]string{"user", "invite", "--email", "v@example.com", "--workspace", "nope"}, `no workspace "nope"`},
		{[]string{"user", "invite", "--email", "not-an-email", "--workspace", "brand-a"}, "not a valid email"},
		{[]string{"user", "invite", "--email", "v@example.com", "--workspace", "brand-a", "--public-url", "herald.example.com"}, "--public-url"},
		{[]string{"user", "invite", "--email", "owner@example.com", "--workspace", "brand-a"}, "already a member"},
	} {
		_, _, err := runWithStdin(t, vars, "", c.args...)
		if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v (exit %d), want a usage error saying %q", c.args, err, exitCode(err), c.want)
		}
	}
	out, stderr, err := runWithStdin(t, vars, "", "user", "invite", "--email", "Ops@Example.com", "--workspace", "brand-a", "--role", "admin", "--public-url", "https://herald.example.com/")
	if err != nil {
		t.Fatalf("%v\n%s", err, stderr)
	}
	if !regexp.MustCompile(`^https://herald\.example\.com/invite/[A-Za-z0-9_-]{43}\n$`).MatchString(out) || !strings.Contains(stderr, "ops@example.com invited") || !strings.Contains(stderr, "as admin") {
		t.Fatalf("stdout %q, stderr %q", out, stderr)
	}
	out, _, err = runWithStdin(t, vars, "", "user", "invite", "--email", "viewer@example.com", "--workspace", "brand-a")
	if err != nil {
		t.Fatal(err)
	}
	link := strings.TrimSpace(out)
	path, ok := strings.CutPrefix(link, "http://127.0.0.1:8080")
	if !ok || !strings.HasPrefix(path, "/invite/") {
		t.Fatalf("link %q, want it on http://<--addr> (default 127.0.0.1:8080)", link)
	}

	base := serveOn(t, vars)
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	get := func(p string) (int, string) {
		res, err := client.Get(base + p)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		return res.StatusCode, string(b)
	}
	st, page := get(path)
	if st != http.StatusOK || !strings.Contains(page, "Join brand-a") || !strings.Contains(page, "viewer") {
		t.Fatalf("invitation page: %d\n%s", st, page)
	}
	csrf := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindStringSubmatch(page)
	res, err := client.PostForm(base+path, url.Values{"csrf_token": {csrf[1]}, "password": {"viewer password 1"}, "password_confirm": {"viewer password 1"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("accept: %d", res.StatusCode)
	}
	st, page = get("/webhooks")
	if st != http.StatusOK || !strings.Contains(page, "brand-a") || !strings.Contains(page, "viewer") || strings.Contains(page, `href="/webhooks/new"`) {
		t.Fatalf("the new viewer's Webhooks page: %d\n%s", st, page)
	}
	// The link works once.
	client.Jar, _ = cookiejar.New(nil)
	if st, _ := get(path); st != http.StatusNotFound {
		t.Fatalf("a used link: %d, want 404", st)
	}
}
