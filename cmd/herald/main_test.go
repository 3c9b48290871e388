package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/secrets"
	"github.com/heraldhq/herald/internal/storetest"
)

// env returns a getenv over a fixed map, so tests never read the real
// environment.
func env(vars map[string]string) func(string) string {
	return func(k string) string { return vars[k] }
}

// runHerald runs one command to completion and returns its stdout and stderr.
func runHerald(t *testing.T, getenv func(string) string, args ...string) (string, string, error) {
	t.Helper()
	var stdout, stderr bytes.Buffer
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	err := run(ctx, args, getenv, strings.NewReader(""), &stdout, &stderr)
	return stdout.String(), stderr.String(), err
}

// server is a running `herald serve`.
type server struct {
	url    string
	done   chan error
	cancel context.CancelFunc
	logs   *syncBuffer // what serve wrote to stderr
}

// startServe runs `herald serve` with args until the test ends and waits
// for its "listening on" line.
func startServe(t *testing.T, getenv func(string) string, args ...string) *server {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	pr, pw := io.Pipe()
	s := &server{done: make(chan error, 1), cancel: cancel, logs: &syncBuffer{}}
	go func() {
		err := run(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...), getenv, strings.NewReader(""), pw, s.logs)
		pw.CloseWithError(io.EOF)
		s.done <- err
	}()
	lines := bufio.NewScanner(pr)
	urlc := make(chan string, 1)
	go func() {
		for lines.Scan() {
			if u, ok := strings.CutPrefix(lines.Text(), "herald listening on "); ok {
				urlc <- u
			}
		}
		close(urlc)
	}()
	select {
	case u, ok := <-urlc:
		if !ok {
			t.Fatalf("serve exited before listening: %v\n%s", <-s.done, s.logs.String())
		}
		s.url = u
	case <-time.After(20 * time.Second):
		t.Fatal("serve did not start within 20 s")
	}
	t.Cleanup(func() { s.stop(t) })
	return s
}

