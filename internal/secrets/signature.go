package secrets

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"strconv"
	"strings"
)

// SignatureHeader computes the Standard Webhooks signature of one request:
// "v1,<base64 HMAC-SHA256 of id.timestamp.body>" under the key that
// follows "whsec_" (base64). With several secrets (during a rotation) the
// signatures are joined by spaces, as the specification allows.
func SignatureHeader(msgID string, timestamp int64, body []byte, secrets ...string) (string, error) {
	parts := make([]string, 0, len(secrets))
	ts := strconv.FormatInt(timestamp, 10)
	for _, s := range secrets {
		key, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, "whsec_"))
		if err != nil {
			return "", fmt.Errorf("signing secret is not whsec_ and base64: %w", err)
		}
		mac := hmac.New(sha256.New, key)
		mac.Write([]byte(msgID))
		mac.Write([]byte{'.'})
		mac.Write([]byte(ts))
		mac.Write([]byte{'.'})
		mac.Write(body)
		parts = append(parts, "v1,"+base64.StdEncoding.EncodeToString(mac.Sum(nil)))
	}
	return strings.Join(parts, " "), nil
}
