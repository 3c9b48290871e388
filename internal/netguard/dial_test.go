package netguard

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"
)

// newServer starts an HTTP server on 127.0.0.1 that counts the connections
// it accepts, so tests can assert that a refused dial never reached it.
func newServer(t *testing.T) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var conns atomic.Int64
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "hello")
	}))
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return srv, &conns
}

func loopbackGuard() *Guard {
	return New([]netip.Prefix{netip.MustParsePrefix("127.0.0.0/8")})
}

func wantBlocked(t *testing.T, err error, rng string) *BlockedError {
	t.Helper()
	var be *BlockedError
	if !errors.As(err, &be) {
		t.Fatalf("error = %v (%T), want a *BlockedError", err, err)
	}
	if be.Range != rng {
		t.Fatalf("BlockedError.Range = %q, want %q (%v)", be.Range, rng, err)
	}
	return be
}

// settle gives a connection that wrongly got through time to be accepted.
func assertNoConnections(t *testing.T, conns *atomic.Int64) {
	t.Helper()
	time.Sleep(20 * time.Millisecond)
	if n := conns.Load(); n != 0 {
		t.Fatalf("server accepted %d connections from refused dials", n)
	}
}

func TestHTTPLoopbackRefusedByDefault(t *testing.T) {
	srv, conns := newServer(t)
	client := &http.Client{Transport: New(nil).Transport()}
	_, err := client.Get(srv.URL)
	be := wantBlocked(t, err, "loopback")
	msg := err.Error()
	for _, want := range []string{"127.0.0.1", "loopback", "SSRF", "--allow-network 127.0.0.0/8"} {
		if !strings.Contains(msg, want) {
			t.Errorf("error %q does not mention %q", msg, want)
		}
	}
	if be.Host != "127.0.0.1" {
		t.Errorf("Host = %q, want 127.0.0.1", be.Host)
	}
	var opErr *net.OpError
	if !errors.As(err, &opErr) {
		t.Errorf("error %v does not wrap a *net.OpError", err)
	}
	assertNoConnections(t, conns)
}

func TestHTTPLoopbackAllowed(t *testing.T) {
	srv, conns := newServer(t)
	client := &http.Client{Transport: loopbackGuard().Transport()}
	resp, err := client.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "hello" {
		t.Fatalf("body = %q", body)
	}
	if conns.Load() != 1 {
		t.Errorf("connections = %d, want 1", conns.Load())
	}
}

func TestHTTPLocalhostRefused(t *testing.T) {
	srv, conns := newServer(t)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	client := &http.Client{Transport: New(nil).Transport()}
	_, err := client.Get("http://localhost:" + port + "/")
	be := wantBlocked(t, err, "loopback")
	if be.Host != "localhost" {
		t.Errorf("Host = %q, want localhost", be.Host)
	}
	if !strings.Contains(err.Error(), `for host "localhost"`) {
		t.Errorf("error %q does not name the host", err)
	}
	assertNoConnections(t, conns)
}

