package delivery

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/sqlite"
	"github.com/heraldhq/herald/internal/storetest"
)

// tokenServer is an OAuth2 token endpoint on 127.0.0.1: it checks the
// client's credentials (basic header or body), issues tokens with
// expires_in, counts fetches, and can revoke every token it issued or
// refuse the client.
type tokenServer struct {
	*httptest.Server
	clientID, secret string
	expiresIn        int
	fetches          atomic.Int64
	mu               sync.Mutex
	valid            map[string]bool
	refuse           bool
	forms            []url.Values
}

func newTokenServer(t *testing.T, clientID, secret string, expiresIn int) *tokenServer {
	ts := &tokenServer{clientID: clientID, secret: secret, expiresIn: expiresIn, valid: map[string]bool{}}
	ts.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ts.fetches.Add(1)
		r.ParseForm()
		id, sec, ok := r.BasicAuth()
		if ok {
			id, _ = url.QueryUnescape(id)
			sec, _ = url.QueryUnescape(sec)
		} else {
			id, sec = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
		}
		ts.mu.Lock()
		defer ts.mu.Unlock()
		ts.forms = append(ts.forms, r.PostForm)
		w.Header().Set("Content-Type", "application/json")
		if ts.refuse || r.PostForm.Get("grant_type") != "client_credentials" || id != ts.clientID || sec != ts.secret {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, `{"error": "invalid_client", "error_description": "Client authentication failed for %s"}`, sec)
			return
		}
		tok := fmt.Sprintf("at-%d-%d", ts.fetches.Load(), time.Now().UnixNano())
		ts.valid[tok] = true
		json.NewEncoder(w).Encode(map[string]any{"access_token": tok, "token_type": "Bearer", "expires_in": ts.expiresIn})
	}))
	t.Cleanup(ts.Close)
	return ts
}

func (ts *tokenServer) ok(token string) bool {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	return ts.valid[token]
}

func (ts *tokenServer) revoke() {
	ts.mu.Lock()
	defer ts.mu.Unlock()
	ts.valid = map[string]bool{}
}

// protected is a receiver that accepts a request only with a token the
// token server issued and has not revoked.
func protected(t *testing.T, ts *tokenServer) (*receiver, *atomic.Int64) {
	var accepted atomic.Int64
	rc := newReceiver(t, func(n int, w http.ResponseWriter, r *http.Request) {
		tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
		if !ok || !ts.ok(tok) {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprintf(w, `{"error": "invalid_token", "got": %q}`, tok)
			return
		}
		accepted.Add(1)
		w.WriteHeader(http.StatusNoContent)
	})
	return rc, &accepted
}

func (e *env) oauth2Authorization(endpoint string, ts *tokenServer, clientAuth string) *herald.Authorization {
	e.t.Helper()
	a, err := e.svc.CreateAuthorization(ctx, e.ws, herald.AuthorizationSpec{Endpoint: endpoint, Type: herald.AuthOAuth2,
		OAuth2: &herald.OAuth2Auth{TokenURL: ts.URL + "/oauth/token", ClientID: ts.clientID, ClientSecret: ts.secret, Scope: "events:write", ClientAuth: clientAuth}})
	if err != nil {
		e.t.Fatal(err)
	}
	return a
}

func (e *env) sendMany(n int) {
	e.t.Helper()
	in := make([]herald.EventInput, n)
	for i := range in {
		in[i] = herald.EventInput{Type: "member.verified", Data: []byte(memberData)}
	}
	if _, err := e.engine.Ingest(ctx, e.ws, in); err != nil {
		e.t.Fatal(err)
	}
}

