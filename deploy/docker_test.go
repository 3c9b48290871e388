package deploy_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// dockerDaemon is a dockerd this test started for itself: its own socket,
// data root, exec root and pid file in a temporary folder, no bridge and
// no iptables rules (containers use the host's network), so it touches
// nothing of the machine's and is stopped by its PID.
type dockerDaemon struct {
	dir    string
	host   string // DOCKER_HOST: unix://…
	client string // the docker CLI
	cmd    *exec.Cmd
	exited chan struct{}
	log    string // dockerd's output
}

// startDockerd starts dockerd and waits until it answers. It skips the
// test when dockerd is not installed (fails with HERALD_REQUIRE_DOCKER=1).
func startDockerd(t *testing.T) *dockerDaemon {
	t.Helper()
	dockerd, err := exec.LookPath("dockerd")
	if err != nil { // not in this PATH, but installed where Debian puts it
		if _, e := os.Stat("/usr/sbin/dockerd"); e == nil {
			dockerd = "/usr/sbin/dockerd"
		} else {
			dockerd = needTool(t, "dockerd", "HERALD_REQUIRE_DOCKER", "apt-get install docker.io")
		}
	}
	if os.Geteuid() != 0 {
		msg := "dockerd needs root and the test runs as uid " + strconv.Itoa(os.Geteuid())
		if os.Getenv("HERALD_REQUIRE_DOCKER") == "1" {
			t.Fatal(msg)
		}
		t.Skip("SKIP: " + msg)
	}
	// The CLI that came with this dockerd (Debian: /usr/bin/docker),
	// rather than any other first in PATH.
	client := ""
	for _, c := range []string{filepath.Join(filepath.Dir(dockerd), "docker"), "/usr/bin/docker"} {
		if _, err := os.Stat(c); err == nil && client == "" {
			client = c
		}
	}
	if client == "" {
		client = needTool(t, "docker", "HERALD_REQUIRE_DOCKER", "apt-get install docker.io")
	}
	// dockerd 20.10 writes a trust key to /etc/docker/key.json whatever its
	// --data-root; what it creates there is removed with the rest.
	for _, p := range []string{"/etc/docker", "/etc/docker/key.json"} {
		if _, err := os.Stat(p); errors.Is(err, fs.ErrNotExist) {
			t.Cleanup(func() { os.Remove(p) }) // the key first: cleanups run last-in first-out
		}
	}
	// A short path: unix socket paths (containerd's are deep in the exec
	// root) are limited to 108 bytes, and t.TempDir's names are long.
	dir, err := os.MkdirTemp("", "herald-dockerd-")
	if err != nil {
		t.Fatal(err)
	}
	d := &dockerDaemon{dir: dir, host: "unix://" + filepath.Join(dir, "docker.sock"), client: client,
		exited: make(chan struct{}), log: filepath.Join(dir, "dockerd.log")}
	if err := os.WriteFile(filepath.Join(dir, "daemon.json"), []byte("{}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	logFile, err := os.Create(d.log)
	if err != nil {
		t.Fatal(err)
	}
	defer logFile.Close()
	d.cmd = exec.Command(dockerd,
		"--host", d.host,
		"--config-file", filepath.Join(dir, "daemon.json"), // not the machine's /etc/docker/daemon.json
		"--data-root", filepath.Join(dir, "data"),
		"--exec-root", filepath.Join(dir, "exec"),
		"--pidfile", filepath.Join(dir, "dockerd.pid"),
		"--bridge=none", "--iptables=false", "--ip6tables=false", "--ip-masq=false",
		"--storage-driver", "vfs", // no overlay mounts to leave behind; the image is small
	)
	d.cmd.Stdout, d.cmd.Stderr = logFile, logFile
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := d.cmd.Start(); err != nil {
		os.RemoveAll(dir)
		t.Fatalf("start dockerd: %v", err)
	}
	go func() { d.cmd.Wait(); close(d.exited) }()
	t.Cleanup(func() { d.stop(t) })

	httpc := &http.Client{Timeout: 2 * time.Second, Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", strings.TrimPrefix(d.host, "unix://"))
		}}}
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := httpc.Get("http://docker/_ping")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				return d
			}
		}
		select {
		case <-d.exited:
			t.Fatalf("dockerd %s exited before answering (%v):\n%s", strings.Join(d.cmd.Args[1:], " "), d.cmd.ProcessState, d.logTail())
		case <-time.After(250 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("dockerd did not answer on %s within 60 s (last: %v):\n%s", d.host, err, d.logTail())
		}
	}
}