func (s *server) stop(t *testing.T) {
	if s.cancel == nil {
		return
	}
	s.cancel()
	s.cancel = nil
	select {
	case err := <-s.done:
		if err != nil {
			t.Errorf("serve returned %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Error("serve did not shut down within 20 s")
	}
}

type lockedWriter struct{ w io.Writer }

func (l *lockedWriter) Write(p []byte) (int, error) { return l.w.Write(p) }

func call(t *testing.T, method, url, key string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		rd = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, url, rd)
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

func TestVersionAndUsage(t *testing.T) {
	out, _, err := runHerald(t, env(nil), "version")
	if err != nil || !strings.HasPrefix(out, "herald ") {
		t.Fatalf("version: %q, %v", out, err)
	}
	_, stderr, err := runHerald(t, env(nil), "frobnicate")
	if err == nil || exitCode(err) != 2 || !strings.Contains(stderr, "herald serve") {
		t.Fatalf("unknown command: %v (exit %d), usage %q", err, exitCode(err), stderr)
	}
	_, _, err = runHerald(t, env(nil))
	if exitCode(err) != 2 {
		t.Fatalf("no command: %v", err)
	}
	_, stderr, err = runHerald(t, env(nil), "serve", "--help")
	if err != nil || !strings.Contains(stderr, "HERALD_DB") || !strings.Contains(stderr, "HERALD_ALLOW_NETWORKS") {
		t.Fatalf("serve --help does not document the environment: %s", stderr)
	}
	_, _, err = runHerald(t, env(nil), "serve", "--allow-network", "not-a-cidr")
	if exitCode(err) != 2 {
		t.Fatalf("bad CIDR: %v", err)
	}
	for _, bad := range []string{"socks5://127.0.0.1:1080", "http://proxy", "127.0.0.1:3128"} {
		if _, _, err = runHerald(t, env(nil), "serve", "--egress-proxy", bad); exitCode(err) != 2 || !strings.Contains(err.Error(), "--egress-proxy") {
			t.Fatalf("bad --egress-proxy %q: %v", bad, err)
		}
	}
	_, _, err = runHerald(t, env(nil), "apikey", "create")
	if exitCode(err) != 2 || !strings.Contains(err.Error(), "--name") {
		t.Fatalf("apikey without name: %v", err)
	}
}

// The README's walk-through on SQLite: create a key, start serve, create an
// authorization and a webhook, restart, and read them back.
func TestServeOnSQLiteWalkThrough(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "herald.db")
	vars := env(map[string]string{"HERALD_DB": db})
	key, stderr, err := runHerald(t, vars, "apikey", "create", "--name", "walkthrough")
	if err != nil {
		t.Fatalf("apikey create: %v\n%s", err, stderr)
	}
	key = strings.TrimSpace(key)
	if !strings.HasPrefix(key, "hrld_") || strings.Contains(key, "\n") {
		t.Fatalf("stdout should be the key alone, got %q", key)
	}
	st, err := os.Stat(db + ".key")
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("secret key file: %v, mode %v", err, st.Mode().Perm())
	}
	if !strings.Contains(stderr, "created a new secret key") {
		t.Fatalf("creating the key file was not said: %s", stderr)
	}

	s := startServe(t, vars)
	for _, p := range []string{"/healthz", "/readyz"} {
		res, err := http.Get(s.url + p)
		if err != nil || res.StatusCode != 200 {
			t.Fatalf("GET %s: %v %v", p, err, res)
		}
		res.Body.Close()
	}
	code, auth := call(t, "POST", s.url+"/api/v1/authorizations", key, map[string]any{
		"endpoint": "https://api.bloomreach.example.com", "type": "header",
		"header": map[string]any{"key": "Authorization", "value": "Token very-secret-token-1234", "visibility": "SECRET"}})
	if code != 201 {
		t.Fatalf("create authorization: %d %v", code, auth)
	}
	code, wh := call(t, "POST", s.url+"/api/v1/webhooks", key, map[string]any{
		"name": "Bloomreach perks", "event": "coupon.redeemed", "authorization_enabled": true, "authorization_id": auth["id"],
		"endpoint_url": "https://api.bloomreach.example.com/track", "method": "POST", "payload_type": "JSON",
		"payload": `{"perk_id": "{{ coupon.id }}"}`, "custom_headers": []map[string]string{}})
	if code != 201 {
		t.Fatalf("create webhook: %d %v", code, wh)
	}
	s.stop(t)

	// A restart reads the same key file and database.
	s = startServe(t, vars)
	code, got := call(t, "GET", s.url+"/api/v1/authorizations/"+auth["id"].(string), key, nil)
	if code != 200 || got["header"].(map[string]any)["value"] != "••••1234" {
		t.Fatalf("after restart: %d %v", code, got)
	}
	code, _ = call(t, "GET", s.url+"/api/v1/webhooks/"+wh["id"].(string), key, nil)
	if code != 200 {
		t.Fatalf("webhook after restart: %d", code)
	}
	code, _ = call(t, "GET", s.url+"/api/v1/webhooks", "hrld_wrong", nil)
	if code != 401 {
		t.Fatalf("wrong key: %d", code)
	}
	out, _, err := runHerald(t, vars, "migrate")
	if err != nil || !strings.Contains(out, "up to date") {
		t.Fatalf("migrate: %q %v", out, err)
	}
	// The audit log has the CLI's key and the API's changes, by actor.
	code, audit := call(t, "GET", s.url+"/api/v1/audit-log", key, nil)
	logged := toJSON(audit)
	if code != 200 || !strings.Contains(logged, `"action":"api_key.create","actor":"herald CLI`) ||
		!strings.Contains(logged, `"action":"webhook.create","actor":"API key “walkthrough”"`) || strings.Contains(logged, "very-secret-token") {
		t.Fatalf("audit log: %d %s", code, logged)
	}
}

func TestServeOnPostgres(t *testing.T) {
	url := storetest.PostgresURL(t)
	keyFile := filepath.Join(t.TempDir(), "herald.key")
	// PostgreSQL needs an explicit key: processes must share it.
	_, _, err := runHerald(t, env(map[string]string{"HERALD_DB": url}), "migrate")
	if err == nil || !strings.Contains(err.Error(), "share one secret key") {
		t.Fatalf("postgres without key: %v", err)
	}
	if _, _, err := secrets.LoadOrCreateKeyFile(keyFile); err != nil {
		t.Fatal(err)
	}
	vars := env(map[string]string{"HERALD_DB": url, "HERALD_SECRET_KEY_FILE": keyFile})
	out, stderr, err := runHerald(t, vars, "migrate")
	if err != nil || !strings.Contains(out, "up to date") {
		t.Fatalf("migrate: %v %s %s", err, out, stderr)
	}
	key, _, err := runHerald(t, vars, "apikey", "create", "--name", "pg", "--scopes", "read")
	if err != nil {
		t.Fatal(err)
	}
	s := startServe(t, vars)
	code, _ := call(t, "GET", s.url+"/api/v1/event-types", strings.TrimSpace(key), nil)
	if code != 200 {
		t.Fatalf("event types on postgres: %d", code)
	}
	code, _ = call(t, "POST", s.url+"/api/v1/event-types", strings.TrimSpace(key), map[string]any{"key": "a.b", "display_name": "x"})
	if code != 403 {
		t.Fatalf("read-only key wrote: %d", code)
	}
}