func waitCount(t *testing.T, c *atomic.Int64, want int64, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for c.Load() < want {
		if time.Now().After(deadline) {
			t.Fatalf("%d accepted, want %d", c.Load(), want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// 1,000 deliveries over three token lifetimes (100 at a time, all at
// once, 18 s of the fake clock apart; tokens live 60 s and are replaced
// 6 s early) use one fetch per lifetime: at most 4, and at least 3 (the
// cache does expire). Concurrent deliveries share one fetch.
func TestOAuth2TokenIsSharedAndCachedPerLifetime(t *testing.T) {
	for _, clientAuth := range []string{herald.ClientAuthBasic, herald.ClientAuthBody} {
		t.Run(clientAuth, func(t *testing.T) {
			e := setup(t, envOpts{fakeClock: true})
			ts := newTokenServer(t, "herald-client", "cl!ent:secret/0123456789", 60)
			rc, accepted := protected(t, ts)
			a := e.oauth2Authorization(rc.URL, ts, clientAuth)
			e.webhook(herald.WebhookSpec{AuthorizationEnabled: true, AuthorizationID: a.ID, EndpointURL: rc.URL + "/in"})
			for round := 1; round <= 10; round++ {
				e.sendMany(100)
				e.engine.Wake()
				waitCount(t, accepted, int64(100*round), 20*time.Second)
				e.advance(18 * time.Second)
			}
			t.Logf("%d token fetches", ts.fetches.Load())
			if n := ts.fetches.Load(); n > 4 || n < 3 {
				t.Fatalf("%d token fetches for 1,000 deliveries over 3 lifetimes, want 3 or 4", n)
			}
			if rc.count() != 1000 {
				t.Fatalf("the receiver got %d requests, want 1000 (none refused)", rc.count())
			}
			ts.mu.Lock()
			f := ts.forms[0]
			ts.mu.Unlock()
			if f.Get("scope") != "events:write" || (clientAuth == herald.ClientAuthBody) != (f.Get("client_secret") != "") {
				t.Fatalf("token request form %v", f)
			}
		})
	}
}

// A token the server revoked is answered 401: herald fetches a new one
// and retries at once, in the same attempt, which succeeds.
func TestOAuth2RevokedTokenIsRefreshedOn401(t *testing.T) {
	e := setup(t, envOpts{})
	ts := newTokenServer(t, "herald-client", "s3cret-s3cret-s3cret", 3600)
	rc, accepted := protected(t, ts)
	a := e.oauth2Authorization(rc.URL, ts, herald.ClientAuthBasic)
	w := e.webhook(herald.WebhookSpec{AuthorizationEnabled: true, AuthorizationID: a.ID, EndpointURL: rc.URL + "/in"})
	e.send("member.verified", memberData)
	waitCount(t, accepted, 1, 5*time.Second)
	ts.revoke()
	res := e.send("member.verified", memberData)
	waitCount(t, accepted, 2, 5*time.Second)
	if n := ts.fetches.Load(); n != 2 {
		t.Fatalf("%d fetches, want 2 (the first token, and one after the 401)", n)
	}
	var d *herald.Delivery
	for _, x := range mustDeliveries(t, e, w.ID) {
		if x.EventID == res.EventID {
			d = x
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for d == nil || d.Status != herald.DeliverySucceeded {
		if time.Now().After(deadline) {
			t.Fatalf("delivery after revocation: %+v", d)
		}
		time.Sleep(10 * time.Millisecond)
		for _, x := range mustDeliveries(t, e, w.ID) {
			if x.EventID == res.EventID {
				d = x
			}
		}
	}
	if d.Attempts != 1 {
		t.Fatalf("the refresh took %d attempts, want 1 (the retry is part of the attempt)", d.Attempts)
	}
	atts, _, err := e.store.ListAttempts(ctx, e.ws, w.ID, herald.AttemptFilter{})
	if err != nil {
		t.Fatal(err)
	}
	for _, at := range atts {
		for _, h := range at.RequestHeaders {
			if h.Name == "Authorization" && h.Value != "Bearer ••••" {
				t.Fatalf("stored Authorization header %q", h.Value)
			}
		}
		if strings.Contains(at.ResponseBody, "at-") {
			t.Fatalf("a stored response body holds a token: %s", at.ResponseBody)
		}
	}
}

// A token endpoint that refuses the client makes every attempt fail with
// class auth, saying what the endpoint answered, never the secret; the
// receiver is not called.
func TestOAuth2TokenFailureIsAnAuthError(t *testing.T) {
	var logs logBuffer
	e := setup(t, envOpts{log: logs.logger(), cfg: Config{Schedule: []time.Duration{time.Hour}}})
	const secret = "wr0ng-secret-0123456789"
	ts := newTokenServer(t, "herald-client", "right-secret", 60)
	ts.refuse = true
	rc, _ := protected(t, ts)
	a, err := e.svc.CreateAuthorization(ctx, e.ws, herald.AuthorizationSpec{Endpoint: rc.URL, Type: herald.AuthOAuth2,
		OAuth2: &herald.OAuth2Auth{TokenURL: ts.URL + "/token", ClientID: "herald-client", ClientSecret: secret}})
	if err != nil {
		t.Fatal(err)
	}
	w := e.webhook(herald.WebhookSpec{AuthorizationEnabled: true, AuthorizationID: a.ID, EndpointURL: rc.URL + "/in"})
	e.sendMany(50)
	var atts []*herald.Attempt
	deadline := time.Now().Add(10 * time.Second)
	for len(atts) < 50 {
		if time.Now().After(deadline) {
			t.Fatalf("%d attempts of 50", len(atts))
		}
		time.Sleep(20 * time.Millisecond)
		atts, _, err = e.store.ListAttempts(ctx, e.ws, w.ID, herald.AttemptFilter{Limit: 100})
		if err != nil {
			t.Fatal(err)
		}
	}
	// 50 deliveries at once against a refusing endpoint: the one failure
	// answers for all that waited (no stampede of doomed fetches).
	if n := ts.fetches.Load(); n > 2 {
		t.Fatalf("%d token fetches for 50 concurrent deliveries to a refusing token endpoint", n)
	}
	at := atts[0]
	if at.ErrorClass != herald.ErrClassAuth || !strings.Contains(at.Error, "answered 401") || !strings.Contains(at.Error, "invalid_client") {
		t.Fatalf("attempt: class %q, error %q; want auth with the endpoint's status and error", at.ErrorClass, at.Error)
	}
	js, _ := json.Marshal(at)
	if strings.Contains(string(js), secret) || strings.Contains(logs.String(), secret) {
		t.Fatalf("the client secret shows in the attempt or the log: %s", js)
	}
	if !strings.Contains(at.Error, "••••") {
		t.Fatalf("the echoed secret should be redacted in the error: %q", at.Error)
	}
	if rc.count() != 0 {
		t.Fatalf("the receiver got %d requests without a token", rc.count())
	}
}

// testPKI is a CA with a server certificate for 127.0.0.1 and a client
// certificate, made with crypto/x509.
type testPKI struct {
	pool                  *x509.CertPool
	server                tls.Certificate
	clientCert, clientKey string
}

func newPKI(t *testing.T, clientNotAfter time.Time) *testPKI {
	t.Helper()
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	ca := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "herald test CA"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(365 * 24 * time.Hour)}
	caDER, err := x509.CreateCertificate(rand.Reader, ca, ca, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ = x509.ParseCertificate(caDER)
	issue := func(tmpl *x509.Certificate) (string, string) {
		key, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		kd, _ := x509.MarshalPKCS8PrivateKey(key)
		return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})), string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}))
	}
	p := &testPKI{pool: x509.NewCertPool()}
	p.pool.AddCert(ca)
	sc, sk := issue(&x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "127.0.0.1"}, IPAddresses: []net.IP{net.ParseIP("127.0.0.1")},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}, NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(90 * 24 * time.Hour)})
	if p.server, err = tls.X509KeyPair([]byte(sc), []byte(sk)); err != nil {
		t.Fatal(err)
	}
	p.clientCert, p.clientKey = issue(&x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: "herald"},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}, NotBefore: time.Now().Add(-time.Hour), NotAfter: clientNotAfter})
	return p
}

