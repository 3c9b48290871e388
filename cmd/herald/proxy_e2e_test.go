package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"io"
	"math/big"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

const (
	proxyAdmin    = "admin@example.com"
	proxyPassword = "correct horse battery"
)

// withAdmin creates the admin in a fresh SQLite database and returns the
// environment that points serve at it.
func withAdmin(t *testing.T) func(string) string {
	t.Helper()
	db := filepath.Join(t.TempDir(), "herald.db")
	vars := env(map[string]string{"HERALD_DB": db})
	if _, stderr, err := runWithStdin(t, vars, proxyPassword+"\n", "user", "create", "--email", proxyAdmin); err != nil {
		t.Fatalf("user create: %v\n%s", err, stderr)
	}
	return vars
}

// reverseProxy is httputil.ReverseProxy on 127.0.0.1 in front of target,
// as nginx or Caddy would be: it appends the peer's address to
// X-Forwarded-For and says X-Forwarded-Proto.
func reverseProxy(t *testing.T, target, proto string) *httptest.Server {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	rp := &httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) {
		pr.SetURL(u)
		pr.Out.Host = pr.In.Host
		pr.SetXForwarded() // X-Forwarded-For: <what the client sent>, <the client's address>
		pr.Out.Header.Set("X-Forwarded-Proto", proto)
	}}
	s := httptest.NewServer(rp)
	t.Cleanup(s.Close)
	return s
}

// browserFrom is a client that connects from the loopback address from
// (127.0.0.2, 127.0.0.3, …: Linux routes all of 127/8 to lo), with its
// own cookies, not following redirects.
func browserFrom(t *testing.T, from string) *http.Client {
	t.Helper()
	probe, err := net.Listen("tcp", from+":0")
	if err != nil {
		t.Skipf("SKIP: cannot use the loopback address %s: %v", from, err)
	}
	probe.Close()
	jar, _ := cookiejar.New(nil)
	d := &net.Dialer{LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}, Timeout: 5 * time.Second}
	return &http.Client{Jar: jar, Timeout: 20 * time.Second,
		Transport:     &http.Transport{DialContext: d.DialContext, TLSClientConfig: &tls.Config{}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
}

var formCSRF = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)

// signIn opens the sign-in page and posts the form; it returns the
// answer's status and its cookies. forged, if set, is an X-Forwarded-For
// the client itself sends (a trusted proxy appends to it).
func signIn(t *testing.T, c *http.Client, base, password, forged string) *http.Response {
	t.Helper()
	res, err := c.Get(base + "/login")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	m := formCSRF.FindSubmatch(body)
	if m == nil {
		t.Fatalf("no CSRF token on the sign-in page (%d)", res.StatusCode)
	}
	form := url.Values{"email": {proxyAdmin}, "password": {password}, "csrf_token": {string(m[1])}}
	req, _ := http.NewRequest("POST", base+"/login", strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	if forged != "" {
		req.Header.Set("X-Forwarded-For", forged)
	}
	res, err = c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(io.Discard, res.Body)
	res.Body.Close()
	return res
}

func sessionCookieOf(res *http.Response) *http.Cookie {
	for _, c := range res.Cookies() {
		if c.Name == "herald_session" && c.Value != "" {
			return c
		}
	}
	return nil
}

// The "Done when": behind a real reverse proxy with
// --trusted-proxies, 50 failed sign-ins from one client address do not
// keep the admin, at another address, from signing in; the address herald
// records is the client's, not the proxy's (and not what the client
// forged); the cookie is Secure with an https --public-url.
func TestSignInBehindTrustedProxy(t *testing.T) {
	t.Parallel()
	vars := withAdmin(t)
	srv := startServe(t, vars, "--trusted-proxies", "127.0.0.1/32", "--public-url", "https://herald.example.com")
	proxy := reverseProxy(t, srv.url, "https")

	attacker := browserFrom(t, "127.0.0.2")
	refused := 0
	for i := 0; i < 50; i++ {
		// The attacker also forges X-Forwarded-For; only the hop the
		// proxy appended counts.
		res := signIn(t, attacker, proxy.URL, "wrong password", "127.0.0.9")
		switch res.StatusCode {
		case http.StatusUnauthorized:
		case http.StatusTooManyRequests:
			refused++
		default:
			t.Fatalf("failure %d: status %d", i+1, res.StatusCode)
		}
	}
	if refused < 40 {
		t.Fatalf("only %d of 50 guesses from one address were refused", refused)
	}
	// The attacker's address is refused even with the right password.
	if res := signIn(t, attacker, proxy.URL, proxyPassword, ""); res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("the guessing address signed in: %d", res.StatusCode)
	}
	admin := browserFrom(t, "127.0.0.3")
	res := signIn(t, admin, proxy.URL, proxyPassword, "")
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("the admin from another address: status %d, want 303", res.StatusCode)
	}
	c := sessionCookieOf(res)
	if c == nil || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode {
		t.Fatalf("session cookie %+v: want Secure (https --public-url), HttpOnly, SameSite=Lax", c)
	}
	// The client's address, as the proxy saw it, is what the session list shows.
	res, err := admin.Get(proxy.URL + "/account")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), "<code>127.0.0.3</code>") {
		t.Fatalf("account page (%d) does not name 127.0.0.3:\n%s", res.StatusCode, body)
	}
	// The log names the guessing client, never the proxy or the forged hop.
	logs := srv.logs.String()
	if !strings.Contains(logs, "client=127.0.0.2") || strings.Contains(logs, "client=127.0.0.9") {
		t.Fatalf("log lines do not name the real client:\n%s", logs)
	}
}