func TestProductionModeNeedsAKey(t *testing.T) {
	db := filepath.Join(t.TempDir(), "herald.db")
	_, _, err := runHerald(t, env(map[string]string{"HERALD_DB": db, "HERALD_PRODUCTION": "true"}), "migrate")
	if err == nil || !strings.Contains(err.Error(), "head -c 32 /dev/urandom") {
		t.Fatalf("production without key: %v", err)
	}
	if _, err := os.Stat(db + ".key"); err == nil {
		t.Fatal("production mode created a key file")
	}
	bad := filepath.Join(t.TempDir(), "bad.key")
	os.WriteFile(bad, []byte("short"), 0o600)
	_, _, err = runHerald(t, env(map[string]string{"HERALD_DB": db}), "migrate", "--secret-key-file", bad)
	if err == nil {
		t.Fatal("malformed key file accepted")
	}
}

// A database sealed under one key cannot be read with another: herald
// says so instead of returning garbage.
func TestWrongKeyIsAnError(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "herald.db")
	vars := env(map[string]string{"HERALD_DB": db})
	key, _, err := runHerald(t, vars, "apikey", "create", "--name", "k")
	if err != nil {
		t.Fatal(err)
	}
	s := startServe(t, vars)
	code, auth := call(t, "POST", s.url+"/api/v1/authorizations", strings.TrimSpace(key), map[string]any{
		"endpoint": "https://x.example.com", "type": "basic", "basic": map[string]any{"username": "u", "password": "pw-123"}})
	if code != 201 {
		t.Fatal(code)
	}
	s.stop(t)
	other := filepath.Join(dir, "other.key")
	secrets.LoadOrCreateKeyFile(other)
	s = startServe(t, env(map[string]string{"HERALD_DB": db, "HERALD_SECRET_KEY_FILE": other}))
	code, body := call(t, "GET", s.url+"/api/v1/authorizations/"+auth["id"].(string), strings.TrimSpace(key), nil)
	if code != 500 || strings.Contains(body["detail"].(string), "pw-123") {
		t.Fatalf("wrong key: %d %v", code, body)
	}
}

// --time-zone sets where templates read date-only values.
func TestTimeZoneFlag(t *testing.T) {
	_, _, err := runHerald(t, env(nil), "serve", "--time-zone", "Mars/Olympus")
	if exitCode(err) != 2 || !strings.Contains(err.Error(), "IANA") {
		t.Fatalf("bad zone: %v", err)
	}
	db := filepath.Join(t.TempDir(), "herald.db")
	vars := env(map[string]string{"HERALD_DB": db})
	key, _, err := runHerald(t, vars, "apikey", "create", "--name", "tz")
	if err != nil {
		t.Fatal(err)
	}
	s := startServe(t, vars, "--time-zone", "Europe/Ljubljana")
	code, res := call(t, "POST", s.url+"/api/v1/templates/render", strings.TrimSpace(key), map[string]any{
		"payload_type": "PLAIN", "template": "{{ member.param.birth_date | date('U') }} {{ event.created_at | date('U') }}",
		"data":  map[string]any{"member": map[string]any{"param": map[string]any{"birth_date": "1990-04-15"}}},
		"event": map[string]any{"created_at": "2025-05-12T12:34:56Z"}})
	// Midnight in Ljubljana (CEST, UTC+2) is 22:00 UTC the day before; a
	// full timestamp is unaffected.
	if code != 200 || res["body"] != "640130400 1747053296" {
		t.Fatalf("render: %d %v", code, res)
	}
}

