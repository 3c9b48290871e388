// Package netguard is herald's SSRF guard: it decides which IP addresses
// herald may open connections to when it delivers webhooks to URLs that
// administrators configure (product.md S3).
//
// # Why the check happens at connect time
//
// Checking a URL's host name, or resolving it once and checking the answer
// before the request, is not enough. DNS can change between the check and the
// connection (DNS rebinding: the first lookup answers with a public address,
// the second one, made by the HTTP client, with 127.0.0.1 or
// 169.254.169.254), a name can resolve to several addresses of which only some
// are internal, and the same internal address has many spellings
// (::ffff:127.0.0.1, 2130706433, 0x7f.1, 6to4 and Teredo embeddings, ...).
//
// netguard therefore checks nothing but the final IP address, at the last
// possible moment: in the net.Dialer's control hook, which runs after DNS
// resolution on the socket of every address the dialer actually tries,
// immediately before connect(2). A refused address never sees a packet; the
// dialer then tries the next resolved address (happy eyeballs included), and
// if every address is refused the dial fails with a *BlockedError. Because
// [Guard.Transport] sets Proxy to nil, no proxy can make the connection on
// herald's behalf either — except the one egress proxy an operator names
// ([Guard.ProxyTransport]), which is asked to connect only to addresses
// the Guard has checked, by IP.
//
// By default every address that is not globally routable is refused:
// loopback, unspecified, private and unique-local, link-local (including the
// 169.254.169.254 cloud metadata address), carrier-grade NAT, NAT64,
// multicast, broadcast, reserved, benchmarking and documentation ranges,
// IPv4-mapped and IPv4-compatible IPv6 forms of those, and 6to4 and Teredo
// addresses that embed them. An allow-list of prefixes (the
// --allow-network flag) opens specific ranges; tests allow 127.0.0.0/8.
package netguard

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"syscall"
	"time"
)

// Guard decides which IP addresses herald may connect to. A nil or zero Guard
// allows nothing beyond globally routable addresses. A Guard is safe for
// concurrent use and must not be changed after it is first used.
type Guard struct {
	allowed []netip.Prefix
	dialer  *net.Dialer
}

// DefaultDialTimeout bounds connection set-up for [Guard.DialContext] and
// [Guard.Transport]; per-request deadlines come from the request's context.
const DefaultDialTimeout = 10 * time.Second

// New returns a Guard that additionally allows the addresses in allow.
// Prefixes are masked; IPv4-mapped IPv6 prefixes (::ffff:127.0.0.0/104) are
// turned into their IPv4 form; invalid prefixes are ignored.
func New(allow []netip.Prefix) *Guard {
	g := &Guard{}
	for _, p := range allow {
		if p, ok := normalizePrefix(p); ok {
			g.allowed = append(g.allowed, p)
		}
	}
	g.dialer = g.Dialer(DefaultDialTimeout)
	return g
}

// Allowed returns a copy of the Guard's allow-list.
func (g *Guard) Allowed() []netip.Prefix {
	if g == nil {
		return nil
	}
	return append([]netip.Prefix(nil), g.allowed...)
}

// ParseAllowList parses allow-list entries: CIDR prefixes such as
// 127.0.0.0/8 or fd00::/8, or bare addresses meaning a single host. Blank
// entries are skipped. The error names the first bad entry.
func ParseAllowList(cidrs []string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for _, s := range cidrs {
		entry := strings.TrimSpace(s)
		if entry == "" {
			continue
		}
		var p netip.Prefix
		if strings.Contains(entry, "/") {
			var err error
			if p, err = netip.ParsePrefix(entry); err != nil {
				return nil, fmt.Errorf("netguard: invalid allow-network entry %q: want a CIDR prefix such as 127.0.0.0/8 or fd00::/8, or a single IP address", s)
			}
		} else {
			a, err := netip.ParseAddr(entry)
			if err != nil || a.Zone() != "" {
				return nil, fmt.Errorf("netguard: invalid allow-network entry %q: want a CIDR prefix such as 127.0.0.0/8 or fd00::/8, or a single IP address", s)
			}
			p = netip.PrefixFrom(a, a.BitLen())
		}
		p, _ = normalizePrefix(p)
		out = append(out, p)
	}
	return out, nil
}

func normalizePrefix(p netip.Prefix) (netip.Prefix, bool) {
	if !p.IsValid() {
		return netip.Prefix{}, false
	}
	a := p.Addr().WithZone("")
	if a.Is4In6() && p.Bits() >= 96 {
		return netip.PrefixFrom(a.Unmap(), p.Bits()-96).Masked(), true
	}
	return netip.PrefixFrom(a, p.Bits()).Masked(), true
}

