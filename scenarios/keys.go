package scenarios

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"fmt"
	"math/big"
	"sync"
	"time"
)

// signatureHeader carries a device's signature over the request body.
const signatureHeader = "HCP-Request-Signature"

// deviceKey is a device's key pair as registered.
type deviceKey struct {
	keyType string // ed25519, rsa or x509 (the key_type sent)
	public  string // base64, as sent in public_key
	signer  crypto.Signer
}

// sign returns the base64 signature over body: plain Ed25519, or
// RSASSA-PKCS1-v1_5 with SHA-256 (contract section 3.2).
func (k *deviceKey) sign(body []byte) (string, error) {
	var sig []byte
	var err error
	switch s := k.signer.(type) {
	case ed25519.PrivateKey:
		sig = ed25519.Sign(s, body)
	case *rsa.PrivateKey:
		sum := sha256.Sum256(body)
		sig, err = rsa.SignPKCS1v15(rand.Reader, s, crypto.SHA256, sum[:])
	default:
		err = fmt.Errorf("unsupported key %T", k.signer)
	}
	if err != nil {
		return "", err
	}
	return base64.StdEncoding.EncodeToString(sig), nil
}

var (
	rsaOnce sync.Once
	rsaKey  *rsa.PrivateKey
	rsaErr  error
)

// sharedRSAKey is generated once per process: RSA key generation is slow and
// the suite's devices differ by client id anyway.
func sharedRSAKey() (*rsa.PrivateKey, error) {
	rsaOnce.Do(func() { rsaKey, rsaErr = rsa.GenerateKey(rand.Reader, 2048) })
	return rsaKey, rsaErr
}

// newDeviceKey makes a key of the given kind (see registerAction.Key).
func newDeviceKey(kind string) (*deviceKey, error) {
	switch kind {
	case "ed25519", "ed25519-spki":
		pub, priv, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		raw := []byte(pub)
		if kind == "ed25519-spki" {
			if raw, err = x509.MarshalPKIXPublicKey(pub); err != nil {
				return nil, err
			}
		}
		return &deviceKey{keyType: "ed25519", public: base64.StdEncoding.EncodeToString(raw), signer: priv}, nil
	case "rsa":
		k, err := sharedRSAKey()
		if err != nil {
			return nil, err
		}
		der, err := x509.MarshalPKIXPublicKey(&k.PublicKey)
		if err != nil {
			return nil, err
		}
		return &deviceKey{keyType: "rsa", public: base64.StdEncoding.EncodeToString(der), signer: k}, nil
	case "x509":
		k, err := sharedRSAKey()
		if err != nil {
			return nil, err
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(1),
			Subject:      pkix.Name{CommonName: "paragon scenario device"},
			NotBefore:    time.Date(2000, 1, 1, 0, 0, 0, 0, time.UTC),
			NotAfter:     time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC),
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &k.PublicKey, k)
		if err != nil {
			return nil, err
		}
		return &deviceKey{keyType: "x509", public: base64.StdEncoding.EncodeToString(der), signer: k}, nil
	}
	return nil, fmt.Errorf("unknown key kind %q", kind)
}

// signature is the signature header's value for body as a step's sign field
// says ("" for none): auto (or empty) signs with key when there is one, yes
// must, new-key signs with newKey (the key the step registers), no never,
// and wrong sends a well-formed signature that does not verify.
func signature(sign string, body []byte, key, newKey *deviceKey) (string, error) {
	signer, signed := key, body
	switch sign {
	case "new-key":
		if signer = newKey; signer == nil {
			return "", nil
		}
	case "", "auto":
		if key == nil {
			return "", nil
		}
	case "yes":
		if key == nil {
			return "", fmt.Errorf("sign: yes, but the device has no key (register it with key: ed25519)")
		}
	case "wrong":
		if key != nil && key.keyType != "ed25519" {
			signed = append(bytes.Clone(body), '!') // the right key over other bytes
		} else {
			other, err := newDeviceKey("ed25519") // another key over these bytes
			if err != nil {
				return "", err
			}
			signer = other
		}
	default: // no
		return "", nil
	}
	return signer.sign(signed)
}
