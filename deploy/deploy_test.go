// Package deploy_test checks the packaging files: the container image
// (../Dockerfile, Dockerfile.build, build-image.sh), the compose file and
// the systemd unit. Its own package, so the image build has its own
// go test time budget.
package deploy_test

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/secrets"
)

// repoRoot is the repository's root: the tests run in deploy/.
func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs("..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("repository root not found from %s: %v", root, err)
	}
	return root
}

// needTool finds a program the test needs, or skips the test saying how
// to install it — unless requireVar is set to 1 (CI), where it fails.
func needTool(t *testing.T, name, requireVar, install string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err == nil {
		return path
	}
	msg := fmt.Sprintf("%s not found (%s)", name, install)
	if os.Getenv(requireVar) == "1" {
		t.Fatalf("%s, and %s=1 requires it", msg, requireVar)
	}
	t.Skip("SKIP: " + msg)
	return ""
}

// The systemd unit passes `systemd-analyze verify` without a single
// complaint (verify exits 0 on unknown keys and bad values, so its output
// must be empty), with ExecStart pointed at an executable the test makes.
func TestSystemdUnitVerifies(t *testing.T) {
	analyze := needTool(t, "systemd-analyze", "HERALD_REQUIRE_DOCKER", "Debian package systemd")
	unit, err := os.ReadFile(filepath.Join(repoRoot(t), "deploy", "herald.service"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"\nDynamicUser=yes\n", "\nStateDirectory=herald\n", "\nProtectSystem=strict\n", "\nProtectHome=yes\n",
		"\nNoNewPrivileges=yes\n", "\nPrivateTmp=yes\n", "\nRestrictAddressFamilies=AF_INET AF_INET6 AF_UNIX\n",
		"\nCapabilityBoundingSet=\n", "\nSystemCallFilter=@system-service\n", "\nExecStart=/usr/local/bin/herald serve\n"} {
		if !bytes.Contains(unit, []byte(want)) {
			t.Errorf("herald.service lacks %q", strings.TrimSpace(want))
		}
	}
	dir := t.TempDir()
	bin := filepath.Join(dir, "herald")
	if err := os.WriteFile(bin, []byte("#!/bin/sh\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	check := func(unit []byte) string {
		path := filepath.Join(dir, "herald.service")
		if err := os.WriteFile(path, bytes.ReplaceAll(unit, []byte("/usr/local/bin/herald"), []byte(bin)), 0o644); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		out, err := exec.CommandContext(ctx, analyze, "verify", path).CombinedOutput()
		if err != nil {
			return fmt.Sprintf("%v: %s", err, out)
		}
		return strings.TrimSpace(string(out))
	}
	if out := check(unit); out != "" {
		t.Errorf("systemd-analyze verify deploy/herald.service:\n%s", out)
	}
	// The check sees a mistake: a misspelt key is only a warning to verify.
	broken := bytes.Replace(unit, []byte("\nProtectHome=yes\n"), []byte("\nProtectHom=yes\n"), 1)
	if out := check(broken); !strings.Contains(out, "ProtectHom") {
		t.Errorf("a misspelt key went unnoticed: %q", out)
	}
}

// The compose file is valid for docker-compose, has PostgreSQL and two
// herald replicas on it with one secret key from the env file, and
// refuses to start without the key.
func TestComposeFileIsValid(t *testing.T) {
	compose := needTool(t, "docker-compose", "HERALD_REQUIRE_DOCKER", "apt-get install docker-compose")
	file := filepath.Join(repoRoot(t), "deploy", "docker-compose.yml")
	dir := t.TempDir()
	raw := make([]byte, secrets.KeySize)
	rand.Read(raw)
	key := base64.StdEncoding.EncodeToString(raw)
	config := func(envFile string, args ...string) (string, error) {
		path := filepath.Join(dir, "herald.env")
		if err := os.WriteFile(path, []byte(envFile), 0o600); err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, compose, append([]string{"--env-file", path, "-f", file, "config"}, args...)...)
		// Only the env file speaks: none of the variables the file reads
		// may come from the environment the test runs in.
		for _, kv := range os.Environ() {
			if !strings.HasPrefix(kv, "HERALD_") && !strings.HasPrefix(kv, "POSTGRES_") && !strings.HasPrefix(kv, "COMPOSE_") {
				cmd.Env = append(cmd.Env, kv)
			}
		}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			return stderr.String(), err
		}
		return string(out), nil
	}
	env := "HERALD_SECRET_KEY=" + key + "\nPOSTGRES_PASSWORD=pw-4711\n"
	services, err := config(env, "--services")
	if err != nil {
		t.Fatalf("docker-compose config --services: %v\n%s", err, services)
	}
	got := strings.Fields(services)
	slices.Sort(got)
	if want := []string{"herald-1", "herald-2", "postgres"}; !slices.Equal(got, want) {
		t.Errorf("services %v, want %v", got, want)
	}
	out, err := config(env)
	if err != nil {
		t.Fatalf("docker-compose config: %v\n%s", err, out)
	}
	for _, tc := range []struct {
		what string
		re   string
		n    int
	}{
		{"the secret key, once per replica", `HERALD_SECRET_KEY: '?` + regexp.QuoteMeta(key), 2},
		{"the PostgreSQL URL, once per replica", `HERALD_DB: '?postgres://herald:pw-4711@postgres:5432/herald`, 2},
		{"the password given to PostgreSQL", `POSTGRES_PASSWORD: '?pw-4711`, 1},
		{"the postgres:15 image", `image: postgres:15\n`, 1},
		{"a build from deploy/Dockerfile.build, per replica", `dockerfile: deploy/Dockerfile.build`, 2},
		{"production mode (a key is required)", `- --production`, 2},
	} {
		if n := len(regexp.MustCompile(tc.re).FindAllString(out, -1)); n != tc.n {
			t.Errorf("%s: %q found %d times, want %d\n%s", tc.what, tc.re, n, tc.n, out)
		}
	}
	if out, err := config("POSTGRES_PASSWORD=pw-4711\n"); err == nil || !strings.Contains(out, "HERALD_SECRET_KEY") {
		t.Errorf("without a secret key: %v, %q; want a refusal naming HERALD_SECRET_KEY", err, out)
	}
}

