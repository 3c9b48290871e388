package main

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/storetest"
)

// TestREADMEOutboxQuickStart runs the README's "Outbox quick start" with
// bash, psql and curl against a herald built from this tree, a real
// PostgreSQL as the platform's database, and a receiver standing in for
// the one of "See a delivery arrive"; the INSERT's delivery must arrive.
func TestREADMEOutboxQuickStart(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "go", "psql"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("skipped: %s is not installed (%v)", tool, err)
		}
	}
	// The platform's database: a fresh schema, named for psql and pgx
	// alike through the options parameter.
	u, err := url.Parse(storetest.PostgresURL(t))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("options", "-csearch_path="+q.Get("search_path"))
	q.Del("search_path")
	u.RawQuery = q.Encode()
	platformDB := u.String()

	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	blocks := readmeBlocks(t, string(raw), "Outbox quick start", "sh")
	if len(blocks) != 1 {
		t.Fatalf("README's outbox quick start has %d sh blocks; the test expects 1", len(blocks))
	}
	cmds := shellCommands(blocks[0])
	if len(cmds) != 4 {
		t.Fatalf("outbox quick start: %d commands, the test knows 4:\n%s", len(cmds), strings.Join(cmds, "\n---\n"))
	}
	bin := filepath.Join(t.TempDir(), "herald")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}

	// herald, its key, and the webhook of "See a delivery arrive" (GET
	// /?id={{ member.id }}) pointed at this test's receiver.
	var mu sync.Mutex
	var got []string
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		got = append(got, r.Method+" "+r.URL.RequestURI())
		mu.Unlock()
	}))
	defer recv.Close()
	db := filepath.Join(t.TempDir(), "herald.db")
	key, stderr, err := runHerald(t, envFunc(map[string]string{"HERALD_DB": db}), "apikey", "create", "--name", "readme")
	if err != nil {
		t.Fatalf("apikey: %v %s", err, stderr)
	}
	key = strings.TrimSpace(key)
	h := startChild(t, nil, "--db", db)
	code, hook := call(t, "POST", h.url+"/api/v1/webhooks", key, map[string]any{"name": "local", "event": "member.verified",
		"endpoint_url": recv.URL + "/", "method": "GET", "payload_type": "FORM", "payload": "id={{ member.id }}"})
	if code != 201 {
		t.Fatalf("webhook: %d %v", code, hook)
	}
	if code, _ := call(t, "POST", h.url+"/api/v1/webhooks/"+hook["id"].(string)+"/publish", key, nil); code != 200 {
		t.Fatalf("publish: %d", code)
	}

	dir := t.TempDir()
	ids := map[string]string{}
	sh := func(cmd string) (string, int) {
		t.Helper()
		cmd = strings.ReplaceAll(cmd, "go run ./cmd/herald", bin)
		cmd = strings.ReplaceAll(cmd, "http://127.0.0.1:8080", h.url)
		for p, id := range ids {
			cmd = strings.ReplaceAll(cmd, p, id)
		}
		isCurl := strings.HasPrefix(cmd, "curl -s ")
		if isCurl {
			cmd = "curl -s -w '\\n%{http_code}' " + strings.TrimPrefix(cmd, "curl -s ")
		}
		c := exec.Command("bash", "-e", "-o", "pipefail", "-c", cmd)
		c.Dir = dir
		c.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "KEY=" + key, "PLATFORM_DB=" + platformDB}
		var errOut strings.Builder
		c.Stderr = &errOut
		out, err := c.Output()
		if err != nil {
			t.Fatalf("%s\n→ %v\n%s%s", cmd, err, out, errOut.String())
		}
		if !isCurl {
			return string(out), 0
		}
		i := strings.LastIndex(string(out), "\n")
		status, _ := strconv.Atoi(string(out[i+1:]))
		return string(out[:i]), status
	}

	sh(cmds[0]) // the DDL
	body, status := sh(cmds[1])
	id := regexp.MustCompile(`"id":\s*"([^"]+)"`).FindStringSubmatch(body)
	if status != 201 || id == nil {
		t.Fatalf("create the source: %d %s", status, body)
	}
	ids["<source id>"] = id[1]
	waitUntil(t, 30*time.Second, "the source to connect", func() bool {
		_, s := call(t, "GET", h.url+"/api/v1/sources/"+id[1], key, nil)
		return s["state"] == "connected"
	})
	sh(cmds[2]) // the INSERT
	waitUntil(t, 30*time.Second, "the delivery of the INSERT", func() bool {
		mu.Lock()
		defer mu.Unlock()
		return len(got) == 1 && got[0] == "GET /?id=m-1"
	})
	waitUntil(t, 10*time.Second, "the source's count", func() bool {
		body, status = sh(cmds[3])
		return status == 200 && regexp.MustCompile(`"ingested":\s*1\b`).MatchString(body) && strings.Contains(body, `"state":"connected"`)
	})
	if left, _ := sh(`psql -q -At "$PLATFORM_DB" -c "SELECT count(*) FROM herald_outbox"`); strings.TrimSpace(left) != "0" {
		t.Fatalf("%s rows left in herald_outbox; want 0 (deleted once the event was on disk)", left)
	}
}