func (d *dockerDaemon) logTail() string {
	data, _ := os.ReadFile(d.log)
	if len(data) > 6000 {
		data = data[len(data)-6000:]
	}
	return string(data)
}

// stop ends dockerd by its PID (SIGTERM, then SIGKILL after 30 s), then
// the containerd it supervised if that outlived it, unmounts whatever is
// left under the folder and removes it.
func (d *dockerDaemon) stop(t *testing.T) {
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-d.exited:
	case <-time.After(30 * time.Second):
		t.Errorf("dockerd did not stop within 30 s of SIGTERM; killing it")
		d.cmd.Process.Kill()
		<-d.exited
	}
	// dockerd stops its own containerd; a SIGKILLed one cannot.
	if data, err := os.ReadFile(filepath.Join(d.dir, "exec", "containerd", "containerd.pid")); err == nil {
		if pid, err := strconv.Atoi(strings.TrimSpace(string(data))); err == nil && pid > 1 {
			if cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil && bytes.Contains(cmdline, []byte(d.dir)) {
				syscall.Kill(pid, syscall.SIGKILL)
			}
		}
	}
	if data, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		lines := strings.Split(string(data), "\n")
		for i := len(lines) - 1; i >= 0; i-- {
			if f := strings.Fields(lines[i]); len(f) > 4 && strings.HasPrefix(f[4], d.dir+"/") {
				syscall.Unmount(f[4], syscall.MNT_DETACH)
			}
		}
	}
	if err := os.RemoveAll(d.dir); err != nil {
		t.Errorf("remove dockerd's folder: %v", err)
	}
}

