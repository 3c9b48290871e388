package delivery

import (
	"fmt"
	"testing"
)

// The cache hands back the redactor made for the same secrets, a new one
// for others (a rotated secret is redacted at once), and stays bounded.
func TestRedactorCache(t *testing.T) {
	var c redactorCache
	a := c.get([]string{"whsec_old", "s3cret-value"})
	if b := c.get([]string{"whsec_old", "s3cret-value"}); b != a {
		t.Fatal("the same secrets made a second redactor")
	}
	// A split in a different place is a different set of secrets.
	if b := c.get([]string{"whsec_olds3cret-value"}); b == a {
		t.Fatal("different secrets shared a redactor")
	}
	rotated := c.get([]string{"whsec_new", "s3cret-value"})
	if got := rotated.string(`{"echo": "whsec_new and whsec_old"}`); got != `{"echo": "•••• and whsec_old"}` {
		t.Fatalf("after rotation: %s", got)
	}
	for i := range 3 * redactorCacheMax {
		c.get([]string{fmt.Sprint("token-", i)})
	}
	if n := len(c.m); n > redactorCacheMax {
		t.Fatalf("cache holds %d redactors, more than %d", n, redactorCacheMax)
	}
	if got := c.get([]string{"token-7"}).string("Bearer token-7"); got != "Bearer ••••" {
		t.Fatalf("after the cache was emptied: %s", got)
	}
}
