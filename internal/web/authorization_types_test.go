package web_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/herald"
	"github.com/heraldhq/herald/internal/storetest"
)

// The Add-new form offers every type and the client certificate; each
// new type saves through the service with its secret write-only, errors
// show next to their fields, and a certificate's expiry is shown and
// warned about.
func TestAuthorizationFormNewTypes(t *testing.T) {
	t.Parallel()
	e := signedIn(t)
	res, body := e.get("/authorizations/new")
	e.status(res, http.StatusOK)
	for _, name := range []string{"bearer.token", "query.key", "query.value", "query.visibility", "oauth2.token_url", "oauth2.client_id",
		"oauth2.client_secret", "oauth2.scope", "oauth2.audience", "oauth2.client_auth", "tls_client.certificate_pem", "tls_client.private_key_pem"} {
		contains(t, body, `name="`+name+`"`)
	}
	contains(t, body, `value="oauth2_client_credentials"`, `value="bearer"`, `value="query"`, "Client certificate")

	// OAuth2: the errors of a half-filled form, each next to its field.
	f := url.Values{"endpoint": {"https://api.example.com"}, "type": {"oauth2_client_credentials"}, "oauth2.token_url": {"ftp://auth.example.com"},
		"oauth2.client_id": {"cid-typed"}, "oauth2.scope": {"a b"}}
	res, body = e.post("/authorizations", f)
	e.status(res, http.StatusUnprocessableEntity)
	fieldError(t, body, "oauth2.token_url", "http")
	fieldError(t, body, "oauth2.client_secret", "is required")
	contains(t, body, `value="cid-typed"`, `value="a b"`)

	const csecret = "oauth-client-secret-000111"
	f.Set("oauth2.token_url", "https://auth.example.com/oauth2/token")
	f.Set("oauth2.client_secret", csecret)
	f.Set("oauth2.client_auth", "body")
	res, _ = e.post("/authorizations", f)
	e.status(res, http.StatusSeeOther)
	_, body = e.get("/authorizations")
	contains(t, body, "OAuth 2.0 client credentials", "cid-typed", "https://auth.example.com/oauth2/token")
	lacks(t, body, csecret)
	list, _, _ := e.store.ListAuthorizations(context.Background(), e.ws, herald.AuthorizationFilter{Type: herald.AuthOAuth2})
	if len(list) != 1 || list[0].OAuth2.ClientSecret != csecret || list[0].OAuth2.ClientAuth != "body" || list[0].OAuth2.Scope != "a b" {
		t.Fatalf("stored: %+v", list)
	}
	oid := list[0].ID
	_, body = e.get("/authorizations/" + oid + "/edit")
	contains(t, body, "••••0111 — leave blank to keep", `value="cid-typed"`)
	lacks(t, body, csecret)
	// Saving with the secret left blank keeps it.
	f.Set("oauth2.client_secret", "")
	f.Set("oauth2.client_id", "cid-2")
	res, _ = e.post("/authorizations/"+oid, f)
	e.status(res, http.StatusSeeOther)
	if a, _ := e.store.Authorization(context.Background(), e.ws, oid); a.OAuth2.ClientSecret != csecret || a.OAuth2.ClientID != "cid-2" {
		t.Fatalf("after edit: %+v", a.OAuth2)
	}

	// Bearer, with a client certificate that expires in 10 days.
	cert, key := storetest.SelfSignedClientCert(t, time.Now().Add(10*24*time.Hour))
	const token = "bearer-token-value-4242"
	b := url.Values{"endpoint": {"https://api.example.com"}, "type": {"bearer"}, "bearer.token": {token},
		"tls_client.certificate_pem": {cert}, "tls_client.private_key_pem": {"not a key"}}
	res, body = e.post("/authorizations", b)
	e.status(res, http.StatusUnprocessableEntity)
	fieldError(t, body, "tls_client.private_key_pem", "does not go with the certificate")
	lacks(t, body, token)
	b.Set("tls_client.private_key_pem", key)
	res, _ = e.post("/authorizations", b)
	e.status(res, http.StatusSeeOther)
	_, body = e.get("/authorizations")
	contains(t, body, "Bearer token", "Token · set", "Certificate until", "badge-warn")
	lacks(t, body, token, "PRIVATE KEY")
	list, _, _ = e.store.ListAuthorizations(context.Background(), e.ws, herald.AuthorizationFilter{Type: herald.AuthBearer})
	if len(list) != 1 || list[0].TLSClient == nil {
		t.Fatalf("stored: %+v", list)
	}
	bid := list[0].ID
	_, body = e.get("/authorizations/" + bid + "/edit")
	contains(t, body, "CN=herald test client", "Expires within 30 days", "A key is set", "BEGIN CERTIFICATE")
	lacks(t, body, "PRIVATE KEY-----\n", token)
	// Saving without retyping the key or token keeps both; clearing the
	// certificate removes it.
	b.Set("bearer.token", "")
	b.Set("tls_client.private_key_pem", "")
	res, _ = e.post("/authorizations/"+bid, b)
	e.status(res, http.StatusSeeOther)
	a, _ := e.store.Authorization(context.Background(), e.ws, bid)
	if a.Bearer.Token != token || a.TLSClient == nil || a.TLSClient.PrivateKeyPEM != strings.TrimSpace(key) {
		t.Fatalf("after edit: %+v %+v", a.Bearer, a.TLSClient)
	}
	b.Set("tls_client.certificate_pem", "")
	res, _ = e.post("/authorizations/"+bid, b)
	e.status(res, http.StatusSeeOther)
	if a, _ := e.store.Authorization(context.Background(), e.ws, bid); a.TLSClient != nil {
		t.Fatal("clearing the certificate did not remove it")
	}

	// Query: the key is never shown, in the list, the form or a preview.
	const qkey = "query-secret-value-7777"
	res, _ = e.post("/authorizations", url.Values{"endpoint": {"https://api.crm.example.com"}, "type": {"query"}, "query.key": {"api_key"},
		"query.value": {qkey}, "query.visibility": {"SECRET"}})
	e.status(res, http.StatusSeeOther)
	list, _, _ = e.store.ListAuthorizations(context.Background(), e.ws, herald.AuthorizationFilter{Type: herald.AuthQuery})
	if len(list) != 1 || list[0].Query.Value != qkey {
		t.Fatalf("stored: %+v", list)
	}
	_, body = e.get("/authorizations")
	contains(t, body, "Query parameter", "?api_key=", "••••7777")
	lacks(t, body, qkey)
	e.get("/webhooks/new")
	wf := fullWebhookForm(list[0].ID)
	wf.Set("action", "preview")
	res, body = e.post("/webhooks", wf)
	e.status(res, http.StatusOK)
	contains(t, body, "api_key=••••")
	lacks(t, body, qkey)
}
