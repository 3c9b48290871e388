package main

// A PostgreSQL server of one's own, for measurements and tests that must
// not touch the shared one: initdb into a temporary folder, start it on a
// free port, stop it by its PID. Its CPU time is easy to read: the
// postmaster and its process tree belong to nobody else.

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// pgBinDir is where Debian puts PostgreSQL 15's programs; HERALD_PG_BIN
// overrides it.
func pgBinDir() string {
	if d := os.Getenv("HERALD_PG_BIN"); d != "" {
		return d
	}
	return "/usr/lib/postgresql/15/bin"
}

// ownPostgres is a running server started by startOwnPostgres.
type ownPostgres struct {
	dir  string // data directory and socket directory
	port int
	pid  int
	host string // the address clients use (the first listen address)
	cred *syscall.Credential
}

// startOwnPostgres runs initdb in a new temporary folder and starts the
// server on a free port, listening on listen (comma-separated addresses),
// trusting connections from each CIDR in trust (beside loopback), with
// extra server settings (name=value). As root
// it runs the server as the postgres user, since PostgreSQL refuses root.
func startOwnPostgres(ctx context.Context, listen string, trust []string, settings ...string) (*ownPostgres, error) {
	bin := pgBinDir()
	if _, err := os.Stat(filepath.Join(bin, "initdb")); err != nil {
		return nil, fmt.Errorf("no PostgreSQL programs in %s (set HERALD_PG_BIN): %w", bin, err)
	}
	dir, err := os.MkdirTemp("", "herald-pg-")
	if err != nil {
		return nil, err
	}
	p := &ownPostgres{dir: dir}
	if os.Geteuid() == 0 {
		u, err := user.Lookup("postgres")
		if err != nil {
			os.RemoveAll(dir)
			return nil, fmt.Errorf("running as root, PostgreSQL needs the postgres user: %w", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		p.cred = &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid)}
		if err := os.Chown(dir, uid, gid); err != nil {
			os.RemoveAll(dir)
			return nil, err
		}
	}
	data := filepath.Join(dir, "data")
	if out, err := p.command(ctx, "initdb", "-D", data, "-U", "postgres", "-A", "trust", "--no-sync", "-E", "UTF8").CombinedOutput(); err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("initdb: %w: %s", err, out)
	}
	var hba strings.Builder
	for _, cidr := range trust {
		fmt.Fprintf(&hba, "host all all %s trust\n", cidr)
	}
	f, err := os.OpenFile(filepath.Join(data, "pg_hba.conf"), os.O_APPEND|os.O_WRONLY, 0)
	if err == nil {
		_, err = f.WriteString(hba.String())
		f.Close()
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	p.host = strings.Split(listen, ",")[0]
	for try := 0; try < 5; try++ {
		p.port, err = freePort()
		if err != nil {
			break
		}
		opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=%s -c max_connections=200", p.port, dir, listen)
		for _, s := range settings {
			opts += " -c " + s
		}
		var out []byte
		out, err = p.command(ctx, "pg_ctl", "-D", data, "-o", opts, "-l", filepath.Join(dir, "log"), "-w", "-t", "60", "start").CombinedOutput()
		if err == nil {
			break
		}
		err = fmt.Errorf("pg_ctl start: %w: %s %s", err, out, p.logTail())
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, err
	}
	pidText, err := os.ReadFile(filepath.Join(data, "postmaster.pid"))
	if err == nil {
		p.pid, err = strconv.Atoi(strings.TrimSpace(strings.SplitN(string(pidText), "\n", 2)[0]))
	}
	if err != nil {
		os.RemoveAll(dir)
		return nil, fmt.Errorf("read postmaster.pid: %w", err)
	}
	return p, nil
}

func (p *ownPostgres) command(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, filepath.Join(pgBinDir(), name), args...)
	cmd.Dir = p.dir
	if p.cred != nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: p.cred}
	}
	return cmd
}

func (p *ownPostgres) logTail() string {
	b, _ := os.ReadFile(filepath.Join(p.dir, "log"))
	if len(b) > 2000 {
		b = b[len(b)-2000:]
	}
	return string(b)
}

// url is a connection URL for database db (created by createDB).
func (p *ownPostgres) url(db string) string {
	return fmt.Sprintf("postgres://postgres@%s/%s?sslmode=disable", net.JoinHostPort(p.host, strconv.Itoa(p.port)), db)
}

// createDB creates a database and returns its URL.
func (p *ownPostgres) createDB(ctx context.Context, name string) (string, error) {
	conn, err := sql.Open("pgx", p.url("postgres"))
	if err != nil {
		return "", err
	}
	defer conn.Close()
	if _, err := conn.ExecContext(ctx, "CREATE DATABASE "+name); err != nil {
		return "", fmt.Errorf("create database %s: %w", name, err)
	}
	return p.url(name), nil
}

// cpuSeconds is the CPU time (user + system) of the whole server: the
// postmaster, its live children, and the children it has reaped
// (backends of closed connections, counted in the postmaster's cutime
// and cstime).
func (p *ownPostgres) cpuSeconds() float64 {
	total := procCPU(p.pid, true)
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == p.pid {
			continue
		}
		if procParent(pid) == p.pid {
			total += procCPU(pid, false)
		}
	}
	return total
}

// stop stops the server (fast shutdown, by its PID; SIGKILL after 20 s)
// and removes its folder.
func (p *ownPostgres) stop() {
	if p.pid > 0 {
		if proc, err := os.FindProcess(p.pid); err == nil {
			proc.Signal(syscall.SIGINT)
			deadline := time.Now().Add(20 * time.Second)
			for time.Now().Before(deadline) && proc.Signal(syscall.Signal(0)) == nil {
				time.Sleep(50 * time.Millisecond)
			}
			if proc.Signal(syscall.Signal(0)) == nil {
				proc.Signal(syscall.SIGKILL)
			}
		}
		p.pid = 0
	}
	os.RemoveAll(p.dir)
}

// procStat returns the fields of /proc/PID/stat after the command name.
func procStat(pid int) []string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return nil
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return nil
	}
	return strings.Fields(string(b[i+1:]))
}

// procCPU is a process's utime+stime in seconds, with its reaped
// children's (cutime+cstime) when children is set.
func procCPU(pid int, children bool) float64 {
	f := procStat(pid)
	if len(f) < 15 {
		return 0
	}
	n := 2
	if children {
		n = 4
	}
	var ticks float64
	for i := 11; i < 11+n; i++ {
		v, _ := strconv.ParseFloat(f[i], 64)
		ticks += v
	}
	return ticks / 100 // USER_HZ is 100 on Linux
}

func procParent(pid int) int {
	f := procStat(pid)
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer ln.Close()
	if a, ok := ln.Addr().(*net.TCPAddr); ok {
		return a.Port, nil
	}
	return 0, errors.New("no port")
}
