package api

import (
	"net/http"

	"github.com/heraldhq/herald/internal/herald"
)

// listPresets answers the vendor presets a webhook can start from.
func (s *Server) listPresets(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, listResponse[*herald.Preset]{Data: herald.Presets()})
}

func (s *Server) getPreset(w http.ResponseWriter, r *http.Request) {
	p, err := herald.PresetByKey(r.PathValue("key"))
	if err != nil {
		s.writeError(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, p)
}
