package api

import (
	"net/http"

	"github.com/heraldhq/herald/internal/herald"
)

// attemptView is an attempt as the API shows it: the flat fields of
// herald.Attempt, and the same grouped as request and response. The
// response body is shown to keys with the admin scope only (a receiver's
// answer may hold personal data); others see its size.
type attemptView struct {
	*herald.Attempt
	Request  attemptRequest   `json:"request"`
	Response *attemptResponse `json:"response,omitempty"`
	// ResponseBodyWithheld is true when the key may not read response bodies.
	ResponseBodyWithheld bool `json:"response_body_withheld"`
}

type attemptRequest struct {
	Method   string          `json:"method"`
	URL      string          `json:"url"`
	Headers  []herald.Header `json:"headers"`
	Body     string          `json:"body"`
	BodySize int             `json:"body_size"`
}

type attemptResponse struct {
	Status   int             `json:"status"`
	Headers  []herald.Header `json:"headers"`
	Body     string          `json:"body"`
	BodySize int             `json:"body_size"`
}

// viewAttempt shapes a for the key of r.
func viewAttempt(r *http.Request, a *herald.Attempt) *attemptView {
	if !apiKeyFrom(r.Context()).Allows(herald.ScopeAdmin) && a.ResponseBody != "" {
		c := *a
		c.ResponseBody = ""
		v := newAttemptView(&c)
		v.ResponseBodyWithheld = true
		return v
	}
	return newAttemptView(a)
}

func newAttemptView(a *herald.Attempt) *attemptView {
	v := &attemptView{Attempt: a, Request: attemptRequest{Method: a.RequestMethod, URL: a.RequestURL, Headers: nonNilHeaders(a.RequestHeaders),
		Body: a.RequestBody, BodySize: a.RequestBodySize}}
	if a.ResponseStatus != 0 {
		v.Response = &attemptResponse{Status: a.ResponseStatus, Headers: nonNilHeaders(a.ResponseHeaders), Body: a.ResponseBody, BodySize: a.ResponseBodySize}
	}
	return v
}

func nonNilHeaders(h []herald.Header) []herald.Header {
	if h == nil {
		return []herald.Header{}
	}
	return h
}

func viewAttempts(r *http.Request, list []*herald.Attempt) []*attemptView {
	out := make([]*attemptView, len(list))
	for i, a := range list {
		out[i] = viewAttempt(r, a)
	}
	return out
}
