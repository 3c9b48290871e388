package api

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/storetest"
)

// TestAuthorizationTypesInTheAPI creates one authorization of each new
// type through the real handlers: every secret comes back masked (and
// nowhere in clear in the answer), a PATCH that sends back what GET
// returned keeps the secrets, errors name the field, and tls_client: null
// removes the certificate.
func TestAuthorizationTypesInTheAPI(t *testing.T) {
	e := setup(t, storetest.OpenSQLite(t), Config{})
	cert, key := storetest.SelfSignedClientCert(t, time.Now().Add(10*24*time.Hour))
	const token, qvalue, csecret = "bearer-token-abcdef-0001", "query-value-abcdef-0002", "client-secret-abcdef-0003"
	cases := []struct {
		body    map[string]any
		section string
		masked  string // field of section that must be masked
		secret  string
	}{
		{map[string]any{"endpoint": "https://api.example.com", "type": "bearer", "bearer": map[string]any{"token": token},
			"tls_client": map[string]any{"certificate_pem": cert, "private_key_pem": key}}, "bearer", "token", token},
		{map[string]any{"endpoint": "https://api.example.com", "type": "query", "query": map[string]any{"key": "api_key", "value": qvalue}}, "query", "value", qvalue},
		{map[string]any{"endpoint": "https://api.example.com", "type": "oauth2_client_credentials", "oauth2": map[string]any{
			"token_url": "https://auth.example.com/token", "client_id": "cid", "client_secret": csecret, "scope": "read write", "client_auth": "body"}}, "oauth2", "client_secret", csecret},
	}
	for _, c := range cases {
		res := e.do("POST", "/api/v1/authorizations", c.body).must(t, http.StatusCreated)
		if strings.Contains(string(res.body), c.secret) || strings.Contains(string(res.body), "PRIVATE KEY") {
			t.Fatalf("%s: the answer holds a secret in clear: %s", c.section, res.body)
		}
		got := res.json(t)
		sec := got[c.section].(map[string]any)
		if sec[c.masked] != "••••"+c.secret[len(c.secret)-4:] {
			t.Fatalf("%s.%s = %v, want the mask", c.section, c.masked, sec[c.masked])
		}
		id := got["id"].(string)
		// Sending back what GET returned keeps every secret.
		read := e.do("GET", "/api/v1/authorizations/"+id, nil).must(t, http.StatusOK).json(t)
		e.do("PATCH", "/api/v1/authorizations/"+id, read).must(t, http.StatusOK)
		a, err := e.store.Authorization(t0(), wsID(t, e), id)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(strings.Join(a.Secrets(), "\n"), c.secret) {
			t.Fatalf("%s: secret lost after PATCH with the masked read: %+v", c.section, a.AuthorizationSpec)
		}
		if c.section == "bearer" {
			tc := read["tls_client"].(map[string]any)
			if tc["private_key_set"] != true || tc["expires_soon"] != true || !strings.HasPrefix(tc["private_key_pem"].(string), "••••") || tc["subject"] == "" {
				t.Fatalf("tls_client view = %v", tc)
			}
			if a.TLSClient == nil || a.TLSClient.PrivateKeyPEM != strings.TrimSpace(key) {
				t.Fatal("the private key was not kept by the PATCH")
			}
			e.do("PATCH", "/api/v1/authorizations/"+id, map[string]any{"tls_client": nil}).must(t, http.StatusOK)
			if a, _ := e.store.Authorization(t0(), wsID(t, e), id); a.TLSClient != nil {
				t.Fatal("tls_client: null did not remove the certificate")
			}
			errs := e.do("PATCH", "/api/v1/authorizations/"+id, map[string]any{"tls_client": map[string]any{"certificate_pem": cert}}).
				must(t, http.StatusUnprocessableEntity).fieldErrors(t)
			if errs["tls_client.private_key_pem"] == "" {
				t.Fatalf("a certificate without its key: errors %v", errs)
			}
			errs = e.do("PATCH", "/api/v1/authorizations/"+id, map[string]any{"tls_client": map[string]any{"certificat": cert}}).
				must(t, http.StatusUnprocessableEntity).fieldErrors(t)
			if errs["tls_client.certificat"] == "" {
				t.Fatalf("an unknown field inside tls_client: errors %v", errs)
			}
		}
	}
	errs := e.do("POST", "/api/v1/authorizations", map[string]any{"endpoint": "https://api.example.com", "type": "oauth2_client_credentials",
		"oauth2": map[string]any{"token_url": "ftp://x", "client_auth": "jwt"}}).must(t, http.StatusUnprocessableEntity).fieldErrors(t)
	for _, f := range []string{"oauth2.token_url", "oauth2.client_id", "oauth2.client_secret", "oauth2.client_auth"} {
		if errs[f] == "" {
			t.Errorf("no error on %s: %v", f, errs)
		}
	}
	list := e.do("GET", "/api/v1/authorizations?type=oauth2_client_credentials", nil).must(t, http.StatusOK).json(t)
	if n := len(list["data"].([]any)); n != 1 {
		t.Fatalf("type filter oauth2_client_credentials: %d, want 1", n)
	}
}