// TestLocalhostAllowedFallsBack: localhost may resolve to ::1 as well as
// 127.0.0.1; with only 127.0.0.0/8 allowed, ::1 is refused in the control
// hook and the dialer moves on to 127.0.0.1.
func TestLocalhostAllowed(t *testing.T) {
	srv, _ := newServer(t)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	client := &http.Client{Transport: loopbackGuard().Transport()}
	resp, err := client.Get("http://localhost:" + port + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

func TestHTTPMappedLoopbackRefused(t *testing.T) {
	srv, conns := newServer(t)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	client := &http.Client{Transport: New(nil).Transport()}
	_, err := client.Get("http://[::ffff:127.0.0.1]:" + port + "/")
	wantBlocked(t, err, "loopback")
	assertNoConnections(t, conns)

	// The allow-list for 127.0.0.0/8 covers the mapped spelling too.
	client = &http.Client{Transport: loopbackGuard().Transport()}
	resp, err := client.Get("http://[::ffff:127.0.0.1]:" + port + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
}

// TestHTTPInternalRefusedBeforeConnect: these addresses are refused in the
// control hook, before connect(2), so no packet leaves the host and the error
// comes back at once (a real connection attempt would hang until a timeout).
func TestHTTPInternalRefusedBeforeConnect(t *testing.T) {
	tests := []struct{ url, rng string }{
		{"http://10.0.0.1/", "private"},
		{"http://169.254.169.254/latest/meta-data/", "cloud metadata (link-local)"},
		{"https://192.168.0.1:8443/", "private"},
		{"http://100.100.100.200/", "carrier-grade NAT"},
		{"http://[fd00:ec2::254]/", "cloud metadata (unique-local)"},
		{"http://[fe80::1%25lo]:80/", "link-local"},
		{"http://0.0.0.0:80/", "unspecified"},
	}
	// A guard that allows loopback must still refuse all of the above.
	client := &http.Client{Transport: loopbackGuard().Transport(), Timeout: 5 * time.Second}
	for _, tt := range tests {
		t.Run(tt.url, func(t *testing.T) {
			start := time.Now()
			_, err := client.Get(tt.url)
			elapsed := time.Since(start)
			wantBlocked(t, err, tt.rng)
			if elapsed > time.Second {
				t.Errorf("refusal took %v; the address was probably dialed", elapsed)
			}
		})
	}
}

func TestDialContext(t *testing.T) {
	srv, conns := newServer(t)
	addr := srv.Listener.Addr().String()

	_, err := New(nil).DialContext(context.Background(), "tcp", addr)
	wantBlocked(t, err, "loopback")
	assertNoConnections(t, conns)

	c, err := loopbackGuard().DialContext(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()

	// The Dialer alone enforces the check too (without the host name).
	_, err = New(nil).Dialer(time.Second).DialContext(context.Background(), "tcp4", addr)
	be := wantBlocked(t, err, "loopback")
	if be.Host != "" {
		t.Errorf("Host = %q from a bare Dialer", be.Host)
	}

	// Unix sockets are not IP addresses: refused (fail closed).
	_, err = New(nil).DialContext(context.Background(), "unix", t.TempDir()+"/sock")
	if err == nil || !strings.Contains(err.Error(), "not an IP address") {
		t.Errorf("unix dial err = %v", err)
	}

	// The zero Guard works and refuses loopback.
	_, err = (&Guard{}).DialContext(context.Background(), "tcp", addr)
	wantBlocked(t, err, "loopback")
}

func TestTransportSettings(t *testing.T) {
	t.Setenv("HTTP_PROXY", "http://127.0.0.1:1")
	t.Setenv("HTTPS_PROXY", "http://127.0.0.1:1")
	tr := New(nil).Transport()
	if tr.Proxy != nil {
		t.Error("Transport.Proxy is set; a proxy would bypass the guard")
	}
	//lint:ignore SA1019 the deprecated hooks must stay unset, or they would bypass the guard
	if tr.DialContext == nil || tr.DialTLSContext != nil || tr.Dial != nil || tr.DialTLS != nil {
		t.Error("Transport must dial only through the guard's DialContext")
	}
	if tr.TLSHandshakeTimeout != 10*time.Second || tr.MaxIdleConnsPerHost != 64 || tr.MaxIdleConns != 1024 || !tr.ForceAttemptHTTP2 {
		t.Errorf("Transport settings = %+v", tr)
	}
	if d := New(nil).Dialer(3 * time.Second); d.Timeout != 3*time.Second || d.ControlContext == nil {
		t.Errorf("Dialer = %+v", d)
	}
}

// fakeDNS is a minimal DNS server on 127.0.0.1 that answers every A query
// with the given addresses and every other query with no answers. It stands
// in for an attacker's name server in DNS-rebinding tests.
type fakeDNS struct {
	pc      net.PacketConn
	answers []netip.Addr
	queries atomic.Int64
	wg      sync.WaitGroup
}

func startFakeDNS(t *testing.T, answers ...string) *fakeDNS {
	t.Helper()
	pc, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	d := &fakeDNS{pc: pc}
	for _, a := range answers {
		d.answers = append(d.answers, netip.MustParseAddr(a))
	}
	d.wg.Add(1)
	go d.serve()
	t.Cleanup(func() { pc.Close(); d.wg.Wait() })
	return d
}

func (d *fakeDNS) serve() {
	defer d.wg.Done()
	buf := make([]byte, 512)
	for {
		n, from, err := d.pc.ReadFrom(buf)
		if err != nil {
			return
		}
		if resp := d.answer(buf[:n]); resp != nil {
			d.queries.Add(1)
			d.pc.WriteTo(resp, from)
		}
	}
}

func (d *fakeDNS) answer(q []byte) []byte {
	if len(q) < 12 || binary.BigEndian.Uint16(q[4:]) != 1 {
		return nil
	}
	i := 12
	for i < len(q) && q[i] != 0 {
		i += int(q[i]) + 1
	}
	i++ // root label
	if i+4 > len(q) {
		return nil
	}
	qtype := binary.BigEndian.Uint16(q[i:])
	question := q[12 : i+4]

	var answers [][]byte
	if qtype == 1 { // A
		for _, a := range d.answers {
			rr := []byte{0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4}
			b := a.As4()
			answers = append(answers, append(rr, b[:]...))
		}
	}
	resp := make([]byte, 12, 512)
	copy(resp, q[:2])                                              // ID
	binary.BigEndian.PutUint16(resp[2:], 0x8180|uint16(q[2]&1)<<8) // QR, RD, RA
	binary.BigEndian.PutUint16(resp[4:], 1)
	binary.BigEndian.PutUint16(resp[6:], uint16(len(answers)))
	resp = append(resp, question...)
	for _, rr := range answers {
		resp = append(resp, rr...)
	}
	return resp
}

// resolver returns a pure-Go resolver that asks only the fake server.
func (d *fakeDNS) resolver() *net.Resolver {
	return &net.Resolver{
		PreferGo: true,
		Dial: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var nd net.Dialer
			return nd.DialContext(ctx, "udp4", d.pc.LocalAddr().String())
		},
	}
}

// TestDNSRebindingRefused: a name served by an attacker-controlled DNS server
// resolves to 127.0.0.1. The guard looks at no names at all, only at the
// address in the control hook, so the answer is refused whatever it is.
func TestDNSRebindingRefused(t *testing.T) {
	srv, conns := newServer(t)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	dns := startFakeDNS(t, "127.0.0.1")

	g := New(nil)
	d := g.Dialer(time.Second)
	d.Resolver = dns.resolver()
	_, err := d.DialContext(context.Background(), "tcp4", "rebind.herald.test:"+port)
	wantBlocked(t, err, "loopback")
	if dns.queries.Load() == 0 {
		t.Fatal("fake DNS server was not queried")
	}
	assertNoConnections(t, conns)
}

// TestNextAddressTried: a name resolving to a blocked address and then an
// allowed one connects to the allowed one; the blocked one is skipped in the
// control hook without a packet being sent. Both are loopback addresses, so
// the resolver keeps their order (RFC 6724 sorting ties) and nothing could
// leave the host even if the guard failed.
func TestNextAddressTried(t *testing.T) {
	srv, conns := newServer(t)
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	dns := startFakeDNS(t, "127.0.0.2", "127.0.0.1")

	g := New([]netip.Prefix{netip.MustParsePrefix("127.0.0.1/32")})
	d := g.Dialer(time.Second)
	d.Resolver = dns.resolver()
	var mu sync.Mutex
	var tried []string
	control := d.ControlContext
	d.ControlContext = func(ctx context.Context, network, address string, c syscallRawConn) error {
		mu.Lock()
		tried = append(tried, address)
		mu.Unlock()
		return control(ctx, network, address, c)
	}
	start := time.Now()
	c, err := d.DialContext(context.Background(), "tcp4", "mixed.herald.test:"+port)
	if err != nil {
		t.Fatalf("dial: %v (tried %v)", err, tried)
	}
	c.Close()
	if time.Since(start) > time.Second {
		t.Errorf("dial took %v", time.Since(start))
	}
	for deadline := time.Now().Add(2 * time.Second); conns.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("server accepted %d connections, want 1", n)
	}
	mu.Lock()
	if len(tried) != 2 || !strings.HasPrefix(tried[0], "127.0.0.2:") || !strings.HasPrefix(tried[1], "127.0.0.1:") {
		t.Errorf("addresses tried = %v, want 127.0.0.2 (refused) then 127.0.0.1", tried)
	}
	mu.Unlock()

	// With nothing allowed, all three are refused and the first refusal is
	// reported.
	d = New(nil).Dialer(time.Second)
	d.Resolver = dns.resolver()
	_, err = d.DialContext(context.Background(), "tcp4", "mixed.herald.test:"+port)
	be := wantBlocked(t, err, "loopback")
	if be.Addr != netip.MustParseAddr("127.0.0.2") {
		t.Errorf("reported %s, want the first refused address 127.0.0.2", be.Addr)
	}
}

type syscallRawConn = syscall.RawConn
