package netguard

import (
	"errors"
	"net/netip"
	"strings"
	"testing"
)

func TestCheckBlocksByDefault(t *testing.T) {
	g := New(nil)
	tests := []struct {
		addr, rng string
	}{
		// Loopback.
		{"127.0.0.1", "loopback"},
		{"127.255.255.254", "loopback"},
		{"::1", "loopback"},
		// Unspecified.
		{"0.0.0.0", "unspecified"},
		{"0.1.2.3", "unspecified"},
		{"::", "unspecified"},
		// Private.
		{"10.0.0.1", "private"},
		{"10.255.255.255", "private"},
		{"172.16.0.1", "private"},
		{"172.31.255.255", "private"},
		{"192.168.1.1", "private"},
		{"fc00::1", "private"},
		{"fd12:3456::1", "private"},
		{"fd00:ec2::254", "cloud metadata (unique-local)"},
		// Link-local and metadata.
		{"169.254.169.254", "cloud metadata (link-local)"},
		{"169.254.170.2", "link-local"},
		{"169.254.0.1", "link-local"},
		{"fe80::1", "link-local"},
		{"fe80::1%eth0", "link-local"},
		{"febf:ffff::1", "link-local"},
		{"fec0::1", "site-local"},
		// CGNAT.
		{"100.64.0.1", "carrier-grade NAT"},
		{"100.127.255.255", "carrier-grade NAT"},
		// NAT64.
		{"64:ff9b::7f00:1", "NAT64"},
		{"64:ff9b::808:808", "NAT64"},
		{"64:ff9b:1::a00:1", "NAT64 local-use"},
		// Multicast, broadcast, reserved.
		{"224.0.0.1", "multicast"},
		{"239.255.255.250", "multicast"},
		{"ff02::1", "multicast"},
		{"ff0e::1", "multicast"},
		{"255.255.255.255", "broadcast"},
		{"240.0.0.1", "reserved"},
		{"255.255.255.254", "reserved"},
		// Benchmarking and documentation.
		{"198.18.0.1", "benchmarking"},
		{"198.19.255.255", "benchmarking"},
		{"2001:2::1", "benchmarking"},
		{"192.0.2.1", "documentation"},
		{"198.51.100.7", "documentation"},
		{"203.0.113.200", "documentation"},
		{"2001:db8::1", "documentation"},
		{"3fff::1", "documentation"},
		{"192.0.0.8", "IETF protocol assignment"},
		{"192.88.99.1", "6to4 relay anycast"},
		{"2001:10::1", "ORCHID"},
		{"100::1", "discard-only"},
		// IPv4-mapped IPv6: judged by the embedded IPv4 address.
		{"::ffff:127.0.0.1", "loopback"},
		{"::ffff:10.0.0.1", "private"},
		{"::ffff:169.254.169.254", "cloud metadata (link-local)"},
		{"::ffff:0.0.0.0", "unspecified"},
		// IPv4-compatible and IPv4-translated IPv6.
		{"::127.0.0.1", "IPv4-compatible IPv6"},
		{"::8.8.8.8", "IPv4-compatible IPv6"},
		{"::ffff:0:7f00:1", "IPv4-translated IPv6"},
		// IPv6 outside 2000::/3 global unicast.
		{"5f00::1", "non-global IPv6"},
		{"4000::1", "non-global IPv6"},
		{"e000::1", "non-global IPv6"},
		// 6to4 embedding internal IPv4 addresses.
		{"2002:7f00:1::1", "6to4-embedded loopback"},
		{"2002:a00:1::", "6to4-embedded private"},
		{"2002:a9fe:a9fe::1", "6to4-embedded cloud metadata (link-local)"},
		// Teredo: server in clear, client inverted.
		{"2001:0:7f00:1::fefe:fefe", "Teredo-embedded loopback"},
		{"2001:0:808:808::f5ff:fffe", "Teredo-embedded private"},                  // client 10.0.0.1
		{"2001:0:4136:e378:8000:63bf:3fff:fdd2", "Teredo-embedded documentation"}, // RFC 4380 example, client 192.0.2.45
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			ip := netip.MustParseAddr(tt.addr)
			err := g.Check(ip)
			var be *BlockedError
			if !errors.As(err, &be) {
				t.Fatalf("Check(%s) = %v, want *BlockedError", ip, err)
			}
			if be.Range != tt.rng {
				t.Errorf("Check(%s).Range = %q, want %q", ip, be.Range, tt.rng)
			}
			if be.Addr != ip {
				t.Errorf("Check(%s).Addr = %s", ip, be.Addr)
			}
			if !be.Network.IsValid() {
				t.Fatalf("Check(%s).Network is not valid", ip)
			}
			// The suggested --allow-network prefix must open the address.
			if err := New([]netip.Prefix{be.Network}).Check(ip); err != nil {
				t.Errorf("allowing the suggested %s does not open %s: %v", be.Network, ip, err)
			}
		})
	}
}

func TestCheckAllowsPublic(t *testing.T) {
	g := New(nil)
	for _, s := range []string{
		"8.8.8.8", "1.1.1.1", "9.9.9.9", "93.184.215.14", "100.63.255.255", "100.128.0.0",
		"172.15.255.255", "172.32.0.0", "192.167.255.255", "192.169.0.0", "198.17.255.255",
		"198.20.0.0", "223.255.255.255", "11.0.0.1", "169.253.255.255", "169.255.0.0",
		"::ffff:8.8.8.8",
		"2606:4700::1111", "2001:4860:4860::8888", "2a00:1450:4001::1",
		"2002:808:808::1",           // 6to4 for 8.8.8.8
		"2001:0:808:808::fefe:fefe", // Teredo, server 8.8.8.8, client 1.1.1.1
		"2001:db7::1", "2001:db9::1",
	} {
		ip := netip.MustParseAddr(s)
		if err := g.Check(ip); err != nil {
			t.Errorf("Check(%s) = %v, want nil", s, err)
		}
	}
}

