package web

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/heraldhq/herald/internal/herald"
)

const (
	sessionCookie = "herald_session"
	// csrfCookie seeds the CSRF token of the forms shown before sign-in
	// (sign-in and first-admin setup), so a third-party site cannot sign
	// a browser in to the attacker's account either.
	csrfCookie = "herald_csrf"
	csrfField  = "csrf_token"
	csrfHeader = "X-CSRF-Token"
)

// requestCtx is what the middleware learned about a request.
type requestCtx struct {
	session *herald.Session // nil before sign-in
	csrf    string          // the token every form of this page carries
	member  *memberCtx      // the signed-in user's role and workspaces
}

type ctxKey struct{}

func requestFrom(r *http.Request) *requestCtx {
	rc, _ := r.Context().Value(ctxKey{}).(*requestCtx)
	return rc
}

// workspace is the signed-in user's workspace.
func workspace(r *http.Request) string { return requestFrom(r).session.WorkspaceID }

// csrfToken derives a form token from a secret cookie value: a third-party
// page can neither read the cookie nor compute the token.
func csrfToken(seed string) string {
	m := hmac.New(sha256.New, []byte(seed))
	m.Write([]byte("herald csrf v1"))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil))
}

// csrfSeed is the session cookie when there is one, else the pre-session
// CSRF cookie. Rendering and checking use the same rule.
func csrfSeed(r *http.Request) string {
	if c, err := r.Cookie(sessionCookie); err == nil && c.Value != "" {
		return c.Value
	}
	if c, err := r.Cookie(csrfCookie); err == nil && c.Value != "" {
		return c.Value
	}
	return ""
}

func cookie(r *http.Request, name, value string, maxAge int) *http.Cookie {
	return &http.Cookie{Name: name, Value: value, Path: "/", MaxAge: maxAge, HttpOnly: true,
		SameSite: http.SameSiteLaxMode, Secure: r.TLS != nil}
}

// protect is the outermost middleware: security headers, a body limit,
// panic recovery, and the CSRF check of every POST.
func (s *Server) protect(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; "+
			"form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		if !strings.HasPrefix(r.URL.Path, "/static/") {
			h.Set("Cache-Control", "no-store")
		}
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.ErrorContext(r.Context(), "panic serving ui request", "path", r.URL.Path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				s.fail(w, r, errors.New("panic"))
			}
		}()
		r.Body = http.MaxBytesReader(w, r.Body, s.cfg.MaxFormBytes)
		seed := csrfSeed(r)
		rc := &requestCtx{}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			if err := r.ParseForm(); err != nil {
				var tooBig *http.MaxBytesError
				if errors.As(err, &tooBig) {
					s.fail(w, r, herald.Errorf(herald.ETooLarge, "The form is larger than %d bytes.", s.cfg.MaxFormBytes))
					return
				}
				s.fail(w, r, herald.Errorf(herald.EBadRequest, "The form could not be read."))
				return
			}
			got := r.PostForm.Get(csrfField)
			if got == "" {
				got = r.Header.Get(csrfHeader)
			}
			if seed == "" || !hmac.Equal([]byte(got), []byte(csrfToken(seed))) {
				s.log.WarnContext(r.Context(), "ui: CSRF check failed", "path", r.URL.Path)
				r = r.WithContext(context.WithValue(r.Context(), ctxKey{}, rc))
				s.fail(w, r, herald.Errorf(herald.EForbidden, "This form expired or was sent from another site, so it was not accepted. Go back, reload the page and try again."))
				return
			}
		}
		if seed == "" {
			// First visit: seed the pre-session forms.
			var b [32]byte
			rand.Read(b[:])
			seed = base64.RawURLEncoding.EncodeToString(b[:])
			http.SetCookie(w, cookie(r, csrfCookie, seed, 0))
		}
		rc.csrf = csrfToken(seed)
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), ctxKey{}, rc)))
	})
}

