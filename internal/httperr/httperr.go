// Package httperr is the one table from herald's error codes to HTTP
// statuses, shared by the two front ends (the REST API and the admin UI),
// so the same mistake gets the same status whichever way it was made.
package httperr

import (
	"net/http"

	"github.com/heraldhq/herald/internal/herald"
)

var statusOf = map[herald.ErrorCode]int{
	herald.EBadRequest:   http.StatusBadRequest,
	herald.EUnauthorized: http.StatusUnauthorized,
	herald.EForbidden:    http.StatusForbidden,
	herald.ENotFound:     http.StatusNotFound,
	herald.EConflict:     http.StatusConflict,
	herald.ETooLarge:     http.StatusRequestEntityTooLarge,
	herald.EInvalid:      http.StatusUnprocessableEntity,
	herald.EInternal:     http.StatusInternalServerError,
	herald.EUnavailable:  http.StatusServiceUnavailable,
}

// Status is the HTTP status of an error code (500 for an unknown one).
func Status(code herald.ErrorCode) int {
	if s, ok := statusOf[code]; ok {
		return s
	}
	return http.StatusInternalServerError
}