// BlockedError reports an address the Guard refused.
type BlockedError struct {
	// Addr is the refused address as it was to be dialed.
	Addr netip.Addr
	// Range names the blocked range, e.g. "loopback" or "private".
	Range string
	// Host is the host name that resolved to Addr, when known.
	Host string
	// Network is the blocked prefix that matched, suitable for
	// --allow-network; for 6to4 and Teredo addresses it is the prefix of the
	// embedded IPv4 address. It is the zero Prefix for invalid addresses.
	Network netip.Prefix
}

// Error reads, for example, `refused to connect to 127.0.0.1 (loopback) for
// host "localhost": blocked by the SSRF guard; allow it with
// --allow-network 127.0.0.0/8`.
func (e *BlockedError) Error() string {
	var b strings.Builder
	b.WriteString("refused to connect to ")
	if e.Addr.IsValid() {
		b.WriteString(e.Addr.String())
	} else {
		b.WriteString("an invalid address")
	}
	b.WriteString(" (")
	b.WriteString(e.Range)
	b.WriteString(")")
	if e.Host != "" && e.Host != e.Addr.String() {
		fmt.Fprintf(&b, " for host %q", e.Host)
	}
	b.WriteString(": blocked by the SSRF guard")
	if e.Network.IsValid() {
		b.WriteString("; allow it with --allow-network ")
		b.WriteString(e.Network.String())
	}
	return b.String()
}

// Reason says why the address was refused, e.g. "127.0.0.1 is a loopback
// address".
func (e *BlockedError) Reason() string {
	art := "a"
	if r := e.Range; r != "" && strings.ContainsRune("aeiouAEIOU", rune(r[0])) {
		art = "an"
	}
	return fmt.Sprintf("%s is %s %s address", e.Addr, art, e.Range)
}

type blockedRange struct {
	prefix netip.Prefix
	name   string
}

func r(cidr, name string) blockedRange {
	return blockedRange{netip.MustParsePrefix(cidr), name}
}

// blocked lists the refused ranges; the first match names the range, so
// specific entries precede the ranges that contain them. IPv4-mapped IPv6
// addresses are unmapped before matching. Sources: RFC 6890 and the IANA
// IPv4 and IPv6 special-purpose address registries.
var blocked = []blockedRange{
	// IPv4.
	r("0.0.0.0/8", "unspecified"),
	r("10.0.0.0/8", "private"),
	r("100.64.0.0/10", "carrier-grade NAT"),
	r("127.0.0.0/8", "loopback"),
	r("169.254.169.254/32", "cloud metadata (link-local)"),
	r("169.254.0.0/16", "link-local"),
	r("172.16.0.0/12", "private"),
	r("192.0.0.0/24", "IETF protocol assignment"),
	r("192.0.2.0/24", "documentation"),
	r("192.88.99.0/24", "6to4 relay anycast"),
	r("192.168.0.0/16", "private"),
	r("198.18.0.0/15", "benchmarking"),
	r("198.51.100.0/24", "documentation"),
	r("203.0.113.0/24", "documentation"),
	r("224.0.0.0/4", "multicast"),
	r("255.255.255.255/32", "broadcast"),
	r("240.0.0.0/4", "reserved"),

	// IPv6.
	r("::/128", "unspecified"),
	r("::1/128", "loopback"),
	r("::/96", "IPv4-compatible IPv6"),
	r("::ffff:0:0:0/96", "IPv4-translated IPv6"),
	r("64:ff9b::/96", "NAT64"),
	r("64:ff9b:1::/48", "NAT64 local-use"),
	r("100::/64", "discard-only"),
	r("2001:2::/48", "benchmarking"),
	r("2001:10::/28", "ORCHID"),
	r("2001:db8::/32", "documentation"),
	r("3fff::/20", "documentation"),
	r("fd00:ec2::254/128", "cloud metadata (unique-local)"),
	r("fc00::/7", "private"),
	r("fec0::/10", "site-local"),
	r("fe80::/10", "link-local"),
	r("ff00::/8", "multicast"),
}

// globalUnicast6 is the only IPv6 block IANA allocates for global unicast;
// any IPv6 address outside it (and not IPv4-mapped) is refused.
var globalUnicast6 = netip.MustParsePrefix("2000::/3")

var (
	prefix6to4   = netip.MustParsePrefix("2002::/16")
	prefixTeredo = netip.MustParsePrefix("2001::/32")
)

