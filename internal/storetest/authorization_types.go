package storetest

import (
	"bytes"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"database/sql"
	"encoding/pem"
	"math/big"
	"reflect"
	"testing"
	"time"

	"github.com/heraldhq/herald/internal/herald"
)

// SelfSignedClientCert returns a PEM client certificate and its PKCS #8
// key, valid until notAfter.
func SelfSignedClientCert(t testing.TB, notAfter time.Time) (certPEM, keyPEM string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: "herald test client"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: notAfter, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kd, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})),
		string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kd}))
}

// testAuthorizationTypes stores one authorization of every type (one with
// a client certificate), reads each back unchanged, switches a type on
// update, and reads the raw rows: no secret or private key in clear.
func testAuthorizationTypes(t *testing.T, s herald.Store) {
	ws := workspace(t, s, "default")
	cert, key := SelfSignedClientCert(t, time.Now().Add(60*24*time.Hour))
	mk := func(spec herald.AuthorizationSpec) *herald.Authorization {
		spec.Name, spec.Endpoint = string(spec.Type), "https://api.example.com"
		return &herald.Authorization{ID: herald.NewID(), WorkspaceID: ws, CreatedAt: now(), UpdatedAt: now(), AuthorizationSpec: spec}
	}
	all := []*herald.Authorization{
		mk(herald.AuthorizationSpec{Type: herald.AuthBearer, Bearer: &herald.BearerAuth{Token: "bearer-token-0123456789"}}),
		mk(herald.AuthorizationSpec{Type: herald.AuthQuery, Query: &herald.QueryAuth{Key: "api_key", Value: "query-value-0123456789", Visibility: herald.Secret}}),
		mk(herald.AuthorizationSpec{Type: herald.AuthOAuth2, OAuth2: &herald.OAuth2Auth{TokenURL: "https://auth.example.com/token", ClientID: "client-1",
			ClientSecret: "client-secret-0123456789", Scope: "a b", Audience: "https://api.example.com", ClientAuth: herald.ClientAuthBody}}),
		mk(herald.AuthorizationSpec{Type: herald.AuthHeader, Header: &herald.HeaderAuth{Key: "X-Key", Value: "header-value-0123456789", Visibility: herald.Secret},
			TLSClient: &herald.TLSClientAuth{CertificatePEM: cert, PrivateKeyPEM: key}}),
	}
	for _, a := range all {
		if err := s.CreateAuthorization(ctx, a); err != nil {
			t.Fatalf("create %s: %v", a.Type, err)
		}
		got, err := s.Authorization(ctx, ws, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(got.AuthorizationSpec, a.AuthorizationSpec) {
			t.Fatalf("%s read back as %+v, want %+v", a.Type, got.AuthorizationSpec, a.AuthorizationSpec)
		}
	}
	// A type switch on update replaces the columns of the old type.
	q := all[1]
	q.Type, q.Query, q.Bearer = herald.AuthBearer, nil, &herald.BearerAuth{Token: "switched-token-0123456789"}
	q.TLSClient = &herald.TLSClientAuth{CertificatePEM: cert, PrivateKeyPEM: key}
	if err := s.UpdateAuthorization(ctx, q); err != nil {
		t.Fatal(err)
	}
	if got, err := s.Authorization(ctx, ws, q.ID); err != nil || !reflect.DeepEqual(got.AuthorizationSpec, q.AuthorizationSpec) {
		t.Fatalf("after a type switch: %+v, %v", got, err)
	}
	list, _, err := s.ListAuthorizations(ctx, ws, herald.AuthorizationFilter{Type: herald.AuthOAuth2})
	if err != nil || len(list) != 1 || list[0].ID != all[2].ID {
		t.Fatalf("type filter oauth2: %v, %v", list, err)
	}
	raw, ok := s.(interface{ DB() *sql.DB })
	if !ok {
		return
	}
	rows, err := raw.DB().QueryContext(ctx, `SELECT secret, tls_private_key FROM authorizations`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	plain := []string{"bearer-token-0123456789", "query-value-0123456789", "client-secret-0123456789", "header-value-0123456789", "switched-token-0123456789",
		key[40:80], "PRIVATE KEY"}
	for rows.Next() {
		var secret, tlsKey []byte
		if err := rows.Scan(&secret, &tlsKey); err != nil {
			t.Fatal(err)
		}
		for _, p := range plain {
			if bytes.Contains(secret, []byte(p)) || bytes.Contains(tlsKey, []byte(p)) {
				t.Fatalf("a stored secret holds the plaintext %q", p)
			}
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
}
