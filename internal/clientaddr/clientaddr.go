// Package clientaddr decides who a request comes from when herald runs
// behind reverse proxies: the client's address and whether the client
// spoke HTTPS. It is the one place that reads X-Forwarded-For and
// X-Forwarded-Proto, and it trusts them only from the proxies named by
// `serve --trusted-proxies`; the throttle, the session list and the logs
// all ask it (through From and HTTPS), so they cannot disagree.
package clientaddr

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Trusted is the set of networks whose requests may name the client in
// X-Forwarded-For and X-Forwarded-Proto. The zero value (or nil) trusts
// nobody: the client is always the direct peer.
type Trusted struct {
	prefixes []netip.Prefix
}

// Parse reads CIDRs ("10.0.0.0/8", "::1/128") or single addresses
// ("127.0.0.1"); each entry may itself be a comma-separated list, as the
// environment variable is. An empty list trusts nobody.
func Parse(entries []string) (*Trusted, error) {
	t := &Trusted{}
	for _, e := range entries {
		for _, part := range strings.Split(e, ",") {
			part = strings.TrimSpace(part)
			if part == "" {
				continue
			}
			if !strings.Contains(part, "/") {
				a, err := netip.ParseAddr(part)
				if err != nil {
					return nil, fmt.Errorf("%q is neither a CIDR (10.0.0.0/8) nor an IP address", part)
				}
				a = a.Unmap()
				t.prefixes = append(t.prefixes, netip.PrefixFrom(a, a.BitLen()))
				continue
			}
			p, err := netip.ParsePrefix(part)
			if err != nil {
				return nil, fmt.Errorf("%q is not a CIDR (e.g. 10.0.0.0/8 or 127.0.0.1/32)", part)
			}
			if p.Addr().Is4In6() {
				p = netip.PrefixFrom(p.Addr().Unmap(), p.Bits()-96)
			}
			t.prefixes = append(t.prefixes, p.Masked())
		}
	}
	return t, nil
}

// Len is the number of trusted networks.
func (t *Trusted) Len() int {
	if t == nil {
		return 0
	}
	return len(t.prefixes)
}

func (t *Trusted) contains(a netip.Addr) bool {
	if t == nil {
		return false
	}
	a = a.Unmap()
	for _, p := range t.prefixes {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Info is what Resolve learned about a request.
type Info struct {
	// Addr is the client's IP address as text ("203.0.113.7", "2001:db8::1").
	Addr string
	// HTTPS is true when the client reached herald over TLS: this server's
	// own TLS, or X-Forwarded-Proto: https from a trusted proxy.
	HTTPS bool
}

// Resolve finds the client of r. Only when the direct peer is trusted
// are the forwarding headers read: the client is then the rightmost
// X-Forwarded-For address that is not itself a trusted proxy (every
// proxy appends the address it saw, so anything left of the first
// untrusted hop may be forged by the client). An entry that is not an
// address stops the walk at the last hop known to be good.
func (t *Trusted) Resolve(r *http.Request) Info {
	peer := peerAddr(r.RemoteAddr)
	info := Info{Addr: peer, HTTPS: r.TLS != nil}
	pa, err := netip.ParseAddr(peer)
	if err != nil || !t.contains(pa) {
		return info
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		for _, h := range strings.Split(v, ",") {
			hops = append(hops, strings.TrimSpace(h))
		}
	}
	for i := len(hops) - 1; i >= 0; i-- {
		a, ok := parseHop(hops[i])
		if !ok {
			break
		}
		info.Addr = a.String()
		if !t.contains(a) {
			break
		}
	}
	if !info.HTTPS {
		// The nearest proxy's word: the last value of the last header.
		if vs := r.Header.Values("X-Forwarded-Proto"); len(vs) > 0 {
			parts := strings.Split(vs[len(vs)-1], ",")
			info.HTTPS = strings.EqualFold(strings.TrimSpace(parts[len(parts)-1]), "https")
		}
	}
	return info
}

// parseHop reads one X-Forwarded-For entry: an address, possibly with a
// port ("203.0.113.7:5123", "[2001:db8::1]:443").
func parseHop(h string) (netip.Addr, bool) {
	if a, err := netip.ParseAddr(h); err == nil {
		return a.Unmap(), true
	}
	if ap, err := netip.ParseAddrPort(h); err == nil {
		return ap.Addr().Unmap(), true
	}
	if a, err := netip.ParseAddr(strings.Trim(h, "[]")); err == nil {
		return a.Unmap(), true
	}
	return netip.Addr{}, false
}

func peerAddr(remote string) string {
	host, _, err := net.SplitHostPort(remote)
	if err != nil {
		host = remote
	}
	if a, err := netip.ParseAddr(host); err == nil {
		return a.Unmap().String()
	}
	return host
}

type ctxKey struct{}

// Middleware resolves every request once and keeps the answer in its
// context for From and HTTPS.
func (t *Trusted) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := t.Resolve(r)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, info)))
	})
}

// From returns the client address of r as resolved by Middleware; for a
// request that did not pass through it, the direct peer's address.
func From(r *http.Request) string {
	if info, ok := r.Context().Value(ctxKey{}).(Info); ok {
		return info.Addr
	}
	return peerAddr(r.RemoteAddr)
}

// HTTPS reports whether the client of r used HTTPS, as resolved by
// Middleware (without it: whether this connection is TLS).
func HTTPS(r *http.Request) bool {
	if info, ok := r.Context().Value(ctxKey{}).(Info); ok {
		return info.HTTPS
	}
	return r.TLS != nil
}

// BaseURL is where browsers reach this server, for links herald hands
// out: public (serve --public-url, already checked and without a
// trailing slash) when set, else the scheme the client used (HTTPS
// above) and the Host it asked for.
func BaseURL(public string, r *http.Request) string {
	if public != "" {
		return public
	}
	scheme := "http"
	if r != nil && HTTPS(r) {
		scheme = "https"
	}
	host := "localhost"
	if r != nil && r.Host != "" {
		host = r.Host
	}
	return scheme + "://" + host
}
