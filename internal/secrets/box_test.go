package secrets

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
)

func TestBoxRoundTripAndTamper(t *testing.T) {
	key := bytes.Repeat([]byte{7}, KeySize)
	box, err := NewBox(key)
	if err != nil {
		t.Fatal(err)
	}
	sealed, err := box.Seal([]byte("s3cr3t-value"))
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, []byte("s3cr3t")) {
		t.Fatal("sealed value contains the plaintext")
	}
	again, _ := box.Seal([]byte("s3cr3t-value"))
	if bytes.Equal(sealed, again) {
		t.Fatal("two seals of one value are equal: nonce reused")
	}
	plain, err := box.Open(sealed)
	if err != nil || string(plain) != "s3cr3t-value" {
		t.Fatalf("Open = %q, %v", plain, err)
	}
	sealed[len(sealed)-1] ^= 1
	if _, err := box.Open(sealed); err != ErrOpen {
		t.Fatalf("tampered Open err = %v, want ErrOpen", err)
	}
	other, _ := NewBox(bytes.Repeat([]byte{8}, KeySize))
	if _, err := other.Open(again); err != ErrOpen {
		t.Fatalf("other key Open err = %v, want ErrOpen", err)
	}
	if _, err := box.Open(nil); err != ErrOpen {
		t.Fatalf("empty Open err = %v", err)
	}
	if _, err := NewBox([]byte("short")); err == nil {
		t.Fatal("short key accepted")
	}
}

func TestLoadOrCreateKeyFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "herald.db.key")
	key, created, err := LoadOrCreateKeyFile(path)
	if err != nil || !created || len(key) != KeySize {
		t.Fatalf("first call: %v %v %d", err, created, len(key))
	}
	st, err := os.Stat(path)
	if err != nil || st.Mode().Perm() != 0o600 {
		t.Fatalf("key file mode = %v, %v; want 0600", st.Mode().Perm(), err)
	}
	again, created, err := LoadOrCreateKeyFile(path)
	if err != nil || created || !bytes.Equal(key, again) {
		t.Fatalf("second call: %v %v equal=%v", err, created, bytes.Equal(key, again))
	}
	bad := filepath.Join(t.TempDir(), "bad.key")
	os.WriteFile(bad, []byte("not base64 of 32 bytes"), 0o600)
	if _, err := LoadKeyFile(bad); err == nil {
		t.Fatal("malformed key file accepted")
	}
}

// The reference vector of the Standard Webhooks specification.
func TestSignatureReferenceVector(t *testing.T) {
	data, err := os.ReadFile("testdata/signature-vector.json") // copied from shared/spec
	if err != nil {
		t.Fatal(err)
	}
	var v struct{ Secret, ID, Timestamp, Payload, Signature string }
	if err := json.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	var ts int64
	for _, c := range v.Timestamp {
		ts = ts*10 + int64(c-'0')
	}
	got, err := SignatureHeader(v.ID, ts, []byte(v.Payload), v.Secret)
	if err != nil {
		t.Fatal(err)
	}
	if got != v.Signature {
		t.Fatalf("signature = %s, want %s", got, v.Signature)
	}
	two, _ := SignatureHeader(v.ID, ts, []byte(v.Payload), v.Secret, v.Secret)
	if two != v.Signature+" "+v.Signature {
		t.Fatalf("two secrets: %s", two)
	}
}
