package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

// runWithStdin runs one command with stdin.
func runWithStdin(t *testing.T, getenv func(string) string, stdin string, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := run(ctx, args, getenv, strings.NewReader(stdin), &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

func TestUserCreate(t *testing.T) {
	t.Parallel()
	db := filepath.Join(t.TempDir(), "herald.db")
	vars := env(map[string]string{"HERALD_DB": db})

	for _, c := range []struct {
		args  []string
		stdin string
		want  string
	}{
		{[]string{"user"}, "", "herald user create --email"},
		{[]string{"user", "create"}, "pw\n", "--email is required"},
		{[]string{"user", "create", "--email", "not-an-email"}, "long enough password\n", "not a valid email"},
		{[]string{"user", "create", "--email", "ops@example.com"}, "short\n", "at least 10 characters"},
		{[]string{"user", "create", "--email", "ops@example.com"}, "", "password is required"},
	} {
		_, _, err := runWithStdin(t, vars, c.stdin, c.args...)
		if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%v: %v (exit %d), want a usage error saying %q", c.args, err, exitCode(err), c.want)
		}
	}

	out, stderr, err := runWithStdin(t, vars, "correct horse battery\r\n", "user", "create", "--email", "Ops@Example.com")
	if err != nil {
		t.Fatalf("user create: %v\n%s", err, stderr)
	}
	if !strings.Contains(out, "admin ops@example.com created") || strings.Contains(out+stderr, "correct horse") {
		t.Fatalf("stdout %q, stderr %q", out, stderr)
	}
	_, _, err = runWithStdin(t, vars, "another good password\n", "user", "create", "--email", "ops@example.com")
	if err == nil || !strings.Contains(err.Error(), "already used") || strings.Contains(err.Error(), "UNIQUE") || strings.Contains(err.Error(), "constraint") {
		t.Fatalf("duplicate email (no driver text): %v", err)
	}

	// With an admin in the database, serve prints no first-admin link and
	// the setup page is closed; the admin signs in with the password that
	// was read from stdin.
	ctx, cancel := context.WithCancel(context.Background())
	stdout := &syncBuffer{}
	done := make(chan error, 1)
	go func() {
		done <- run(ctx, []string{"serve", "--addr", "127.0.0.1:0"}, vars, strings.NewReader(""), stdout, io.Discard)
	}()
	var base string
	for deadline := time.Now().Add(20 * time.Second); base == "" && time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		for _, l := range strings.Split(stdout.String(), "\n") {
			if u, ok := strings.CutPrefix(l, "herald listening on "); ok {
				base = u
			}
		}
	}
	if base == "" {
		t.Fatal("serve did not start")
	}
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Get(base + "/setup?token=anything")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusGone {
		t.Fatalf("setup with an admin present: %d", res.StatusCode)
	}
	res, err = client.Get(base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := regexp.MustCompile(`name="csrf_token" value="([^"]+)"`).FindSubmatch(page)
	if m == nil {
		t.Fatal("no CSRF token on the sign-in page")
	}
	res, err = client.PostForm(base+"/login", url.Values{"csrf_token": {string(m[1])}, "email": {"ops@example.com"}, "password": {"correct horse battery"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/webhooks" {
		t.Fatalf("sign-in: %d → %q", res.StatusCode, res.Header.Get("Location"))
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if strings.Contains(stdout.String(), "first admin") {
		t.Fatalf("serve printed a setup link although an admin exists:\n%s", stdout.String())
	}
}

// syncBuffer is a bytes.Buffer safe for one writer and one reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
