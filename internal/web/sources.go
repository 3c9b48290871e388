package web

import (
	"fmt"
	"net/http"
	"net/url"

	"github.com/heraldhq/herald/internal/herald"
)

type sourceListData struct {
	Sources []*herald.Source
	Next    string
}

func (s *Server) listSources(w http.ResponseWriter, r *http.Request) {
	f := herald.SourceFilter{Limit: 50}
	if c := r.URL.Query().Get("cursor"); herald.ValidID(c) {
		f.Cursor = c
	}
	list, next, err := s.svc.ListSources(r.Context(), workspace(r), f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := sourceListData{Sources: list}
	if next != "" {
		d.Next = "/sources?" + url.Values{"cursor": {next}}.Encode()
	}
	s.render(w, r, http.StatusOK, "sources", &view{Title: "Sources", Section: "sources", D: d})
}

func (s *Server) newSource(w http.ResponseWriter, r *http.Request) {
	f := &sourceForm{Src: herald.Source{Type: herald.SourceNATS, Mapping: herald.SourceMapping{TypeFrom: "header:Event-Type", DataFrom: "body", IDFrom: "message_id"}}}
	if t := herald.SourceType(r.URL.Query().Get("type")); herald.ValidSourceType(t) {
		f.Src.Type = t
	}
	s.render(w, r, http.StatusOK, "source_form", &view{Title: "Add a source", Section: "sources", D: f})
}

func (s *Server) createSource(w http.ResponseWriter, r *http.Request) {
	src, f := parseSourceForm(r.PostForm)
	saved, err := s.svc.CreateSource(r.Context(), workspace(r), src)
	if err != nil {
		f.Src.URL = herald.MaskURL(f.Src.URL)
		s.sourceFormFailed(w, r, f, err, "Add a source")
		return
	}
	setFlash(w, r, fmt.Sprintf("Source “%s” saved. herald connects to it now.", saved.Name), false)
	redirect(w, r, "/sources/"+saved.ID)
}

func (s *Server) sourceFormFailed(w http.ResponseWriter, r *http.Request, f *sourceForm, err error, title string) {
	errs, formErr, ok := fieldErrors(err)
	if !ok {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusUnprocessableEntity, "source_form", &view{Title: title, Section: "sources", Errors: errs, FormError: formErr, D: f})
}

func (s *Server) loadSource(w http.ResponseWriter, r *http.Request) (*herald.Source, bool) {
	id, err := pathID(r, "id")
	if err != nil {
		s.fail(w, r, err)
		return nil, false
	}
	src, err := s.svc.Source(r.Context(), workspace(r), id)
	if err != nil {
		s.fail(w, r, err)
		return nil, false
	}
	return src, true
}

type sourcePage struct {
	Src      *herald.Source
	URL      string
	State    herald.SourceState
	Rejects  []*herald.SourceReject
	NextPage string
}

// Text is a rejected message's raw content as text.
func (sourcePage) Text(rj *herald.SourceReject) string { return rejectText(rj.Raw) }

func (s *Server) showSource(w http.ResponseWriter, r *http.Request) {
	src, ok := s.loadSource(w, r)
	if !ok {
		return
	}
	f := herald.RejectFilter{Limit: 50}
	if c := r.URL.Query().Get("cursor"); herald.ValidID(c) {
		f.Cursor = c
	}
	rejects, next, err := s.svc.SourceRejects(r.Context(), workspace(r), src.ID, f)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	p := &sourcePage{Src: src, URL: src.MaskedURL(), State: src.Effective(), Rejects: rejects}
	if next != "" {
		p.NextPage = "/sources/" + src.ID + "?" + url.Values{"cursor": {next}}.Encode() + "#rejected"
	}
	s.render(w, r, http.StatusOK, "source", &view{Title: src.Name, Section: "sources", D: p})
}

func (s *Server) editSource(w http.ResponseWriter, r *http.Request) {
	src, ok := s.loadSource(w, r)
	if !ok {
		return
	}
	s.render(w, r, http.StatusOK, "source_form", &view{Title: "Edit " + src.Name, Section: "sources", D: formFromSource(src)})
}

func (s *Server) updateSource(w http.ResponseWriter, r *http.Request) {
	src, ok := s.loadSource(w, r)
	if !ok {
		return
	}
	in, f := parseSourceForm(r.PostForm)
	saved, err := s.svc.UpdateSource(r.Context(), workspace(r), src.ID, func(cur *herald.Source) error {
		// The URL as shown (masked) keeps the stored password; the
		// service puts it back.
		cur.Name, cur.Type, cur.URL, cur.Mapping = in.Name, in.Type, in.URL, in.Mapping
		cur.NATS, cur.AMQP, cur.Outbox = in.NATS, in.AMQP, in.Outbox
		return nil
	})
	if err != nil {
		f.ID = src.ID
		f.Src.URL = herald.MaskURL(f.Src.URL)
		s.sourceFormFailed(w, r, f, err, "Edit "+src.Name)
		return
	}
	setFlash(w, r, fmt.Sprintf("Source “%s” saved. herald reconnects with the new settings.", saved.Name), false)
	redirect(w, r, "/sources/"+saved.ID)
}

func (s *Server) pauseSource(w http.ResponseWriter, r *http.Request) {
	s.setSourcePaused(w, r, true)
}

func (s *Server) resumeSource(w http.ResponseWriter, r *http.Request) {
	s.setSourcePaused(w, r, false)
}

func (s *Server) setSourcePaused(w http.ResponseWriter, r *http.Request, paused bool) {
	src, ok := s.loadSource(w, r)
	if !ok {
		return
	}
	call, msg := s.svc.ResumeSource, "Source “%s” resumed: herald reads it again."
	if paused {
		call, msg = s.svc.PauseSource, "Source “%s” paused: its messages wait in the broker."
	}
	if _, err := call(r.Context(), workspace(r), src.ID); err != nil {
		s.fail(w, r, err)
		return
	}
	setFlash(w, r, fmt.Sprintf(msg, src.Name), false)
	redirect(w, r, "/sources/"+src.ID)
}

func (s *Server) confirmDeleteSource(w http.ResponseWriter, r *http.Request) {
	src, ok := s.loadSource(w, r)
	if !ok {
		return
	}
	s.render(w, r, http.StatusOK, "confirm", &view{Title: "Delete source", Section: "sources", D: confirmData{
		Question: fmt.Sprintf("Delete the source “%s”?", src.Name),
		Detail:   "herald stops reading it and forgets its rejected messages. The events it ingested stay; messages still in the broker stay there.",
		Action:   "/sources/" + src.ID + "/delete", Button: "Delete source", Cancel: "/sources/" + src.ID}})
}

func (s *Server) deleteSource(w http.ResponseWriter, r *http.Request) {
	src, ok := s.loadSource(w, r)
	if !ok {
		return
	}
	if err := s.svc.DeleteSource(r.Context(), workspace(r), src.ID); err != nil {
		s.fail(w, r, err)
		return
	}
	setFlash(w, r, fmt.Sprintf("Source “%s” deleted.", src.Name), false)
	redirect(w, r, "/sources")
}
