package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"
)

// runHealthcheck asks a running herald's /healthz and succeeds only on a
// 200. It is the container image's HEALTHCHECK: a scratch image has no
// curl or shell, so the check has to be in the binary. It reads the same
// --addr (HERALD_ADDR) as serve, so the container's environment is enough.
func runHealthcheck(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) error {
	var addr, target string
	var timeout time.Duration
	fs := newFlagSet("healthcheck", stderr)
	fs.StringVar(&addr, "addr", "127.0.0.1:8080", "the address herald serve listens on; http://ADDR/healthz is checked (0.0.0.0 and :: as the loopback address)")
	fs.StringVar(&target, "url", "", "check this URL instead of --addr: herald's base URL (/healthz is added) or the full /healthz URL")
	fs.DurationVar(&timeout, "timeout", 5*time.Second, "give up after this long")
	if err := parseFlags(fs, args, getenv); err != nil {
		return err
	}
	u, err := healthURL(addr, target)
	if err != nil {
		return usageError{"herald healthcheck: " + err.Error()}
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return usageError{fmt.Sprintf("herald healthcheck: %s: %v", u, err)}
	}
	req.Header.Set("User-Agent", "herald-healthcheck/"+version)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	res, err := client.Do(req)
	if err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("herald healthcheck: unhealthy: %s did not answer within %s", u, timeout)
		}
		return fmt.Errorf("herald healthcheck: unhealthy: GET %s: %v", u, unwrapURLError(err))
	}
	io.Copy(io.Discard, io.LimitReader(res.Body, 64<<10))
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return fmt.Errorf("herald healthcheck: unhealthy: %s answered %s", u, res.Status)
	}
	fmt.Fprintf(stdout, "healthy: %s answered %s\n", u, res.Status)
	return nil
}

// healthURL is the URL to check: target if given (a base URL gets
// /healthz), else http://addr/healthz with an unspecified host (what a
// server binds to listen everywhere) replaced by the loopback address.
func healthURL(addr, target string) (string, error) {
	if target != "" {
		u, err := url.Parse(target)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			return "", fmt.Errorf("--url %q: give an http(s) URL, e.g. http://127.0.0.1:8080/healthz", target)
		}
		if u.Path == "" || u.Path == "/" {
			u.Path = "/healthz"
		}
		return u.String(), nil
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil || port == "" {
		return "", fmt.Errorf("--addr %q: give host:port, e.g. 127.0.0.1:8080", addr)
	}
	switch host {
	case "", "0.0.0.0":
		host = "127.0.0.1"
	case "::":
		host = "::1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/healthz", nil
}

// unwrapURLError drops *url.Error's "Get \"…\": " prefix, which would
// repeat the URL the message already names.
func unwrapURLError(err error) error {
	if ue, ok := err.(*url.Error); ok {
		return ue.Err
	}
	return err
}
