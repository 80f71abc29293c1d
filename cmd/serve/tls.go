package serve

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// selfSignedValidity is how long a generated certificate is valid.
const selfSignedValidity = 365 * 24 * time.Hour

// certInfo describes the certificate being served, for the banner.
type certInfo struct {
	CertFile    string // PEM file clients can use as CA (--cacert)
	Fingerprint string // SHA-256 of the DER certificate, colon-separated hex
	Generated   bool   // made by --tls-self-signed
	Reused      bool   // an earlier generated certificate was still good
}

// setupTLS loads or generates the certificate and returns the TLS
// configuration (TLS 1.2 minimum, crypto/tls's default cipher suites) and a
// cleanup function removing a temporary directory, if one was made.
func setupTLS(o *Options, host string) (*tls.Config, *certInfo, func(), error) {
	cleanup := func() {}
	var certFile, keyFile string
	info := &certInfo{}
	if o.TLSSelfSigned {
		dir := ""
		if o.DataFile != "" {
			dir = filepath.Dir(o.DataFile)
			base := filepath.Base(o.DataFile)
			certFile = filepath.Join(dir, base+".cert.pem")
			keyFile = filepath.Join(dir, base+".key.pem")
		} else {
			tmp, err := os.MkdirTemp("", "paragon-server-tls-")
			if err != nil {
				return nil, nil, cleanup, fmt.Errorf("creating a directory for the certificate: %w", err)
			}
			cleanup = func() { os.RemoveAll(tmp) }
			certFile = filepath.Join(tmp, "cert.pem")
			keyFile = filepath.Join(tmp, "key.pem")
		}
		reused, err := ensureSelfSigned(certFile, keyFile, host, time.Now())
		if err != nil {
			cleanup()
			return nil, nil, func() {}, err
		}
		info.Generated, info.Reused = true, reused
	} else {
		certFile, keyFile = o.TLSCert, o.TLSKey
	}
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		cleanup()
		return nil, nil, func() {}, fmt.Errorf("loading the TLS certificate: %w", err)
	}
	abs, err := filepath.Abs(certFile)
	if err == nil {
		certFile = abs
	}
	info.CertFile = certFile
	info.Fingerprint = fingerprint(pair.Certificate[0])
	conf := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{pair},
		NextProtos:   []string{"h2", "http/1.1"},
	}
	return conf, info, cleanup, nil
}

// fingerprint is the SHA-256 of a DER certificate as colon-separated
// upper-case hex, as `openssl x509 -fingerprint -sha256` prints it.
func fingerprint(der []byte) string {
	sum := sha256.Sum256(der)
	parts := make([]string, len(sum))
	for i, b := range sum {
		parts[i] = fmt.Sprintf("%02X", b)
	}
	return strings.Join(parts, ":")
}

// certHosts lists the names a certificate for the listen host must cover:
// the host itself and always localhost, 127.0.0.1 and ::1; for every
// interface ("" or 0.0.0.0) also the machine's host name.
func certHosts(host string) (dns []string, ips []net.IP) {
	dns = []string{"localhost"}
	ips = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	add := func(h string) {
		if h == "" {
			return
		}
		if ip := net.ParseIP(h); ip != nil {
			if ip.IsUnspecified() {
				return
			}
			for _, have := range ips {
				if have.Equal(ip) {
					return
				}
			}
			ips = append(ips, ip)
			return
		}
		for _, have := range dns {
			if strings.EqualFold(have, h) {
				return
			}
		}
		dns = append(dns, h)
	}
	add(strings.Trim(host, "[]"))
	if ip := net.ParseIP(strings.Trim(host, "[]")); host == "" || (ip != nil && ip.IsUnspecified()) {
		if name, err := os.Hostname(); err == nil {
			add(name)
		}
	}
	return dns, ips
}

// ensureSelfSigned writes a self-signed ECDSA P-256 certificate and its key
// unless the files already hold one that covers host and is valid for at
// least another day (so that clients keep trusting the server across
// restarts on the same data file). It reports whether it reused the files.
func ensureSelfSigned(certFile, keyFile, host string, now time.Time) (bool, error) {
	dns, ips := certHosts(host)
	if reusable(certFile, keyFile, dns, ips, now) {
		return true, nil
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return false, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 127))
	if err != nil {
		return false, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{Organization: []string{"paragon reference server"}, CommonName: dns[len(dns)-1]},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(selfSignedValidity),
		KeyUsage:              x509.KeyUsageDigitalSignature | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true, // so that it can be given to clients as their CA file
		DNSNames:              dns,
		IPAddresses:           ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return false, fmt.Errorf("creating the certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return false, err
	}
	if err := writeFileAtomic(keyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600); err != nil {
		return false, fmt.Errorf("writing the TLS key: %w", err)
	}
	if err := writeFileAtomic(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644); err != nil {
		return false, fmt.Errorf("writing the TLS certificate: %w", err)
	}
	return false, nil
}

// reusable reports whether certFile and keyFile hold a matching pair whose
// certificate covers every name and is valid for at least another day.
func reusable(certFile, keyFile string, dns []string, ips []net.IP, now time.Time) bool {
	pair, err := tls.LoadX509KeyPair(certFile, keyFile)
	if err != nil {
		return false
	}
	cert, err := x509.ParseCertificate(pair.Certificate[0])
	if err != nil {
		return false
	}
	if now.Before(cert.NotBefore) || now.Add(24*time.Hour).After(cert.NotAfter) {
		return false
	}
	for _, name := range dns {
		if cert.VerifyHostname(name) != nil {
			return false
		}
	}
	for _, ip := range ips {
		if cert.VerifyHostname(ip.String()) != nil {
			return false
		}
	}
	return true
}

// writeFileAtomic writes data to a temporary file beside path and renames it
// into place, so a crash never leaves half a key.
func writeFileAtomic(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, werr := f.Write(data)
	if werr == nil {
		werr = f.Chmod(perm)
	}
	if werr == nil {
		werr = f.Sync()
	}
	if cerr := f.Close(); werr == nil {
		werr = cerr
	}
	if werr == nil {
		werr = os.Rename(tmp, path)
	}
	if werr != nil {
		os.Remove(tmp)
		return werr
	}
	return nil
}