// The CLI's rough edges: --help is a success, subcommands describe
// themselves, one "herald:" per message, did-you-mean, --db mistakes named.
func TestCLIHelpAndMistakes(t *testing.T) {
	for _, args := range [][]string{{"serve", "--help"}, {"migrate", "--help"}, {"bench", "-h"}, {"send", "--help"}, {"apikey", "create", "--help"}, {"user", "create", "--help"}} {
		_, stderr, err := runHerald(t, env(nil), args...)
		if err != nil || strings.Contains(stderr, "help requested") || !strings.Contains(stderr, "-") {
			t.Errorf("%v: %v, %q", args, err, stderr)
		}
	}
	for _, cmd := range []string{"apikey", "user"} {
		out, _, err := runHerald(t, env(nil), cmd, "--help")
		if err != nil || !strings.Contains(out, "herald "+cmd+" create") {
			t.Errorf("%s --help: %v %q", cmd, err, out)
		}
		_, _, err = runHerald(t, env(nil), cmd)
		if exitCode(err) != 2 || !strings.Contains(err.Error(), "create") {
			t.Errorf("%s without a subcommand: %v", cmd, err)
		}
	}
	_, _, err := runHerald(t, env(nil), "serv")
	if exitCode(err) != 2 || !strings.Contains(err.Error(), `did you mean "serve"`) {
		t.Errorf("a typo of serve: %v", err)
	}
	out, _, _ := runHerald(t, env(nil), "version")
	if !strings.Contains(out, ", commit ") || !strings.Contains(out, ", built ") {
		t.Errorf("version: %q", out)
	}
	for _, tc := range []struct{ err, want string }{
		{"herald user create: --email is required", "herald user create: --email is required"},
		{"herald send: herald: 422 Validation failed", "herald send: 422 Validation failed"},
		{"workspace x: not found", "herald: workspace x: not found"},
	} {
		if got := errorLine(errors.New(tc.err)); got != tc.want {
			t.Errorf("errorLine(%q) = %q, want %q", tc.err, got, tc.want)
		}
	}
	dir := t.TempDir()
	for _, tc := range []struct{ db, want string }{
		{"mysql://root@localhost/herald", `unsupported database scheme "mysql"`},
		{" ", "--db is empty"},
		{filepath.Join(dir, "missing", "herald.db"), "does not exist; create it first"},
		{dir, "is a folder"},
	} {
		_, _, err := runHerald(t, env(map[string]string{"HERALD_DB": tc.db}), "migrate")
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("--db %q: %v, want %q", tc.db, err, tc.want)
		}
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("a refused --db left files behind: %v", entries)
	}
	// HERALD_ALLOW_NETWORK (singular) is read too.
	var cfg serveConfig
	fs := newFlagSet("serve", io.Discard)
	fs.Var(&cfg.allowNetworks, "allow-network", "")
	if err := parseFlags(fs, nil, env(map[string]string{"HERALD_ALLOW_NETWORK": "127.0.0.0/8,10.1.0.0/16"})); err != nil || len(cfg.allowNetworks) != 2 {
		t.Errorf("HERALD_ALLOW_NETWORK: %v %v", cfg.allowNetworks, err)
	}
}

// serve on an address in use fails before it creates a database or key.
func TestServeFailingToBindCreatesNothing(t *testing.T) {
	busy, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	dir := t.TempDir()
	_, _, err = runHerald(t, env(map[string]string{"HERALD_DB": filepath.Join(dir, "herald.db")}), "serve", "--addr", busy.Addr().String())
	if err == nil || !strings.Contains(err.Error(), "listen on") {
		t.Fatalf("serve on a busy address: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Fatalf("a failed serve left %v behind", entries)
	}
}

// A second serve on the same SQLite file says what that costs.
func TestSecondServeOnOneSQLiteFileWarns(t *testing.T) {
	db := filepath.Join(t.TempDir(), "herald.db")
	vars := env(map[string]string{"HERALD_DB": db})
	first := startServe(t, vars)
	if strings.Contains(first.logs.String(), "another herald serve") {
		t.Fatalf("the first serve warned:\n%s", first.logs.String())
	}
	second := startServe(t, vars)
	if !strings.Contains(second.logs.String(), "another herald serve has this SQLite file open") {
		t.Fatalf("no warning from the second serve:\n%s", second.logs.String())
	}
}
