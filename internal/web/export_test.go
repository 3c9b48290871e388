package web

// EventSummary is eventSummary, for the tests.
var EventSummary = eventSummary
var Sentence = sentence

// UIRoutes lists every signed-in route ("METHOD /path") and the action it
// needs ("" for any signed-in user).
func (s *Server) UIRoutes() map[string]string {
	out := map[string]string{}
	for _, rt := range s.uiRoutes {
		out[rt.Pattern] = string(rt.Action)
	}
	return out
}