// Without --trusted-proxies, X-Forwarded-For is ignored: behind the same
// proxy every client is the proxy's address, so guesses "from" one
// client count against all (which is why the flag exists), and a forged
// header changes nothing. Over plain http without a public URL, the
// cookie is not Secure, whatever X-Forwarded-Proto says.
func TestForwardedHeadersIgnoredWithoutTrustedProxies(t *testing.T) {
	t.Parallel()
	vars := withAdmin(t)
	srv := startServe(t, vars)
	proxy := reverseProxy(t, srv.url, "https")
	attacker := browserFrom(t, "127.0.0.2")
	for i := 0; i < 5; i++ {
		if res := signIn(t, attacker, proxy.URL, "wrong password", ""); res.StatusCode != http.StatusUnauthorized {
			t.Fatalf("failure %d: %d", i+1, res.StatusCode)
		}
	}
	other := browserFrom(t, "127.0.0.3")
	if res := signIn(t, other, proxy.URL, proxyPassword, "127.0.0.77"); res.StatusCode != http.StatusTooManyRequests {
		t.Fatalf("untrusted X-Forwarded-For was believed: %d", res.StatusCode)
	}
	// Directly (not through the proxy), and with the header forged, the
	// client is its own address: signed in, cookie not Secure.
	direct := browserFrom(t, "127.0.0.4")
	res := signIn(t, direct, srv.url, proxyPassword, "127.0.0.2")
	if res.StatusCode != http.StatusSeeOther {
		t.Fatalf("direct sign-in: %d", res.StatusCode)
	}
	if c := sessionCookieOf(res); c == nil || c.Secure {
		t.Fatalf("cookie %+v over plain http", c)
	}
}

// With trusted proxies and no public URL, X-Forwarded-Proto: https from
// the proxy makes the cookie Secure.
func TestForwardedProtoFromTrustedProxyMakesCookieSecure(t *testing.T) {
	t.Parallel()
	vars := withAdmin(t)
	srv := startServe(t, vars, "--trusted-proxies", "127.0.0.1")
	for _, proto := range []string{"https", "http"} {
		proxy := reverseProxy(t, srv.url, proto)
		res := signIn(t, browserFrom(t, "127.0.0.5"), proxy.URL, proxyPassword, "")
		c := sessionCookieOf(res)
		if res.StatusCode != http.StatusSeeOther || c == nil || c.Secure != (proto == "https") {
			t.Fatalf("X-Forwarded-Proto %s: status %d, cookie %+v", proto, res.StatusCode, c)
		}
	}
}

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns
// the files and a pool that trusts the certificate.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()),
		Subject:      pkix.Name{CommonName: "herald test"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		IPAddresses:  []net.IP{net.ParseIP("127.0.0.1")},
		DNSNames:     []string{"localhost"},
		IsCA:         true, BasicConstraintsValid: true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	kder, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: kder}), 0o600); err != nil {
		t.Fatal(err)
	}
	cert, _ := x509.ParseCertificate(der)
	pool = x509.NewCertPool()
	pool.AddCert(cert)
	return certFile, keyFile, pool
}

