package web

import "time"

// SetClock replaces the server's clock, for the throttle tests.
func SetClock(s *Server, now func() time.Time) { s.now = now }

// EventSummary is eventSummary, for the tests.
var EventSummary = eventSummary
var Sentence = sentence
