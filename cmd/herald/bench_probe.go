package main

// What `herald bench` measures beside the rates: a competing process
// (--contend), herald's CPU profile and execution trace (--cpuprofile,
// --trace), and on PostgreSQL the CPU of the server's backends that
// serve herald.

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
)

// contender is a process that keeps one core busy: a shell loop that
// never sleeps (`while :; do :; done`), a separate process so it competes
// with herald, the driver and the receiver through the kernel's
// scheduler exactly as an unrelated busy program would.
type contender struct {
	cmd *exec.Cmd
}

func startContender() (*contender, error) {
	cmd := exec.Command("/bin/sh", "-c", "while :; do :; done")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the competing busy loop: %w", err)
	}
	return &contender{cmd: cmd}, nil
}

// cpuSeconds is the busy loop's own CPU time so far.
func (c *contender) cpuSeconds() float64 { return procCPUSeconds(c.cmd.Process.Pid) }

func (c *contender) stop() {
	c.cmd.Process.Kill() // by its pid: it is ours
	c.cmd.Wait()
}

// procCPUSeconds reads utime+stime of a process from /proc.
func procCPUSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
	if len(f) < 13 {
		return 0
	}
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	return (utime + stime) / 100 // USER_HZ is 100 on Linux
}

// freeAddr returns a loopback address nobody listens on (for the
// child's --debug-addr).
func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

// fetchDebug saves one of the child's pprof endpoints (profile or
// trace) over seconds to file; it runs beside the load.
func fetchDebug(ctx context.Context, addr, what string, seconds int, file string) error {
	req, _ := http.NewRequestWithContext(ctx, "GET", fmt.Sprintf("http://%s/debug/pprof/%s?seconds=%d", addr, what, seconds), nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("fetch %s: %w", what, err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(res.Body)
		return fmt.Errorf("fetch %s: %d %s", what, res.StatusCode, b)
	}
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, res.Body); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// pgBackends measures the CPU of the PostgreSQL backends that serve
// herald: the child connects with application_name set to name, and the
// bench reads those backends' utime+stime from /proc (the server runs on
// this machine). A backend that closed during the run is missed, so the
// figure is a lower bound; the server's shared processes (WAL writer,
// checkpointer) are not in it.
type pgBackends struct {
	db   *sql.DB
	name string
	base map[int]float64
}

func newPGBackends(ctx context.Context, dsn, name string) (*pgBackends, error) {
	db, err := sql.Open("pgx", dsn)
	if err != nil {
		return nil, err
	}
	p := &pgBackends{db: db, name: name}
	p.base = p.sample(ctx)
	return p, nil
}

func (p *pgBackends) sample(ctx context.Context) map[int]float64 {
	out := map[int]float64{}
	rows, err := p.db.QueryContext(ctx, `SELECT pid FROM pg_stat_activity WHERE application_name = $1`, p.name)
	if err != nil {
		return out
	}
	defer rows.Close()
	for rows.Next() {
		var pid int
		if rows.Scan(&pid) == nil {
			out[pid] = procCPUSeconds(pid)
		}
	}
	return out
}

// reset makes the next seconds() count from now.
func (p *pgBackends) reset(ctx context.Context) { p.base = p.sample(ctx) }

// seconds is the CPU the backends used since the last reset, and how
// many backends there were.
func (p *pgBackends) seconds(ctx context.Context) (float64, int) {
	now := p.sample(ctx)
	var sum float64
	for pid, s := range now {
		sum += s - p.base[pid]
	}
	return sum, len(now)
}

func (p *pgBackends) close() { p.db.Close() }

// withApplicationName sets application_name on a postgres:// URL.
func withApplicationName(dsn, name string) string {
	u, err := url.Parse(dsn)
	if err != nil {
		return dsn
	}
	q := u.Query()
	q.Set("application_name", name)
	u.RawQuery = q.Encode()
	return u.String()
}

// profileSeconds is how long --cpuprofile and --trace record: the
// length of a run at --rate, else what --profile-seconds says.
func profileSeconds(c benchConfig) int {
	if c.profileFor > 0 {
		return max(1, int(c.profileFor.Seconds()))
	}
	if c.rate > 0 {
		return max(1, int(float64(c.events)/c.rate))
	}
	return 5
}

// probe is a CPU profile or trace being recorded beside the load.
type probe struct {
	what, file string
	seconds    int
	done       chan error
}

func startProbe(ctx context.Context, c benchConfig, addr string) *probe {
	p := &probe{done: make(chan error, 1), seconds: profileSeconds(c)}
	switch {
	case c.cpuprofile != "":
		p.what, p.file = "CPU profile", c.cpuprofile
	case c.trace != "":
		p.what, p.file = "execution trace", c.trace
	default:
		p.done <- nil
		return p
	}
	endpoint := map[string]string{"CPU profile": "profile", "execution trace": "trace"}[p.what]
	go func() { p.done <- fetchDebug(ctx, addr, endpoint, p.seconds, p.file) }()
	return p
}

func (p *probe) wait() error { return <-p.done }