// currentSession returns the live session of the request, or nil.
func (s *Server) currentSession(r *http.Request) (*herald.Session, error) {
	c, err := r.Cookie(sessionCookie)
	if err != nil || c.Value == "" {
		return nil, nil
	}
	hash := herald.HashSessionToken(c.Value)
	sess, err := s.users.Session(r.Context(), hash)
	if herald.ErrorCodeOf(err) == herald.ENotFound {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read session: %w", err)
	}
	if sess.Expired(s.now()) {
		s.users.DeleteSession(r.Context(), hash)
		return nil, nil
	}
	return sess, nil
}

// signedIn requires a session; a browser without one is sent to the
// sign-in page and brought back afterwards.
func (s *Server) signedIn(next http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		sess, err := s.currentSession(r)
		if err != nil {
			s.fail(w, r, err)
			return
		}
		if sess == nil {
			to := "/login"
			if r.Method == http.MethodGet && r.URL.Path != "/" {
				to += "?next=" + urlQueryEscape(r.URL.RequestURI())
			}
			redirect(w, r, to)
			return
		}
		requestFrom(r).session = sess
		if err := s.resolveMember(r, sess); err != nil {
			s.fail(w, r, err)
			return
		}
		next(w, r.WithContext(herald.WithActor(r.Context(), sess.Email)))
	}
}

// safeNext keeps a post-sign-in redirect on this site.
func safeNext(next string) string {
	if !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") || strings.ContainsAny(next, "\r\n") {
		return "/webhooks"
	}
	return next
}

type loginData struct {
	Email, Next string
	NoUsers     bool
}

func (s *Server) loginPage(w http.ResponseWriter, r *http.Request) {
	if sess, _ := s.currentSession(r); sess != nil {
		redirect(w, r, safeNext(r.URL.Query().Get("next")))
		return
	}
	n, err := s.users.CountUsers(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "login", &view{Title: "Sign in", D: loginData{Next: r.URL.Query().Get("next"), NoUsers: n == 0}})
}

func (s *Server) login(w http.ResponseWriter, r *http.Request) {
	email := herald.NormalizeEmail(r.PostForm.Get("email"))
	password := r.PostForm.Get("password")
	next := r.PostForm.Get("next")
	d := loginData{Email: email, Next: next}
	errs := map[string]string{}
	if email == "" {
		errs["email"] = "is required"
	}
	if password == "" {
		errs["password"] = "is required"
	}
	if len(errs) > 0 {
		s.render(w, r, http.StatusUnprocessableEntity, "login", &view{Title: "Sign in", Errors: errs, FormError: "Enter your email and password.", D: d})
		return
	}
	keys := []string{"email:" + email, "addr:" + clientAddr(r)}
	if blocked, until := s.throttle.blocked(s.now(), keys...); blocked {
		s.log.WarnContext(r.Context(), "ui: sign-in throttled", "remote", r.RemoteAddr)
		mins := int(until.Sub(s.now()).Minutes()) + 1
		s.render(w, r, http.StatusTooManyRequests, "login", &view{Title: "Sign in",
			FormError: fmt.Sprintf("Too many failed sign-ins. Try again in %d minutes.", mins), D: d})
		return
	}
	u, err := s.users.UserByEmail(r.Context(), email)
	if err != nil && herald.ErrorCodeOf(err) != herald.ENotFound {
		s.fail(w, r, err)
		return
	}
	hash := ""
	if u != nil {
		hash = u.PasswordHash
	}
	if !checkPassword(hash, password) {
		s.throttle.fail(s.now(), keys...)
		s.log.WarnContext(r.Context(), "ui: sign-in failed", "remote", r.RemoteAddr)
		s.render(w, r, http.StatusUnauthorized, "login", &view{Title: "Sign in", FormError: "The email or the password is not right.", D: d})
		return
	}
	s.throttle.succeed(keys[0])
	if err := s.startSession(w, r, u); err != nil {
		s.fail(w, r, err)
		return
	}
	redirect(w, r, safeNext(next))
}