// serve --tls-cert/--tls-key speaks HTTPS (HTTP/2 offered) to a real TLS
// client that trusts the test certificate; the API and the UI answer, and
// the session cookie is Secure. Plain HTTP to the port is refused.
func TestServeTLS(t *testing.T) {
	t.Parallel()
	vars := withAdmin(t)
	cert, key, pool := selfSigned(t)
	srv := startServe(t, vars, "--tls-cert", cert, "--tls-key", key)
	if !strings.HasPrefix(srv.url, "https://127.0.0.1:") {
		t.Fatalf("serve says it listens on %s", srv.url)
	}
	c := browserFrom(t, "127.0.0.1")
	c.Transport.(*http.Transport).TLSClientConfig = &tls.Config{RootCAs: pool}
	c.Transport.(*http.Transport).ForceAttemptHTTP2 = true
	res, err := c.Get(srv.url + "/healthz")
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.TLS == nil || res.ProtoMajor != 2 {
		t.Fatalf("GET /healthz over TLS: %d, %s, TLS %v", res.StatusCode, res.Proto, res.TLS != nil)
	}
	res = signIn(t, c, srv.url, proxyPassword, "")
	if ck := sessionCookieOf(res); res.StatusCode != http.StatusSeeOther || ck == nil || !ck.Secure {
		t.Fatalf("sign-in over TLS: %d, cookie %+v", res.StatusCode, ck)
	}
	// An untrusting client refuses the certificate: it really is TLS.
	strict := &http.Client{Timeout: 5 * time.Second}
	if _, err := strict.Get(srv.url + "/healthz"); err == nil || !strings.Contains(err.Error(), "certificate") {
		t.Fatalf("a client without the test CA: %v", err)
	}
	plain := strings.Replace(srv.url, "https://", "http://", 1)
	if res, err := http.Get(plain + "/healthz"); err == nil {
		res.Body.Close()
		if res.StatusCode != http.StatusBadRequest {
			t.Fatalf("plain HTTP to the TLS port: %d", res.StatusCode)
		}
	}
}

// The new flags are checked before anything starts, each with a clear
// message; the environment variables work as for every flag.
func TestFrontDoorFlags(t *testing.T) {
	t.Parallel()
	cert, key, _ := selfSigned(t)
	for _, c := range []struct {
		args []string
		vars map[string]string
		want string
	}{
		{[]string{"--public-url", "herald.example.com"}, nil, "--public-url: \"herald.example.com\" must start with https://"},
		{[]string{"--public-url", "ftp://herald.example.com"}, nil, "must start with https://"},
		{[]string{"--public-url", "https://herald.example.com/?x=1"}, nil, "must not have a query"},
		{[]string{"--public-url", "https://"}, nil, "has no host name"},
		{[]string{"--public-url", "https://u:p@herald.example.com"}, nil, "user name or password"},
		{nil, map[string]string{"HERALD_PUBLIC_URL": "herald"}, "--public-url"},
		{[]string{"--trusted-proxies", "10.0.0.0/33"}, nil, "--trusted-proxies: \"10.0.0.0/33\" is not a CIDR"},
		{[]string{"--trusted-proxies", "10.0.0.0/8,proxy.local"}, nil, "\"proxy.local\" is neither a CIDR"},
		{nil, map[string]string{"HERALD_TRUSTED_PROXIES": "10.0.0.0/8, nonsense"}, "\"nonsense\""},
		{[]string{"--tls-cert", cert}, nil, "--tls-cert and --tls-key go together"},
		{[]string{"--tls-key", key}, nil, "--tls-cert and --tls-key go together"},
		{[]string{"--tls-cert", key, "--tls-key", key}, nil, "--tls-cert"},
		{[]string{"--tls-cert", cert, "--tls-key", filepath.Join(t.TempDir(), "missing.pem")}, nil, "missing.pem"},
	} {
		vars := map[string]string{"HERALD_DB": filepath.Join(t.TempDir(), "herald.db")}
		for k, v := range c.vars {
			vars[k] = v
		}
		_, _, err := runHerald(t, env(vars), append([]string{"serve", "--addr", "127.0.0.1:0"}, c.args...)...)
		if err == nil || exitCode(err) != 2 || !strings.Contains(err.Error(), c.want) {
			t.Errorf("serve %v %v: %v (exit %d), want a usage error with %q", c.args, c.vars, err, exitCode(err), c.want)
		}
		if _, serr := os.Stat(vars["HERALD_DB"]); serr == nil {
			t.Errorf("serve %v created the database before refusing its flags", c.args)
		}
	}
	// Accepted: repeated and comma-separated proxies, a public URL with a
	// path (its trailing slash dropped) that the first-admin link uses.
	db := filepath.Join(t.TempDir(), "herald.db")
	srv := startServeUI(t, env(map[string]string{"HERALD_DB": db}),
		"--trusted-proxies", "10.0.0.0/8,192.168.0.0/16", "--trusted-proxies", "::1/128", "--public-url", "https://ops.example.com/herald/")
	if !strings.HasPrefix(srv.setupLink, "https://ops.example.com/herald/setup?token=") {
		t.Fatalf("first-admin link %q does not use the public URL", srv.setupLink)
	}
}