// The image built from the host (Dockerfile) and the one built in the
// golang image (deploy/Dockerfile.build) end in the same final stage,
// and it has what the image promises: non-root, /data, the healthcheck.
func TestDockerfilesShareTheFinalStage(t *testing.T) {
	root := repoRoot(t)
	final := func(name string) []string {
		data, err := os.ReadFile(filepath.Join(root, name))
		if err != nil {
			t.Fatal(err)
		}
		_, stage, ok := strings.Cut(string(data), "\nFROM scratch\n")
		if !ok {
			t.Fatalf("%s has no FROM scratch stage", name)
		}
		var lines []string
		for _, l := range strings.Split(stage, "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "#") {
				lines = append(lines, strings.ReplaceAll(strings.ReplaceAll(l, "--from=build ", ""), " /out/", " "))
			}
		}
		return lines
	}
	local, build := final("Dockerfile"), final(filepath.Join("deploy", "Dockerfile.build"))
	if !slices.Equal(local, build) {
		t.Errorf("the final stages differ:\nDockerfile:\n%s\n\ndeploy/Dockerfile.build:\n%s", strings.Join(local, "\n"), strings.Join(build, "\n"))
	}
	for _, want := range []string{"USER 65532:65532", "VOLUME /data", "COPY --chown=65532:65532 data /data", "ENV HERALD_DB=/data/herald.db \\",
		"COPY ca-certificates.crt /etc/ssl/certs/ca-certificates.crt", `ENTRYPOINT ["/herald"]`} {
		if !slices.Contains(local, want) {
			t.Errorf("the final stage lacks %q", want)
		}
	}
	if !slices.ContainsFunc(local, func(l string) bool {
		return strings.HasPrefix(l, "HEALTHCHECK ") && strings.HasSuffix(l, `CMD ["/herald", "healthcheck"]`)
	}) {
		t.Error(`the final stage has no HEALTHCHECK … CMD ["/herald", "healthcheck"]`)
	}
}
