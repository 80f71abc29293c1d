package server

import (
	"crypto/ed25519"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"math/big"
	"net/url"
	"strings"
	"testing"
	"time"
)

// certDevice is a device whose registered key is an x509 certificate.
type certDevice struct {
	id   string
	priv ed25519.PrivateKey
	cert []byte
}

func newCertDevice(t *testing.T, id string, notBefore, notAfter time.Time, usage x509.KeyUsage) *certDevice {
	d := newTestDevice(id)
	pub := d.priv.Public().(ed25519.PublicKey)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: id},
		NotBefore: notBefore, NotAfter: notAfter, KeyUsage: usage}
	der, err := x509.CreateCertificate(nil, tmpl, tmpl, pub, d.priv)
	if err != nil {
		t.Fatal(err)
	}
	return &certDevice{id: id, priv: d.priv, cert: der}
}

func (d *certDevice) post(t *testing.T, s *Server, path string, v url.Values) resp {
	t.Helper()
	return (&testDevice{id: d.id, priv: d.priv}).signedPost(t, s, path, v)
}

func (d *certDevice) register(t *testing.T, s *Server) resp {
	t.Helper()
	return d.post(t, s, "/oauth/v1/register", url.Values{
		"client_id": {d.id}, "client_secret": {testKey}, "client_type": {"printer"}, "response_type": {"device_code"},
		"public_key": {base64.StdEncoding.EncodeToString(d.cert)}, "key_type": {"x509"},
	})
}

// An x509 device key is a certificate: one that has expired, is not valid
// yet, or is not for signing is not accepted, and a registered one stops
// working when it expires (server clock).
func TestCertificateValidityAndKeyUsage(t *testing.T) {
	s := newTestServer(t)
	now := s.Now()
	refused := []struct {
		name string
		d    *certDevice
		want string
	}{
		{"expired", newCertDevice(t, "c-old", now.Add(-48*time.Hour), now.Add(-time.Hour), 0), "has expired"},
		{"not yet valid", newCertDevice(t, "c-new", now.Add(time.Hour), now.Add(48*time.Hour), 0), "not valid yet"},
		{"not for signing", newCertDevice(t, "c-ca", now.Add(-time.Hour), now.Add(48*time.Hour), x509.KeyUsageCertSign), "key usage"},
	}
	for _, tt := range refused {
		if r := tt.d.register(t, s); r.Code != 400 || r.errCode(t) != "invalid_request" || !strings.Contains(string(r.Body), tt.want) {
			t.Errorf("%s: %d %s, want 400 invalid_request saying %q", tt.name, r.Code, r.Body, tt.want)
		}
	}

	d := newCertDevice(t, "c-ok", now.Add(-time.Hour), now.Add(24*time.Hour), x509.KeyUsageDigitalSignature)
	r := d.register(t, s)
	if r.Code != 200 {
		t.Fatalf("register: %d %s", r.Code, r.Body)
	}
	code := r.json(t)["device_code"].(string)
	adminDo(t, s, "POST", "/admin/api/devices/c-ok/approve", "")
	r = d.post(t, s, "/oauth/v1/token", url.Values{"client_id": {d.id}, "client_secret": {testKey}, "grant_type": {"device_code"}, "device_code": {code}})
	if r.Code != 200 {
		t.Fatalf("device token: %d %s", r.Code, r.Body)
	}
	rt := r.json(t)["refresh_token"].(string)
	advance(t, s, 25*time.Hour)
	r = d.post(t, s, "/oauth/v1/token", url.Values{"client_id": {d.id}, "client_secret": {testKey}, "grant_type": {"refresh_token"}, "refresh_token": {rt}})
	if r.Code != 401 || r.errCode(t) != "invalid_client" || !strings.Contains(string(r.Body), "has expired") {
		t.Errorf("refresh after the certificate expired: %d %s", r.Code, r.Body)
	}
	if r := d.register(t, s); r.Code != 401 || r.errCode(t) != "invalid_client" {
		t.Errorf("re-registration signed by the expired certificate: %d %s", r.Code, r.Body)
	}
}