// startSession stores a new session for u and sets its cookie. A new
// token on every sign-in means a token planted before sign-in is useless.
func (s *Server) startSession(w http.ResponseWriter, r *http.Request, u *herald.User) error {
	token, hash := herald.NewSessionToken()
	now := s.now().UTC().Truncate(time.Microsecond)
	sess := &herald.Session{TokenHash: hash, UserID: u.ID, WorkspaceID: u.WorkspaceID, Email: u.Email, CreatedAt: now, ExpiresAt: now.Add(s.cfg.SessionTTL)}
	if err := s.users.CreateSession(r.Context(), sess); err != nil {
		return err
	}
	http.SetCookie(w, cookie(r, sessionCookie, token, int(s.cfg.SessionTTL/time.Second)))
	return nil
}

func (s *Server) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(sessionCookie); err == nil {
		if err := s.users.DeleteSession(r.Context(), herald.HashSessionToken(c.Value)); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	http.SetCookie(w, cookie(r, sessionCookie, "", -1))
	setFlash(w, r, "You are signed out.", false)
	redirect(w, r, "/login")
}

type setupData struct {
	Token, Email string
	State        string // "form", "done" (an admin exists), "invalid"
}

func (s *Server) setupState(r *http.Request, token string) (string, error) {
	n, err := s.users.CountUsers(r.Context())
	if err != nil {
		return "", err
	}
	switch {
	case n > 0:
		return "done", nil
	case !s.validSetupToken(token):
		return "invalid", nil
	}
	return "form", nil
}

func (s *Server) setupPage(w http.ResponseWriter, r *http.Request) {
	token := r.URL.Query().Get("token")
	state, err := s.setupState(r, token)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	status := http.StatusOK
	if state == "invalid" {
		status = http.StatusForbidden
	} else if state == "done" {
		status = http.StatusGone
	}
	s.render(w, r, status, "setup", &view{Title: "Create the first admin", D: setupData{Token: token, State: state}})
}

func (s *Server) setup(w http.ResponseWriter, r *http.Request) {
	token := r.PostForm.Get("token")
	email := herald.NormalizeEmail(r.PostForm.Get("email"))
	password, confirm := r.PostForm.Get("password"), r.PostForm.Get("password_confirm")
	state, err := s.setupState(r, token)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := setupData{Token: token, Email: email, State: state}
	if state != "form" {
		s.render(w, r, http.StatusForbidden, "setup", &view{Title: "Create the first admin", D: d})
		return
	}
	errs := map[string]string{}
	if err := herald.ValidateNewUser(email, password); err != nil {
		errs, _, _ = fieldErrors(err)
	}
	if password != confirm && errs["password"] == "" {
		errs["password_confirm"] = "does not match the password"
	}
	if len(errs) > 0 {
		s.render(w, r, http.StatusUnprocessableEntity, "setup", &view{Title: "Create the first admin", Errors: errs, FormError: "Please correct the fields marked below.", D: d})
		return
	}
	if !s.useSetupToken(token) {
		d.State = "invalid"
		s.render(w, r, http.StatusForbidden, "setup", &view{Title: "Create the first admin", D: d})
		return
	}
	ws, err := s.store.EnsureWorkspace(r.Context(), s.cfg.SetupWorkspace)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	u, err := CreateUser(r.Context(), s.users, ws.ID, email, password, s.cfg.BcryptCost)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.log.InfoContext(r.Context(), "first admin created", "email", u.Email)
	if err := s.startSession(w, r, u); err != nil {
		s.fail(w, r, err)
		return
	}
	setFlash(w, r, "Welcome! Start by adding an authorization for a third-party service, then a webhook that uses it.", false)
	redirect(w, r, "/webhooks")
}
