package netguard

import (
	"errors"
	"net/netip"
	"testing"
)

// mustBlock is the brief's list of ranges, kept apart from the package's own
// table so the fuzz target checks the implementation against the
// requirement rather than against itself. IPv4 prefixes also cover their
// IPv4-mapped IPv6 forms.
var mustBlock = func() []netip.Prefix {
	var ps []netip.Prefix
	for _, s := range []string{
		"127.0.0.0/8", "::1/128", // loopback
		"0.0.0.0/8", "::/128", // unspecified
		"10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "fc00::/7", // private
		"169.254.0.0/16", "fe80::/10", // link-local, metadata
		"100.64.0.0/10",                  // CGNAT
		"64:ff9b::/96", "64:ff9b:1::/48", // NAT64
		"224.0.0.0/4", "ff00::/8", // multicast
		"255.255.255.255/32", "240.0.0.0/4", // broadcast, reserved
		"198.18.0.0/15",                                                      // benchmarking
		"192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32", // documentation
		"192.0.0.0/24",
	} {
		ps = append(ps, netip.MustParsePrefix(s))
	}
	return ps
}()

func FuzzCheck(f *testing.F) {
	for _, s := range []string{
		"127.0.0.1", "::ffff:127.0.0.1", "::1", "10.0.0.1", "169.254.169.254", "fe80::1",
		"64:ff9b::a00:1", "2002:7f00:1::", "2001:0:7f00:1::fefe:fefe", "8.8.8.8",
		"2606:4700::1111", "::", "ff02::1", "255.255.255.255",
	} {
		a := netip.MustParseAddr(s).As16()
		f.Add(a[:], []byte{127, 0, 0, 0}, uint8(8))
		f.Add(a[:], []byte{}, uint8(0))
	}
	f.Fuzz(func(t *testing.T, raw, allowRaw []byte, allowBits uint8) {
		var b [16]byte
		copy(b[:], raw)
		ip := netip.AddrFrom16(b)

		var allow []netip.Prefix
		if a, ok := netip.AddrFromSlice(allowRaw); ok {
			if p := netip.PrefixFrom(a, int(allowBits)%(a.BitLen()+1)); p.IsValid() {
				allow = append(allow, p)
			}
		}
		g := New(allow)

		err := g.Check(ip)
		if err != nil {
			var be *BlockedError
			if !errors.As(err, &be) || be.Range == "" || be.Addr != ip {
				t.Fatalf("Check(%s) = %v, want a complete *BlockedError", ip, err)
			}
			_ = be.Error()
			_ = be.Reason()
		}

		// IPv4 and its mapped IPv6 form are judged alike, zones never matter.
		un := ip.Unmap()
		if errUn := g.Check(un); (errUn == nil) != (err == nil) {
			t.Fatalf("Check(%s) = %v but Check(%s) = %v", ip, err, un, errUn)
		}
		if ip.Is6() && !ip.Is4In6() {
			if errZ := g.Check(ip.WithZone("eth0")); (errZ == nil) != (err == nil) {
				t.Fatalf("Check(%s%%eth0) = %v but Check(%s) = %v", ip, errZ, ip, err)
			}
		}

		allowed := false
		for _, p := range g.Allowed() {
			if p.Contains(un) {
				allowed = true
			}
		}
		if allowed {
			if err != nil {
				t.Fatalf("Check(%s) = %v, but the allow-list %v contains it", ip, err, allow)
			}
			return
		}
		for _, p := range mustBlock {
			if p.Contains(un) && err == nil {
				t.Fatalf("Check(%s) = nil, but %s must be blocked (allow-list %v)", ip, p, allow)
			}
		}
		// Nothing outside 2000::/3 is global unicast IPv6.
		if un.Is6() && !netip.MustParsePrefix("2000::/3").Contains(un) && err == nil {
			t.Fatalf("Check(%s) = nil for a non-global IPv6 address", ip)
		}
	})
}
