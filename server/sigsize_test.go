package server

import (
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"math/big"
	"net/url"
	"strings"
	"testing"
)

// hugeRSAKey is DER SubjectPublicKeyInfo of an RSA key with a bits-bit
// modulus (not a real key: verifying with it only has to be refused).
func hugeRSAKey(t *testing.T, bits int) []byte {
	n := new(big.Int).Lsh(big.NewInt(1), uint(bits-1))
	n.Add(n, big.NewInt(12345))
	der, err := x509.MarshalPKIXPublicKey(&rsa.PublicKey{N: n, E: 65537})
	if err != nil {
		t.Fatal(err)
	}
	return der
}

// A signed registration with an RSA key of hundreds of thousands of bits
// made the server verify under its lock for seconds (minutes with a 1 MiB
// body), stalling every other request; such keys are refused before.
func TestOversizedPublicKeysAreRefused(t *testing.T) {
	s := newTestServer(t)
	sig := make([]byte, 100000/8)
	sig[len(sig)-1] = 2
	tests := []struct {
		name, keyType string
		key           []byte
		want          string
	}{
		{"rsa 8193 bits", "rsa", hugeRSAKey(t, 8193), "longer than 8192 bits"},
		{"rsa 100000 bits", "rsa", hugeRSAKey(t, 100000), "longer than 8192 bits"},
		{"17 KiB certificate", "x509", make([]byte, 17<<10), "larger than 16384 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := postForm(t, s, "/oauth/v1/register", url.Values{
				"client_id": {"big-" + tt.keyType}, "client_secret": {testKey}, "client_type": {"server"},
				"response_type": {"device_code"}, "public_key": {base64.StdEncoding.EncodeToString(tt.key)}, "key_type": {tt.keyType},
			}, map[string]string{signatureHeader: base64.StdEncoding.EncodeToString(sig)})
			if r.Code != 400 || r.errCode(t) != "invalid_request" || !strings.Contains(string(r.Body), tt.want) {
				t.Errorf("%d %s, want 400 invalid_request saying %q", r.Code, r.Body, tt.want)
			}
		})
	}
	// The largest RSA key accepted still registers.
	if _, err := parsePublicKey("rsa", hugeRSAKey(t, 8192)); err != nil {
		t.Errorf("an 8192-bit key: %v", err)
	}
}
