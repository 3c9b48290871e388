package main

import (
	"bufio"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// readmeBlocks returns the code blocks of the given language in the README
// section whose heading is title, up to the next heading of any level.
func readmeBlocks(t *testing.T, readme, title, lang string) []string {
	t.Helper()
	_, rest, ok := strings.Cut(readme, "\n## "+title+"\n")
	if !ok {
		t.Fatalf("README has no section %q", title)
	}
	var blocks []string
	var cur *strings.Builder // the block of lang being read
	fenced := false          // inside any block, where # is a comment
	for _, line := range strings.Split(rest, "\n") {
		switch {
		case !fenced && strings.HasPrefix(line, "#"):
			return blocks // the next heading
		case !fenced && strings.HasPrefix(line, "```"):
			fenced = true
			if line == "```"+lang {
				cur = &strings.Builder{}
			}
		case line == "```":
			if cur != nil {
				blocks = append(blocks, cur.String())
			}
			fenced, cur = false, nil
		case cur != nil:
			cur.WriteString(line + "\n")
		}
	}
	return blocks
}

// shellCommands splits a shell block into its commands: comment and blank
// lines dropped, lines joined while a line ends in \ or a single quote is
// open.
func shellCommands(block string) []string {
	var cmds []string
	var cur strings.Builder
	for _, line := range strings.Split(block, "\n") {
		if cur.Len() == 0 && (strings.TrimSpace(line) == "" || strings.HasPrefix(strings.TrimSpace(line), "#")) {
			continue
		}
		cur.WriteString(line + "\n")
		s := cur.String()
		if strings.HasSuffix(strings.TrimRight(line, " "), `\`) || strings.Count(s, "'")%2 == 1 {
			continue
		}
		cmds = append(cmds, strings.TrimSpace(s))
		cur.Reset()
	}
	return cmds
}

// TestREADMEWalkthrough runs the README's "Walk-through with curl" and
// "Sending events" commands with bash, in order, against a herald built
// from this tree and started in a fresh folder, and checks each answer.
func TestREADMEWalkthrough(t *testing.T) {
	for _, tool := range []string{"bash", "curl", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("skipped: %s is not installed (%v)", tool, err)
		}
	}
	raw, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(raw)
	walk := readmeBlocks(t, readme, "Walk-through with curl", "sh")
	send := readmeBlocks(t, readme, "Sending events", "sh")
	eventJSON := readmeBlocks(t, readme, "Sending events", "json")
	if len(walk) != 1 || len(send) != 1 || len(eventJSON) != 1 {
		t.Fatalf("README: %d walk-through, %d sending and %d event.json blocks; the test expects one each", len(walk), len(send), len(eventJSON))
	}

	dir := t.TempDir()
	bin := filepath.Join(t.TempDir(), "herald")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	if err := os.WriteFile(filepath.Join(dir, "event.json"), []byte(eventJSON[0]), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	vars := map[string]string{} // shell variables the commands set (KEY)
	ids := map[string]string{}  // placeholder → id

	// sh runs one README command in dir and returns what it printed; a
	// curl also prints the status code on a last line of its own.
	sh := func(cmd string) (string, int) {
		t.Helper()
		cmd = strings.ReplaceAll(cmd, "go run ./cmd/herald", bin)
		cmd = strings.ReplaceAll(cmd, "127.0.0.1:8080", addr)
		for p, id := range ids {
			cmd = strings.ReplaceAll(cmd, p, id)
		}
		if strings.Contains(cmd, "<id") {
			t.Fatalf("a placeholder the test cannot fill: %s", cmd)
		}
		isCurl := strings.HasPrefix(cmd, "curl -s ")
		if isCurl {
			cmd = "curl -s -w '\\n%{http_code}' " + strings.TrimPrefix(cmd, "curl -s ")
		}
		assign := regexp.MustCompile(`^([A-Z_]+)=\$\(`).FindStringSubmatch(cmd)
		if assign != nil {
			cmd += "\nprintf %s \"$" + assign[1] + "\""
		}
		c := exec.Command("bash", "-e", "-c", cmd)
		c.Dir = dir
		c.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir, "HERALD_URL=http://" + addr}
		for k, v := range vars {
			c.Env = append(c.Env, k+"="+v)
		}
		var stderr strings.Builder
		c.Stderr = &stderr
		out, err := c.Output()
		if err != nil {
			t.Fatalf("%s\n→ %v\n%s%s", cmd, err, out, stderr.String())
		}
		if assign != nil {
			vars[assign[1]] = string(out)
		}
		if !isCurl {
			return string(out), 0
		}
		body, code := "", string(out)
		if i := strings.LastIndex(string(out), "\n"); i >= 0 {
			body, code = string(out[:i]), string(out[i+1:])
		}
		status, err := strconv.Atoi(code)
		if err != nil {
			t.Fatalf("%s: no status code in %q", cmd, out)
		}
		return body, status
	}
	object := func(cmd, body string) map[string]any {
		t.Helper()
		var m map[string]any
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			t.Fatalf("%s: answer is not a JSON object: %v\n%s", cmd, err, body)
		}
		return m
	}

	cmds := shellCommands(walk[0])
	if len(cmds) != 9 {
		t.Fatalf("walk-through: %d commands, the test knows 9:\n%s", len(cmds), strings.Join(cmds, "\n---\n"))
	}
	// 1. The API key, before serve, in the same folder.
	if out, _ := sh(cmds[0]); !strings.HasPrefix(vars["KEY"], "hrld_") {
		t.Fatalf("apikey create printed %q", out)
	}
	// 2. Start herald in the folder.
	startReadmeServe(t, bin, dir, addr)
	// 3. The authorization: created, its secret masked.
	body, status := sh(cmds[1])
	auth := object(cmds[1], body)
	header, _ := auth["header"].(map[string]any)
	if status != 201 || auth["id"] == nil || header["value"] != "••••1234" || header["value_set"] != true || strings.Contains(body, "s3cr3t") {
		t.Fatalf("step 3: %d %s", status, body)
	}
	ids["<id from step 3>"] = auth["id"].(string)
	// 4. The webhook, unpublished.
	body, status = sh(cmds[2])
	hook := object(cmds[2], body)
	if status != 201 || hook["status"] != "unpublished" || hook["authorization_id"] != ids["<id from step 3>"] {
		t.Fatalf("step 4: %d %s", status, body)
	}
	ids["<id>"] = hook["id"].(string)
	// 5. Publish, list, duplicate, secret.
	body, status = sh(cmds[3])
	if status != 200 || object(cmds[3], body)["status"] != "published" {
		t.Fatalf("publish: %d %s", status, body)
	}
	body, status = sh(cmds[4])
	list, _ := object(cmds[4], body)["data"].([]any)
	if status != 200 || len(list) != 1 || list[0].(map[string]any)["id"] != ids["<id>"] {
		t.Fatalf("list: %d %s", status, body)
	}
	body, status = sh(cmds[5])
	if dup := object(cmds[5], body); status != 201 || dup["id"] == ids["<id>"] || dup["status"] != "unpublished" {
		t.Fatalf("duplicate: %d %s", status, body)
	}
	body, status = sh(cmds[6])
	if secret, _ := object(cmds[6], body)["secret"].(string); status != 200 || !strings.HasPrefix(secret, "whsec_") {
		t.Fatalf("secret: %d %s", status, body)
	}
	// Several event types and a condition; /match says a silver member's
	// coupon would not be sent.
	body, status = sh(cmds[7])
	if patched := object(cmds[7], body); status != 200 || patched["condition"] != `member.tier == "gold"` {
		t.Fatalf("patch: %d %s", status, body)
	}
	body, status = sh(cmds[8])
	if m := object(cmds[8], body); status != 200 || m["matches"] != false || !strings.Contains(m["reason"].(string), "would not be sent") {
		t.Fatalf("match: %d %s", status, body)
	}

	// Sending events: accepted (202), the same answer again for the same
	// key; the CLI sends event.json.
	cmds = shellCommands(send[0])
	if len(cmds) != 2 {
		t.Fatalf("sending events: %d commands, the test knows 2:\n%s", len(cmds), strings.Join(cmds, "\n---\n"))
	}
	body, status = sh(cmds[0])
	ev := object(cmds[0], body)
	if _, ok := ev["deliveries"].(float64); status != 202 || ev["id"] == nil || !ok {
		t.Fatalf("event: %d %s", status, body)
	}
	body, status = sh(cmds[0])
	if again := object(cmds[0], body); status != 202 || again["id"] != ev["id"] {
		t.Fatalf("the same Idempotency-Key again: %d %s, first %v", status, body, ev["id"])
	}
	if out, _ := sh(cmds[1]); strings.TrimSpace(out) == "" {
		t.Fatal("herald send printed nothing")
	}
}

// startReadmeServe starts the built herald's serve in dir on addr, as the
// README's reader would in another terminal, and stops it (by its PID)
// when the test ends.
func startReadmeServe(t *testing.T, bin, dir, addr string) {
	t.Helper()
	cmd := exec.Command(bin, "serve", "--addr", addr)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + dir}
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Error("serve did not stop within 20 s of SIGTERM")
		}
	})
	listening := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if strings.HasPrefix(sc.Text(), "herald listening on ") {
				close(listening)
				break
			}
		}
		for sc.Scan() {
		}
	}()
	select {
	case <-listening:
	case <-time.After(30 * time.Second):
		t.Fatalf("serve did not start: %s", stderr.String())
	}
}
