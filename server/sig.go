package server

import (
	"crypto"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"time"
)

// Key types a device may register (section 3.2).
const (
	keyTypeEd25519 = "ed25519"
	keyTypeRSA     = "rsa"
	keyTypeX509    = "x509"
)

// minRSABits and maxRSABits bound the RSA moduli accepted. Verifying with a
// modulus of millions of bits takes minutes of CPU (a 1 MiB body holds one),
// and it runs under the server's lock; 8192 bits is crypto/tls's limit too.
const (
	minRSABits = 2048
	maxRSABits = 8192
)

// maxPublicKeyBytes bounds a registered public key (decoded), certificates
// included: every device's key is kept in memory and in the store.
const maxPublicKeyBytes = 16 << 10

// decodeB64 decodes standard base64, padded or not (URL-safe accepted too).
func decodeB64(s string) ([]byte, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return nil, errors.New("empty")
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.RawStdEncoding, base64.URLEncoding, base64.RawURLEncoding} {
		if b, err := enc.Strict().DecodeString(s); err == nil {
			return b, nil
		}
	}
	return nil, errors.New("not base64")
}

// parsePublicKey checks a registered key: keyType and the decoded key bytes.
// It returns the public key (ed25519.PublicKey or *rsa.PublicKey).
func parsePublicKey(keyType string, der []byte) (crypto.PublicKey, error) {
	if len(der) > maxPublicKeyBytes {
		return nil, fmt.Errorf("the key is larger than %d bytes", maxPublicKeyBytes)
	}
	switch keyType {
	case keyTypeEd25519:
		if len(der) == ed25519.PublicKeySize {
			return ed25519.PublicKey(der), nil
		}
		pub, err := x509.ParsePKIXPublicKey(der)
		if err != nil {
			return nil, errors.New("an ed25519 key must be 32 raw bytes or DER SubjectPublicKeyInfo")
		}
		k, ok := pub.(ed25519.PublicKey)
		if !ok {
			return nil, errors.New("the SubjectPublicKeyInfo is not an Ed25519 key")
		}
		return k, nil
	case keyTypeRSA:
		pub, err := x509.ParsePKIXPublicKey(der)
		if err != nil {
			return nil, errors.New("an rsa key must be DER SubjectPublicKeyInfo")
		}
		return checkRSA(pub)
	case keyTypeX509:
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, errors.New("an x509 key must be a DER certificate")
		}
		switch k := cert.PublicKey.(type) {
		case ed25519.PublicKey:
			return k, nil
		case *rsa.PublicKey:
			return checkRSA(k)
		default:
			return nil, errors.New("the certificate's key is neither Ed25519 nor RSA")
		}
	default:
		return nil, fmt.Errorf("key_type %q is not ed25519, rsa or x509", keyType)
	}
}

func checkRSA(pub any) (crypto.PublicKey, error) {
	k, ok := pub.(*rsa.PublicKey)
	if !ok {
		return nil, errors.New("the SubjectPublicKeyInfo is not an RSA key")
	}
	if k.N.BitLen() < minRSABits {
		return nil, fmt.Errorf("the RSA key is shorter than %d bits", minRSABits)
	}
	if k.N.BitLen() > maxRSABits {
		return nil, fmt.Errorf("the RSA key is longer than %d bits", maxRSABits)
	}
	return k, nil
}

// verifySignature checks the base64 signature sig over body with the
// registered key. It never panics on hostile input.
func verifySignature(keyType string, der, body []byte, sig string) error {
	pub, err := parsePublicKey(keyType, der)
	if err != nil {
		return err
	}
	raw, err := decodeB64(sig)
	if err != nil {
		return errors.New("the signature is not base64")
	}
	switch k := pub.(type) {
	case ed25519.PublicKey:
		if len(raw) != ed25519.SignatureSize || !ed25519.Verify(k, body, raw) {
			return errors.New("the signature does not verify")
		}
	case *rsa.PublicKey:
		sum := sha256.Sum256(body)
		if rsa.VerifyPKCS1v15(k, crypto.SHA256, sum[:], raw) != nil {
			return errors.New("the signature does not verify")
		}
	}
	return nil
}

// certUsable checks, for an x509 key, that the certificate may sign at now
// (server clock): inside its validity period, and, when it states key
// usages, with digitalSignature among them. Other key types pass.
func certUsable(keyType string, der []byte, now time.Time) error {
	if keyType != keyTypeX509 {
		return nil
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return errors.New("an x509 key must be a DER certificate")
	}
	switch {
	case now.Before(cert.NotBefore):
		return errors.New("the certificate is not valid yet")
	case now.After(cert.NotAfter):
		return errors.New("the certificate has expired")
	case cert.KeyUsage != 0 && cert.KeyUsage&x509.KeyUsageDigitalSignature == 0:
		return errors.New("the certificate's key usage does not allow digital signatures")
	}
	return nil
}
