package herald

import "testing"

func TestPortalMayUse(t *testing.T) {
	all := &PortalSession{}
	limited := &PortalSession{AllowedEvents: []string{"coupon.redeemed", "member.*"}}
	star := &PortalSession{AllowedEvents: []string{"*"}}
	none := &PortalSession{AllowedEvents: []string{}}
	for _, c := range []struct {
		p    *PortalSession
		e    string
		want bool
	}{
		{all, "member.verified", true},
		{all, "*", true},
		{limited, "coupon.redeemed", true},
		{limited, "member.verified", true}, // covered by member.*
		{limited, "member.*", true},        // the pattern itself is allowed
		{limited, "coupon.issued", false},
		{limited, "coupon.*", false}, // would cover coupon.issued
		{limited, "*", false},
		{star, "*", true},
		{star, "coupon.*", true},
		{star, "herald.delivery.exhausted", false}, // * leaves herald's alerts out
		{none, "coupon.redeemed", false},
	} {
		if got := c.p.MayUse(c.e); got != c.want {
			t.Errorf("allowed %v: MayUse(%q) = %v, want %v", c.p.AllowedEvents, c.e, got, c.want)
		}
	}
}
