package httperr

import (
	"net/http"
	"testing"

	"github.com/heraldhq/herald/internal/herald"
)

func TestEveryCodeHasAStatus(t *testing.T) {
	for _, c := range []herald.ErrorCode{herald.EInvalid, herald.ENotFound, herald.EConflict, herald.EUnauthorized, herald.EForbidden,
		herald.ETooLarge, herald.EInternal, herald.EBadRequest, herald.EUnavailable} {
		if _, ok := statusOf[c]; !ok {
			t.Errorf("code %q has no status", c)
		}
	}
	if Status("made-up") != http.StatusInternalServerError || Status(herald.EUnavailable) != http.StatusServiceUnavailable {
		t.Fatal("statuses")
	}
}