// A TLS receiver that requires a client certificate from the test CA
// accepts herald's and refuses a webhook without one; a certificate that
// expires within 30 days is logged and raises an alert event.
func TestClientCertificate(t *testing.T) {
	pki := newPKI(t, time.Now().Add(20*24*time.Hour))
	var logs logBuffer
	e := setup(t, envOpts{log: logs.logger(), cfg: Config{Schedule: []time.Duration{time.Hour}},
		transport: func(tr *http.Transport) { tr.TLSClientConfig = &tls.Config{RootCAs: pki.pool} }})
	var mu sync.Mutex
	var peers []string
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		peers = append(peers, r.TLS.PeerCertificates[0].Subject.CommonName)
		mu.Unlock()
		w.WriteHeader(http.StatusNoContent)
	}))
	srv.TLS = &tls.Config{Certificates: []tls.Certificate{pki.server}, ClientAuth: tls.RequireAndVerifyClientCert, ClientCAs: pki.pool}
	srv.StartTLS()
	t.Cleanup(srv.Close)
	alertHook := e.webhook(herald.WebhookSpec{Event: "herald.authorization.certificate_expiring", EndpointURL: srv.URL + "/alerts", Name: "alerts",
		Payload: `{"name": "{{ authorization.name }}", "days": {{ days_left }}}`})
	with, err := e.svc.CreateAuthorization(ctx, e.ws, herald.AuthorizationSpec{Name: "mtls", Endpoint: srv.URL + "/mtls", Type: herald.AuthBearer,
		Bearer: &herald.BearerAuth{Token: "tok-abc"}, TLSClient: &herald.TLSClientAuth{CertificatePEM: pki.clientCert, PrivateKeyPEM: pki.clientKey}})
	if err != nil {
		t.Fatal(err)
	}
	w1 := e.webhook(herald.WebhookSpec{AuthorizationEnabled: true, AuthorizationID: with.ID, EndpointURL: srv.URL + "/mtls/in", Name: "with"})
	w2 := e.webhook(herald.WebhookSpec{EndpointURL: srv.URL + "/plain", Name: "without"})
	e.send("member.verified", memberData)
	e.waitDelivery(w1.ID, herald.DeliverySucceeded, 10*time.Second)
	e.waitAttempted(w2.ID)
	atts, _, _ := e.store.ListAttempts(ctx, e.ws, w2.ID, herald.AttemptFilter{})
	if len(atts) != 1 || atts[0].Outcome != herald.OutcomeFailure || atts[0].ErrorClass != herald.ErrClassTLS {
		t.Fatalf("without a certificate: %+v, want a tls failure", atts)
	}
	mu.Lock()
	if len(peers) == 0 || peers[0] != "herald" {
		t.Fatalf("the server saw client certificates %v", peers)
	}
	mu.Unlock()
	if !strings.Contains(logs.String(), "client certificate expires soon") {
		t.Fatalf("no warning logged for a certificate expiring in 20 days:\n%s", logs.String())
	}
	// The alert event is delivered to the webhook that subscribes to it,
	// which itself needs no client certificate — the server requires one,
	// so its delivery fails with tls; what counts is that it was raised.
	e.waitAttempted(alertHook.ID)
}

