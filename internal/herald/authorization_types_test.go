package herald

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"strings"
	"testing"
	"time"
)

// selfSigned returns a PEM certificate and key valid until notAfter.
func selfSigned(t *testing.T, notAfter time.Time) (certPEM, keyPEM string) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "herald client"},
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

func TestAuthorizationTypesValidate(t *testing.T) {
	cert, key := selfSigned(t, time.Now().Add(90*24*time.Hour))
	oldCert, oldKey := selfSigned(t, time.Now().Add(-time.Hour))
	otherCert, _ := selfSigned(t, time.Now().Add(90*24*time.Hour))
	ep := "https://api.example.com"
	cases := []struct {
		name  string
		spec  AuthorizationSpec
		field string // "" = valid
	}{
		{"bearer", AuthorizationSpec{Endpoint: ep, Type: AuthBearer, Bearer: &BearerAuth{Token: "tok_123"}}, ""},
		{"bearer missing", AuthorizationSpec{Endpoint: ep, Type: AuthBearer}, "bearer"},
		{"bearer empty", AuthorizationSpec{Endpoint: ep, Type: AuthBearer, Bearer: &BearerAuth{}}, "bearer.token"},
		{"bearer with prefix", AuthorizationSpec{Endpoint: ep, Type: AuthBearer, Bearer: &BearerAuth{Token: "Bearer abc"}}, "bearer.token"},
		{"query", AuthorizationSpec{Endpoint: ep, Type: AuthQuery, Query: &QueryAuth{Key: "api_key", Value: "s3cret"}}, ""},
		{"query bad key", AuthorizationSpec{Endpoint: ep, Type: AuthQuery, Query: &QueryAuth{Key: "a=b", Value: "v"}}, "query.key"},
		{"query no value", AuthorizationSpec{Endpoint: ep, Type: AuthQuery, Query: &QueryAuth{Key: "k"}}, "query.value"},
		{"query visibility", AuthorizationSpec{Endpoint: ep, Type: AuthQuery, Query: &QueryAuth{Key: "k", Value: "v", Visibility: "HIDDEN"}}, "query.visibility"},
		{"oauth2", AuthorizationSpec{Endpoint: ep, Type: AuthOAuth2, OAuth2: &OAuth2Auth{TokenURL: "https://auth.example.com/token", ClientID: "id", ClientSecret: "sec", Scope: " a  b "}}, ""},
		{"oauth2 token url", AuthorizationSpec{Endpoint: ep, Type: AuthOAuth2, OAuth2: &OAuth2Auth{TokenURL: "ftp://x", ClientID: "id", ClientSecret: "sec"}}, "oauth2.token_url"},
		{"oauth2 template url", AuthorizationSpec{Endpoint: ep, Type: AuthOAuth2, OAuth2: &OAuth2Auth{TokenURL: "https://x.example.com/{{ a }}", ClientID: "id", ClientSecret: "sec"}}, "oauth2.token_url"},
		{"oauth2 no id", AuthorizationSpec{Endpoint: ep, Type: AuthOAuth2, OAuth2: &OAuth2Auth{TokenURL: "https://x.example.com/t", ClientSecret: "sec"}}, "oauth2.client_id"},
		{"oauth2 no secret", AuthorizationSpec{Endpoint: ep, Type: AuthOAuth2, OAuth2: &OAuth2Auth{TokenURL: "https://x.example.com/t", ClientID: "id"}}, "oauth2.client_secret"},
		{"oauth2 client auth", AuthorizationSpec{Endpoint: ep, Type: AuthOAuth2, OAuth2: &OAuth2Auth{TokenURL: "https://x.example.com/t", ClientID: "id", ClientSecret: "s", ClientAuth: "jwt"}}, "oauth2.client_auth"},
		{"tls client", AuthorizationSpec{Endpoint: ep, Type: AuthBearer, Bearer: &BearerAuth{Token: "t"}, TLSClient: &TLSClientAuth{CertificatePEM: cert, PrivateKeyPEM: key}}, ""},
		{"tls client no key", AuthorizationSpec{Endpoint: ep, Type: AuthBearer, Bearer: &BearerAuth{Token: "t"}, TLSClient: &TLSClientAuth{CertificatePEM: cert}}, "tls_client.private_key_pem"},
		{"tls client wrong key", AuthorizationSpec{Endpoint: ep, Type: AuthBearer, Bearer: &BearerAuth{Token: "t"}, TLSClient: &TLSClientAuth{CertificatePEM: otherCert, PrivateKeyPEM: key}}, "tls_client.private_key_pem"},
		{"tls client garbage", AuthorizationSpec{Endpoint: ep, Type: AuthBearer, Bearer: &BearerAuth{Token: "t"}, TLSClient: &TLSClientAuth{CertificatePEM: "hello", PrivateKeyPEM: key}}, "tls_client.certificate_pem"},
		{"tls client expired", AuthorizationSpec{Endpoint: ep, Type: AuthBearer, Bearer: &BearerAuth{Token: "t"}, TLSClient: &TLSClientAuth{CertificatePEM: oldCert, PrivateKeyPEM: oldKey}}, "tls_client.certificate_pem"},
		{"unknown type", AuthorizationSpec{Endpoint: ep, Type: "digest"}, "type"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			spec := c.spec
			spec.Normalize()
			err := spec.Validate()
			if c.field == "" {
				if err != nil {
					t.Fatalf("Validate = %v, want valid", err)
				}
				return
			}
			e, ok := err.(*Error)
			if !ok {
				t.Fatalf("Validate = %v, want a field error on %s", err, c.field)
			}
			var fields []string
			for _, f := range e.Fields {
				fields = append(fields, f.Field)
			}
			if !strings.Contains(","+strings.Join(fields, ",")+",", ","+c.field+",") {
				t.Fatalf("errors on %v, want one on %s", fields, c.field)
			}
		})
	}
}

func TestNormalizeKeepsOnlyTheTypesCredential(t *testing.T) {
	s := AuthorizationSpec{Endpoint: "https://x.example.com", Type: AuthQuery, Query: &QueryAuth{Key: "k", Value: "v"},
		Bearer: &BearerAuth{Token: "t"}, Header: &HeaderAuth{Key: "X", Value: "v"}, OAuth2: &OAuth2Auth{ClientID: "c"}}
	s.Normalize()
	if s.Bearer != nil || s.Header != nil || s.OAuth2 != nil || s.Query == nil || s.Query.Visibility != Secret {
		t.Fatalf("after Normalize: %+v", s)
	}
	o := AuthorizationSpec{Type: AuthOAuth2, OAuth2: &OAuth2Auth{Scope: "  a   b ", ClientAuth: ""}, TLSClient: &TLSClientAuth{}}
	o.Normalize()
	if o.OAuth2.Scope != "a b" || o.OAuth2.ClientAuth != ClientAuthBasic || o.TLSClient != nil {
		t.Fatalf("after Normalize: %+v %+v", o.OAuth2, o.TLSClient)
	}
}