// Check returns nil if ip may be dialed, else a *BlockedError naming the
// range that blocked it. IPv4-mapped IPv6 addresses are judged by their
// IPv4 address; zones are ignored.
func (g *Guard) Check(ip netip.Addr) error {
	if !ip.IsValid() {
		return &BlockedError{Addr: ip, Range: "invalid"}
	}
	name, network, ok := g.classify(ip.WithZone("").Unmap())
	if !ok {
		return nil
	}
	return &BlockedError{Addr: ip, Range: name, Network: network}
}

// classify reports whether a (unzoned, unmapped) is refused, with the name
// of the range and the prefix that would open it.
func (g *Guard) classify(a netip.Addr) (name string, network netip.Prefix, refused bool) {
	if g.allows(a) {
		return "", netip.Prefix{}, false
	}
	for _, br := range blocked {
		if br.prefix.Contains(a) {
			return br.name, br.prefix, true
		}
	}
	if !a.Is6() {
		return "", netip.Prefix{}, false
	}
	if !globalUnicast6.Contains(a) {
		return "non-global IPv6", netip.PrefixFrom(a, 128), true
	}
	b := a.As16()
	switch {
	case prefix6to4.Contains(a):
		// 2002:AABB:CCDD::/48 routes to the IPv4 address AA.BB.CC.DD.
		v4 := netip.AddrFrom4([4]byte{b[2], b[3], b[4], b[5]})
		if name, network, refused := g.classify(v4); refused {
			return "6to4-embedded " + name, network, true
		}
	case prefixTeredo.Contains(a):
		// 2001:0:SSSS:SSSS:flags:port:CCCC:CCCC holds the Teredo server
		// address in clear and the client address inverted.
		server := netip.AddrFrom4([4]byte{b[4], b[5], b[6], b[7]})
		client := netip.AddrFrom4([4]byte{^b[12], ^b[13], ^b[14], ^b[15]})
		for _, v4 := range []netip.Addr{server, client} {
			if name, network, refused := g.classify(v4); refused {
				return "Teredo-embedded " + name, network, true
			}
		}
	}
	return "", netip.Prefix{}, false
}

func (g *Guard) allows(a netip.Addr) bool {
	if g == nil {
		return false
	}
	for _, p := range g.allowed {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

type hostKey struct{}

// control is the dialer's ControlContext hook: it runs after DNS resolution,
// on the socket for the address actually being connected, before connect(2).
func (g *Guard) control(ctx context.Context, network, address string, _ syscall.RawConn) error {
	ap, err := netip.ParseAddrPort(address)
	if err != nil {
		// Fail closed: anything that is not IP:port (a Unix socket, say) is
		// not something herald delivers to.
		return fmt.Errorf("netguard: refusing to dial %s address %q: not an IP address and port", network, address)
	}
	if err := g.Check(ap.Addr()); err != nil {
		var be *BlockedError
		if errors.As(err, &be) {
			if h, ok := ctx.Value(hostKey{}).(string); ok {
				be.Host = h
			}
		}
		return err
	}
	return nil
}

// Dialer returns a net.Dialer whose ControlContext hook enforces Check on
// every address it connects to, after DNS resolution. A refused address
// makes the dialer move on to the next resolved address; if all are
// refused, the dial error (a *net.OpError) wraps the first *BlockedError.
// Callers that add their own hook must wrap ControlContext, not replace it,
// and must not set Control (ControlContext takes precedence over it anyway).
func (g *Guard) Dialer(timeout time.Duration) *net.Dialer {
	return &net.Dialer{
		Timeout:        timeout,
		KeepAlive:      30 * time.Second,
		ControlContext: g.control,
	}
}

// DialContext resolves and dials like net.Dialer.DialContext, with every
// resolved address checked at connect time. A *BlockedError it returns
// (through *net.OpError, see errors.As) carries the host name dialed.
func (g *Guard) DialContext(ctx context.Context, network, address string) (net.Conn, error) {
	d := (*net.Dialer)(nil)
	if g != nil {
		d = g.dialer
	}
	if d == nil {
		d = g.Dialer(DefaultDialTimeout)
	}
	if host, _, err := net.SplitHostPort(address); err == nil {
		ctx = context.WithValue(ctx, hostKey{}, host)
	}
	return d.DialContext(ctx, network, address)
}

// Transport returns an *http.Transport that dials through the Guard. Proxy is
// nil, because a proxy would make the connection on herald's behalf and
// bypass the check. Redirects are the http.Client's business, not the
// transport's; herald's client treats them as failures.
func (g *Guard) Transport() *http.Transport {
	return &http.Transport{
		Proxy:                 nil,
		DialContext:           g.DialContext,
		ForceAttemptHTTP2:     true,
		TLSHandshakeTimeout:   10 * time.Second,
		MaxIdleConns:          1024,
		MaxIdleConnsPerHost:   64,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: 1 * time.Second,
	}
}