// A query-key authorization: the key reaches the receiver, and nothing
// stored (attempts as read, the database file and its WAL), logged, or
// answered by a test send holds it in clear.
func TestQueryKeyIsNeverStored(t *testing.T) {
	const key = "qk_live/0123+4567&89"
	path := filepath.Join(t.TempDir(), "herald.db")
	s, err := sqlite.Open(ctx, path, storetest.TestCipher(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	var logs logBuffer
	e := setup(t, envOpts{store: s, log: logs.logger(), cfg: Config{Schedule: []time.Duration{time.Hour}}})
	rc := newReceiver(t, echo)
	a, err := e.svc.CreateAuthorization(ctx, e.ws, herald.AuthorizationSpec{Endpoint: rc.URL, Type: herald.AuthQuery,
		Query: &herald.QueryAuth{Key: "api_key", Value: key, Visibility: herald.Secret}})
	if err != nil {
		t.Fatal(err)
	}
	w := e.webhook(herald.WebhookSpec{AuthorizationEnabled: true, AuthorizationID: a.ID, EndpointURL: rc.URL + "/in?list={{ member.id }}"})
	e.send("member.verified", memberData)
	got := rc.next(t, 5*time.Second)
	q, _ := url.ParseQuery(got.query)
	if q.Get("api_key") != key || q.Get("list") == "" {
		t.Fatalf("the receiver got query %q, want api_key and list", got.query)
	}
	e.waitAttempted(w.ID)
	test, err := e.engine.SendTest(ctx, e.ws, w.ID)
	if err != nil {
		t.Fatal(err)
	}
	atts, _, err := e.store.ListAttempts(ctx, e.ws, w.ID, herald.AttemptFilter{})
	if err != nil || len(atts) < 2 {
		t.Fatalf("attempts: %d, %v", len(atts), err)
	}
	if !strings.Contains(atts[0].RequestURL, "api_key=••••") && !strings.Contains(atts[0].RequestURL, "api_key="+url.QueryEscape("••••")) {
		t.Fatalf("stored URL %q: want the key shown as ••••", atts[0].RequestURL)
	}
	js, _ := json.Marshal(append(atts, test))
	time.Sleep(100 * time.Millisecond)
	var db []byte
	for _, f := range []string{path, path + "-wal"} {
		b, _ := os.ReadFile(f)
		db = append(db, b...)
	}
	for _, form := range []string{key, url.QueryEscape(key), jsonASCII(key)} {
		if strings.Contains(string(js), form) {
			t.Errorf("an attempt or the test send holds %q", form)
		}
		if strings.Contains(string(db), form) {
			t.Errorf("the database file holds %q", form)
		}
		if strings.Contains(logs.String(), form) {
			t.Errorf("the log holds %q", form)
		}
	}
	if !strings.Contains(atts[0].ResponseBody, "••••") {
		t.Fatalf("the echo should be stored redacted: %s", atts[0].ResponseBody)
	}
}

func mustDeliveries(t *testing.T, e *env, hookID string) []*herald.Delivery {
	t.Helper()
	list, _, err := e.store.ListDeliveries(ctx, e.ws, hookID, herald.DeliveryFilter{})
	if err != nil {
		t.Fatal(err)
	}
	return list
}

// The token endpoint goes through the SSRF guard like any delivery: one
// on a refused address (loopback, with the guard closed) is not asked,
// and the attempt fails with class auth saying why.
func TestOAuth2TokenEndpointIsGuarded(t *testing.T) {
	e := setup(t, envOpts{noAllow: true, cfg: Config{Schedule: []time.Duration{time.Hour}}})
	ts := newTokenServer(t, "herald-client", "secret-secret-secret", 60)
	a, err := e.svc.CreateAuthorization(ctx, e.ws, herald.AuthorizationSpec{Endpoint: "https://api.example.com", Type: herald.AuthOAuth2,
		OAuth2: &herald.OAuth2Auth{TokenURL: ts.URL + "/token", ClientID: ts.clientID, ClientSecret: ts.secret}})
	if err != nil {
		t.Fatal(err)
	}
	w := e.webhook(herald.WebhookSpec{AuthorizationEnabled: true, AuthorizationID: a.ID, EndpointURL: "https://api.example.com/in"})
	e.send("member.verified", memberData)
	e.waitAttempted(w.ID)
	atts, _, _ := e.store.ListAttempts(ctx, e.ws, w.ID, herald.AttemptFilter{})
	if len(atts) != 1 || atts[0].ErrorClass != herald.ErrClassAuth || !strings.Contains(atts[0].Error, "blocked by the SSRF guard") {
		t.Fatalf("attempts: %+v, want one auth failure naming the SSRF guard", atts)
	}
	if n := ts.fetches.Load(); n != 0 {
		t.Fatalf("the guarded token endpoint was asked %d times", n)
	}
}

// A custom header that replaces one herald sets (a vendor's JSON:API
// Content-Type) is sent, and logged once, as sent.
func TestCustomContentTypeIsLoggedOnce(t *testing.T) {
	e := setup(t, envOpts{})
	rc := newReceiver(t, nil)
	w := e.webhook(herald.WebhookSpec{EndpointURL: rc.URL + "/in", CustomHeaders: []herald.Header{{Name: "Content-Type", Value: "application/vnd.api+json"}}, LogOnlyErrors: false})
	e.send("member.verified", memberData)
	got := rc.next(t, 5*time.Second)
	if ct := got.header.Values("Content-Type"); len(ct) != 1 || ct[0] != "application/vnd.api+json" {
		t.Fatalf("the receiver got Content-Type %v", ct)
	}
	e.waitAttempted(w.ID)
	atts, _, _ := e.store.ListAttempts(ctx, e.ws, w.ID, herald.AttemptFilter{})
	n := 0
	for _, h := range atts[0].RequestHeaders {
		if strings.EqualFold(h.Name, "Content-Type") {
			n++
			if h.Value != "application/vnd.api+json" {
				t.Fatalf("logged Content-Type %q", h.Value)
			}
		}
	}
	if n != 1 {
		t.Fatalf("Content-Type logged %d times", n)
	}
}
