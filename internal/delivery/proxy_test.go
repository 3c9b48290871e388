package delivery

import (
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/netguard"
)

// connectProxy is an HTTP CONNECT proxy on 127.0.0.1 that records the
// targets it was asked for and tunnels to them.
type connectProxy struct {
	ln      net.Listener
	mu      sync.Mutex
	targets []string
}

func newConnectProxy(t *testing.T) *connectProxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &connectProxy{ln: ln}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
			return
		}
		p.mu.Lock()
		p.targets = append(p.targets, r.Host)
		p.mu.Unlock()
		up, err := net.DialTimeout("tcp", r.Host, 5*time.Second)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		conn, buf, err := http.NewResponseController(w).Hijack()
		if err != nil {
			up.Close()
			return
		}
		conn.Write([]byte("HTTP/1.1 200 Connection established\r\n\r\n"))
		go func() {
			if n := buf.Reader.Buffered(); n > 0 {
				b, _ := buf.Reader.Peek(n)
				up.Write(b)
			}
			io.Copy(up, conn)
			up.Close()
		}()
		io.Copy(conn, up)
		conn.Close()
	})}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return p
}

func (p *connectProxy) asked() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.targets...)
}

// Deliveries go through the CONNECT proxy (on 127.0.0.1, which the guard
// does not allow: naming the proxy is what allows it); a destination the
// guard refuses (127.0.0.1) is never asked of the proxy, and fails as
// blocked.
func TestEgressProxy(t *testing.T) {
	proxy := newConnectProxy(t)
	// The allowed receiver listens on 127.0.0.2, the refused one on 127.0.0.1.
	ln, err := net.Listen("tcp", "127.0.0.2:0")
	if err != nil {
		t.Skipf("SKIP: cannot listen on 127.0.0.2: %v", err)
	}
	allowed := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNoContent)
	}))
	allowed.Listener.Close()
	allowed.Listener = ln
	allowed.Start()
	t.Cleanup(allowed.Close)
	refused := newReceiver(t, nil)
	guard := netguard.New([]netip.Prefix{netip.MustParsePrefix("127.0.0.2/32")})
	pu, err := netguard.ParseProxy("http://" + proxy.ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	e := setup(t, envOpts{noAllow: true, cfg: Config{Schedule: []time.Duration{time.Hour}},
		transport: func(tr *http.Transport) { tr.DialContext = guard.ProxyTransport(pu).DialContext }})
	ok := e.webhook(herald.WebhookSpec{EndpointURL: allowed.URL + "/in", Name: "allowed"})
	blocked := e.webhook(herald.WebhookSpec{EndpointURL: refused.URL + "/in", Name: "refused"})
	e.send("member.verified", memberData)
	e.waitDelivery(ok.ID, herald.DeliverySucceeded, 10*time.Second)
	e.waitAttempted(blocked.ID)
	atts, _, _ := e.store.ListAttempts(ctx, e.ws, blocked.ID, herald.AttemptFilter{})
	if len(atts) != 1 || atts[0].ErrorClass != herald.ErrClassBlocked || !strings.Contains(atts[0].Error, "loopback") {
		t.Fatalf("the refused destination: %+v, want a blocked attempt", atts)
	}
	asked := proxy.asked()
	if len(asked) != 1 || asked[0] != strings.TrimPrefix(allowed.URL, "http://") {
		t.Fatalf("the proxy was asked for %v, want only %s", asked, allowed.URL)
	}
	if refused.count() != 0 {
		t.Fatal("the refused receiver got a request")
	}
}
