package web

import (
	"fmt"
	"net/http"

	"github.com/heraldhq/herald/internal/herald"
)

// The account page: who is signed in, and the user's sessions (each
// browser signed in, with when and where it was last seen), each of which
// can be signed out, or all of them at once.

type accountData struct {
	Sessions  []*herald.Session
	CurrentID string
}

func (s *Server) accountPage(w http.ResponseWriter, r *http.Request) {
	sess := requestFrom(r).session
	list, err := s.users.ListSessions(r.Context(), sess.UserID, s.now())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "account", &view{Title: "Your account", Section: "account",
		D: accountData{Sessions: list, CurrentID: sess.ID}})
}

// signOutSession signs out one of the user's sessions; signing out the
// current one is signing out.
func (s *Server) signOutSession(w http.ResponseWriter, r *http.Request) {
	sess := requestFrom(r).session
	id := r.PathValue("id")
	if err := s.users.DeleteUserSession(r.Context(), sess.UserID, id); err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.InfoContext(r.Context(), "ui: session signed out", "email", sess.Email)
	if id == sess.ID {
		http.SetCookie(w, cookie(r, sessionCookie, "", -1))
		setFlash(w, r, "You are signed out.", false)
		redirect(w, r, "/login")
		return
	}
	setFlash(w, r, "That session is signed out: the browser has to sign in again.", false)
	redirect(w, r, "/account")
}

// signOutEverywhere ends every session of the user, this one included.
func (s *Server) signOutEverywhere(w http.ResponseWriter, r *http.Request) {
	sess := requestFrom(r).session
	n, err := s.users.DeleteUserSessions(r.Context(), sess.UserID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.InfoContext(r.Context(), "ui: signed out everywhere", "email", sess.Email, "sessions", n)
	http.SetCookie(w, cookie(r, sessionCookie, "", -1))
	setFlash(w, r, fmt.Sprintf("You are signed out everywhere (%s).", plural(n, "session")), false)
	redirect(w, r, "/login")
}
