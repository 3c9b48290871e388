package netguard

import (
	"bufio"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"strings"
	"time"
)

// ProxyError is a refusal or failure of the egress proxy itself (as
// opposed to the destination).
type ProxyError struct {
	Proxy  string // host:port of the proxy
	Target string // the address herald asked the proxy to connect to
	Status string // the proxy's status line, when it answered
	Err    error
}

func (e *ProxyError) Error() string {
	if e.Status != "" {
		return fmt.Sprintf("egress proxy %s refused to connect to %s: %s", e.Proxy, e.Target, e.Status)
	}
	return fmt.Sprintf("egress proxy %s: %v", e.Proxy, e.Err)
}

func (e *ProxyError) Unwrap() error { return e.Err }

// ParseProxy checks an --egress-proxy URL: http://host:port, with an
// optional user:password for Proxy-Authorization: Basic.
func ParseProxy(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	if u.Scheme != "http" {
		return nil, errors.New("must be an http:// URL of an HTTP CONNECT proxy (http://host:port)")
	}
	if u.Hostname() == "" || u.Port() == "" {
		return nil, errors.New("must name the proxy's host and port (http://host:port)")
	}
	if (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" {
		return nil, errors.New("must be http://host:port, without a path or query")
	}
	return u, nil
}

// ProxyTransport returns an *http.Transport that reaches every
// destination through the HTTP CONNECT proxy at proxy. The Guard still
// decides: the destination's host is resolved and each address checked
// here, before the proxy is asked for anything, and the proxy is asked to
// connect to the checked IP address (not the name, so it cannot resolve
// it to something else). The proxy's own address needs no allow-list
// entry: naming it is what allows it, loopback included — and only it.
// TLS to the destination runs inside the tunnel, verified against the
// URL's host name as without a proxy.
func (g *Guard) ProxyTransport(proxy *url.URL) *http.Transport {
	t := g.Transport()
	d := &proxyDialer{guard: g, proxy: proxy, dialer: &net.Dialer{Timeout: DefaultDialTimeout, KeepAlive: 30 * time.Second}}
	if u := proxy.User; u != nil {
		pw, _ := u.Password()
		d.auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(u.Username()+":"+pw))
	}
	t.DialContext = d.DialContext
	return t
}

type proxyDialer struct {
	guard  *Guard
	proxy  *url.URL
	auth   string
	dialer *net.Dialer
}

func (d *proxyDialer) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	host, port, err := net.SplitHostPort(address)
	if err != nil {
		return nil, err
	}
	var addrs []netip.Addr
	if ip, err := netip.ParseAddr(host); err == nil {
		addrs = []netip.Addr{ip}
	} else if addrs, err = net.DefaultResolver.LookupNetIP(ctx, "ip", host); err != nil {
		return nil, &net.OpError{Op: "dial", Net: network, Err: err}
	}
	var target netip.Addr
	var refused error
	for _, a := range addrs {
		if err := d.guard.Check(a); err != nil {
			var be *BlockedError
			if errors.As(err, &be) {
				be.Host = host
			}
			if refused == nil {
				refused = err
			}
			continue
		}
		target = a.Unmap()
		break
	}
	if !target.IsValid() {
		if refused == nil {
			refused = &net.DNSError{Err: "no addresses", Name: host}
		}
		return nil, &net.OpError{Op: "dial", Net: network, Err: refused}
	}
	conn, err := d.dialer.DialContext(ctx, "tcp", d.proxy.Host)
	if err != nil {
		return nil, &ProxyError{Proxy: d.proxy.Host, Err: err}
	}
	tunnel := net.JoinHostPort(target.String(), port)
	if deadline, ok := ctx.Deadline(); ok {
		conn.SetDeadline(deadline)
	}
	// A context that ends during the handshake interrupts it.
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	var req strings.Builder
	fmt.Fprintf(&req, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n", tunnel, tunnel)
	if d.auth != "" {
		fmt.Fprintf(&req, "Proxy-Authorization: %s\r\n", d.auth)
	}
	req.WriteString("\r\n")
	if _, err := conn.Write([]byte(req.String())); err != nil {
		stop()
		conn.Close()
		return nil, &ProxyError{Proxy: d.proxy.Host, Target: tunnel, Err: err}
	}
	br := bufio.NewReader(conn)
	res, err := http.ReadResponse(br, &http.Request{Method: http.MethodConnect})
	if !stop() && err == nil {
		err = ctx.Err()
	}
	if err != nil {
		conn.Close()
		return nil, &ProxyError{Proxy: d.proxy.Host, Target: tunnel, Err: err}
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		conn.Close()
		return nil, &ProxyError{Proxy: d.proxy.Host, Target: tunnel, Status: res.Status}
	}
	conn.SetDeadline(time.Time{})
	if br.Buffered() > 0 {
		return &bufferedConn{Conn: conn, r: br}, nil
	}
	return conn, nil
}

// bufferedConn reads what the proxy sent after its answer first.
type bufferedConn struct {
	net.Conn
	r *bufio.Reader
}

func (c *bufferedConn) Read(p []byte) (int, error) { return c.r.Read(p) }