func TestCheckInvalid(t *testing.T) {
	var be *BlockedError
	if err := New(nil).Check(netip.Addr{}); !errors.As(err, &be) || be.Range != "invalid" {
		t.Fatalf("Check(zero Addr) = %v, want invalid *BlockedError", err)
	}
	if !strings.Contains(be.Error(), "invalid") || strings.Contains(be.Error(), "allow it with") {
		t.Errorf("Error() = %q", be.Error())
	}
}

func TestNilAndZeroGuard(t *testing.T) {
	var nilGuard *Guard
	for _, g := range []*Guard{nilGuard, {}} {
		if err := g.Check(netip.MustParseAddr("127.0.0.1")); err == nil {
			t.Error("loopback allowed by nil/zero Guard")
		}
		if err := g.Check(netip.MustParseAddr("8.8.8.8")); err != nil {
			t.Errorf("public refused by nil/zero Guard: %v", err)
		}
	}
}

func TestAllowList(t *testing.T) {
	allow, err := ParseAllowList([]string{"127.0.0.0/8", " 10.1.0.0/16 ", "", "fd00:1::/32", "192.168.7.7", "::ffff:172.16.0.0/112"})
	if err != nil {
		t.Fatal(err)
	}
	g := New(allow)
	for _, s := range []string{
		"127.0.0.1", "127.9.9.9", "::ffff:127.0.0.1", "10.1.2.3", "fd00:1::5", "192.168.7.7",
		"172.16.3.4", "::ffff:172.16.3.4",
		"2002:7f00:1::", // 6to4 for an allowed loopback address
	} {
		if err := g.Check(netip.MustParseAddr(s)); err != nil {
			t.Errorf("Check(%s) = %v, want allowed", s, err)
		}
	}
	for _, s := range []string{"::1", "10.2.0.1", "fd00:2::1", "192.168.7.8", "169.254.169.254", "172.17.0.1"} {
		if err := g.Check(netip.MustParseAddr(s)); err == nil {
			t.Errorf("Check(%s) = nil, want refused", s)
		}
	}
	// Allowed returns a copy.
	a := g.Allowed()
	a[0] = netip.MustParsePrefix("0.0.0.0/0")
	if g.Check(netip.MustParseAddr("10.9.9.9")) == nil {
		t.Error("modifying Allowed() changed the Guard")
	}
}

func TestNewNormalizesPrefixes(t *testing.T) {
	g := New([]netip.Prefix{
		netip.MustParsePrefix("127.0.0.1/8"), // not masked
		{},                                   // invalid, ignored
		netip.MustParsePrefix("::ffff:10.0.0.0/104"),
	})
	want := []netip.Prefix{netip.MustParsePrefix("127.0.0.0/8"), netip.MustParsePrefix("10.0.0.0/8")}
	got := g.Allowed()
	if len(got) != len(want) || got[0] != want[0] || got[1] != want[1] {
		t.Fatalf("Allowed() = %v, want %v", got, want)
	}
	if err := g.Check(netip.MustParseAddr("127.1.2.3")); err != nil {
		t.Error(err)
	}
}

func TestParseAllowListErrors(t *testing.T) {
	for _, bad := range []string{"localhost", "127.0.0.0/33", "10.0.0.0/", "fe80::1%eth0", "::1/129", "1.2.3", "10.0.0.0/8/8"} {
		_, err := ParseAllowList([]string{"127.0.0.0/8", bad})
		if err == nil {
			t.Errorf("ParseAllowList(%q) = nil error", bad)
			continue
		}
		if !strings.Contains(err.Error(), `"`+bad+`"`) {
			t.Errorf("error %q does not name the entry %q", err, bad)
		}
	}
	if p, err := ParseAllowList(nil); err != nil || len(p) != 0 {
		t.Errorf("ParseAllowList(nil) = %v, %v", p, err)
	}
}

func TestBlockedErrorMessage(t *testing.T) {
	err := New(nil).Check(netip.MustParseAddr("127.0.0.1"))
	var be *BlockedError
	if !errors.As(err, &be) {
		t.Fatal(err)
	}
	be.Host = "localhost"
	want := `refused to connect to 127.0.0.1 (loopback) for host "localhost": blocked by the SSRF guard; allow it with --allow-network 127.0.0.0/8`
	if got := be.Error(); got != want {
		t.Errorf("Error() =\n%s\nwant\n%s", got, want)
	}
	if got, want := be.Reason(), "127.0.0.1 is a loopback address"; got != want {
		t.Errorf("Reason() = %q, want %q", got, want)
	}
	// A host that is the address itself is not repeated.
	be.Host = "127.0.0.1"
	if strings.Contains(be.Error(), "for host") {
		t.Errorf("Error() = %q repeats the address as host", be.Error())
	}

	err = New(nil).Check(netip.MustParseAddr("::ffff:169.254.169.254"))
	if !errors.As(err, &be) {
		t.Fatal(err)
	}
	if got, want := be.Error(), "refused to connect to ::ffff:169.254.169.254 (cloud metadata (link-local)): blocked by the SSRF guard; allow it with --allow-network 169.254.169.254/32"; got != want {
		t.Errorf("Error() =\n%s\nwant\n%s", got, want)
	}
	if got, want := be.Reason(), "::ffff:169.254.169.254 is a cloud metadata (link-local) address"; got != want {
		t.Errorf("Reason() = %q, want %q", got, want)
	}
}