// docker runs the CLI against this daemon and returns its stdout; a
// failure ends the test with what it printed.
func (d *dockerDaemon) docker(t *testing.T, timeout time.Duration, args ...string) string {
	t.Helper()
	out, err := d.try(timeout, args...)
	if err != nil {
		t.Fatalf("docker %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return out
}

func (d *dockerDaemon) try(timeout time.Duration, args ...string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, d.client, args...)
	cmd.Env = append(os.Environ(), "DOCKER_HOST="+d.host, "DOCKER_CONFIG="+filepath.Join(d.dir, "cli"))
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	if err != nil {
		return stdout.String() + stderr.String(), err
	}
	return stdout.String(), nil
}

// The image, built as the Dockerfile says (deploy/build-image.sh: the
// static binary from the host in a FROM scratch image), runs as a
// container on the host's network, reports healthy through its own
// HEALTHCHECK, takes an API key from `docker exec`, a webhook and an
// event over the REST API, delivers the event to a receiver on
// 127.0.0.1, and stops cleanly on `docker stop`.
func TestDockerImageDeliversAnEvent(t *testing.T) {
	if testing.Short() {
		t.Skip("SKIP: -short: the image test starts dockerd and builds an image")
	}
	d := startDockerd(t)
	root := repoRoot(t)
	tag := fmt.Sprintf("herald-test:%d", time.Now().UnixNano())

	readSources(t, root)
	// Build exactly as documented, with this test's go first in PATH.
	ctx, cancel := context.WithTimeout(context.Background(), 8*time.Minute)
	defer cancel()
	build := exec.CommandContext(ctx, "sh", filepath.Join(root, "deploy", "build-image.sh"), tag)
	build.Dir = root
	build.Env = append(os.Environ(), "DOCKER_HOST="+d.host, "DOCKER_CONFIG="+filepath.Join(d.dir, "cli"), "DOCKER_BUILDKIT=0",
		"PATH="+filepath.Dir(d.client)+string(os.PathListSeparator)+filepath.Join(runtime.GOROOT(), "bin")+string(os.PathListSeparator)+os.Getenv("PATH"))
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("deploy/build-image.sh: %v\n%s\ndockerd:\n%s", err, out, d.logTail())
	}
	img := d.docker(t, time.Minute, "image", "inspect", "--format", "{{.Config.User}}|{{json .Config.Healthcheck.Test}}|{{json .Config.Volumes}}|{{.Size}}", tag)
	parts := strings.Split(strings.TrimSpace(img), "|")
	if len(parts) != 4 || parts[0] != "65532:65532" || parts[1] != `["CMD","/herald","healthcheck"]` || parts[2] != `{"/data":{}}` {
		t.Errorf("image config (user | healthcheck | volumes | size) = %q", img)
	}
	if size, _ := strconv.ParseInt(parts[len(parts)-1], 10, 64); size <= 0 || size > 100<<20 {
		t.Errorf("image size %d bytes: want a binary and certificates, under 100 MiB", size)
	}

	type receipt struct {
		path, userAgent, signature string
		body                       []byte
	}
	got := make(chan receipt, 16)
	recv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		got <- receipt{r.URL.Path, r.UserAgent(), r.Header.Get("webhook-signature"), body}
		w.WriteHeader(http.StatusNoContent)
	}))
	defer recv.Close()

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	name := strings.ReplaceAll(strings.ReplaceAll(tag, ":", "-"), ".", "-")
	t.Cleanup(func() { d.try(time.Minute, "rm", "--force", "--volumes", name) })
	d.docker(t, time.Minute, "run", "--detach", "--name", name,
		"--network", "host", // never a bridge: the test's traffic stays on loopback
		"--env", "HERALD_ADDR="+addr,
		"--health-interval", "1s", "--health-timeout", "5s",
		tag, "serve", "--allow-network", "127.0.0.0/8")
	logs := func() string { // herald logs to stderr, which docker logs keeps apart
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, d.client, "logs", name)
		cmd.Env = append(os.Environ(), "DOCKER_HOST="+d.host, "DOCKER_CONFIG="+filepath.Join(d.dir, "cli"))
		out, _ := cmd.CombinedOutput()
		return string(out)
	}

	base := "http://" + addr
	deadline := time.Now().Add(60 * time.Second)
	for {
		res, err := http.Get(base + "/healthz")
		if err == nil {
			res.Body.Close()
			if res.StatusCode == http.StatusOK {
				break
			}
		}
		running, _ := d.try(30*time.Second, "inspect", "--format", "{{.State.Running}}", name)
		if strings.TrimSpace(running) != "true" || time.Now().After(deadline) {
			state, _ := d.try(30*time.Second, "inspect", "--format", "{{json .State}}", name)
			t.Fatalf("the container's /healthz did not answer 200 (%v); state %s\nlogs:\n%s", err, state, logs())
		}
		time.Sleep(250 * time.Millisecond)
	}

	// The HEALTHCHECK built into the image (herald healthcheck) says so too.
	for deadline := time.Now().Add(30 * time.Second); ; {
		status := strings.TrimSpace(d.docker(t, 30*time.Second, "inspect", "--format", "{{.State.Health.Status}}", name))
		if status == "healthy" {
			break
		}
		if time.Now().After(deadline) {
			health, _ := d.try(30*time.Second, "inspect", "--format", "{{json .State.Health}}", name)
			t.Fatalf("health status %q after 30 s: %s", status, health)
		}
		time.Sleep(500 * time.Millisecond)
	}

	// The CA certificates are the host's: herald can verify https receivers.
	hostCerts, err := os.ReadFile("/etc/ssl/certs/ca-certificates.crt")
	if err != nil {
		t.Fatal(err)
	}
	d.docker(t, time.Minute, "cp", name+":/etc/ssl/certs/ca-certificates.crt", filepath.Join(d.dir, "ca.crt"))
	if imgCerts, _ := os.ReadFile(filepath.Join(d.dir, "ca.crt")); !bytes.Equal(imgCerts, hostCerts) {
		t.Errorf("the image's ca-certificates.crt (%d bytes) is not the host's (%d bytes)", len(imgCerts), len(hostCerts))
	}

	key := strings.TrimSpace(d.docker(t, time.Minute, "exec", name, "/herald", "apikey", "create", "--name", "docker-test"))
	if !strings.HasPrefix(key, "hrld_") {
		t.Fatalf("apikey create in the container printed %q", key)
	}
	code, wh := call(t, "POST", base+"/api/v1/webhooks", key, map[string]any{"name": "docker", "event": "member.verified",
		"endpoint_url": recv.URL + "/hook", "method": "POST", "payload_type": "JSON", "payload": `{"member": "{{ member.id }}"}`})
	if code != 201 {
		t.Fatalf("create webhook: %d %v", code, wh)
	}
	if code, out := call(t, "POST", base+"/api/v1/webhooks/"+wh["id"].(string)+"/publish", key, nil); code != 200 {
		t.Fatalf("publish: %d %v", code, out)
	}
	code, ev := call(t, "POST", base+"/api/v1/events", key, map[string]any{"type": "member.verified", "data": map[string]any{"member": map[string]any{"id": "m-docker"}}})
	if code != 202 || ev["deliveries"] != float64(1) {
		t.Fatalf("send event: %d %v", code, ev)
	}
	select {
	case r := <-got:
		var body struct{ Member string }
		if err := json.Unmarshal(r.body, &body); err != nil || body.Member != "m-docker" || r.path != "/hook" ||
			!strings.HasPrefix(r.userAgent, "herald/") || !strings.HasPrefix(r.signature, "v1,") {
			t.Errorf("the receiver got %s %q (user agent %q, signature %q)", r.path, r.body, r.userAgent, r.signature)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("no delivery within 30 s; logs:\n%s", logs())
	}

	// docker stop sends SIGTERM: herald shuts down gracefully, exit 0.
	d.docker(t, time.Minute, "stop", "--time", "30", name)
	if exit := strings.TrimSpace(d.docker(t, 30*time.Second, "inspect", "--format", "{{.State.ExitCode}}", name)); exit != "0" {
		t.Errorf("exit code after docker stop: %s; logs:\n%s", exit, logs())
	}
	if l := logs(); !strings.Contains(l, "shutting down") {
		t.Errorf("no graceful shutdown in the logs:\n%s", l)
	}
}

// call sends one JSON request with an API key and decodes the answer.
func call(t *testing.T, method, url, key string, body any) (int, map[string]any) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		data, _ := json.Marshal(body)
		rd = bytes.NewReader(data)
	}
	req, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Authorization", "Bearer "+key)
	req.Header.Set("Content-Type", "application/json")
	res, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var out map[string]any
	json.NewDecoder(res.Body).Decode(&out)
	return res.StatusCode, out
}

// readSources reads every file of the repository (Go sources, embedded
// templates and migrations, the Dockerfile, the script). The image is
// built from them by a script go test cannot see into; reading them here
// puts them in the test's cache key, so a change to herald's code runs
// this test again instead of reusing an old "ok".
func readSources(t *testing.T, root string) {
	t.Helper()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == ".git" {
			return filepath.SkipDir
		}
		if d.Type().IsRegular() {
			_, err = os.ReadFile(path)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
}
