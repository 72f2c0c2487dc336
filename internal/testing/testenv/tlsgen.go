package testenv

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// serverTLS is a throw-away CA and a server certificate it signed for
// 127.0.0.1, ::1 and localhost, written as PEM files.
type serverTLS struct {
	CAFile, CertFile, KeyFile string
	Pool                      *x509.CertPool // holds the CA
}

// writeServerTLS creates ca.crt, server.crt and server.key in dir (the
// names KES is configured with).
func writeServerTLS(dir string) (*serverTLS, error) {
	return writeTLSFiles(filepath.Join(dir, "ca.crt"), filepath.Join(dir, "server.crt"), filepath.Join(dir, "server.key"))
}

// writeTLSFiles creates a new CA and a server certificate it signed, and
// writes the CA certificate to caFile, the server certificate to certFile
// and its PKCS #8 key to keyFile (owner-only), creating their directories.
func writeTLSFiles(caFile, certFile, keyFile string) (*serverTLS, error) {
	caKey, caCert, err := newCA()
	if err != nil {
		return nil, err
	}
	der, keyDER, err := newServerCert(caKey, caCert)
	if err != nil {
		return nil, err
	}
	s := &serverTLS{CAFile: caFile, CertFile: certFile, KeyFile: keyFile, Pool: x509.NewCertPool()}
	s.Pool.AddCert(caCert)
	return s, writePEMs(map[string]*pem.Block{
		s.CAFile:   {Type: "CERTIFICATE", Bytes: caCert.Raw},
		s.CertFile: {Type: "CERTIFICATE", Bytes: der},
		s.KeyFile:  {Type: "PRIVATE KEY", Bytes: keyDER},
	})
}

// newServerCert returns a server certificate for 127.0.0.1, ::1 and
// localhost signed by the CA (DER), and its private key (PKCS #8 DER).
func newServerCert(caKey *ecdsa.PrivateKey, caCert *x509.Certificate) (der, keyDER []byte, err error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	leaf := certTemplate("127.0.0.1")
	leaf.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	leaf.DNSNames = []string{"localhost"}
	leaf.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	if der, err = x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey); err != nil {
		return nil, nil, err
	}
	keyDER, err = x509.MarshalPKCS8PrivateKey(key)
	return der, keyDER, err
}

// clientTLS returns a TLS client configuration that trusts the CA only.
func (s *serverTLS) clientTLS() *tls.Config {
	return &tls.Config{RootCAs: s.Pool, MinVersion: tls.VersionTLS12}
}

// newCA returns a self-signed ECDSA CA.
func newCA() (*ecdsa.PrivateKey, *x509.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	tmpl := certTemplate("cutover testenv CA")
	tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
	tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		return nil, nil, err
	}
	cert, err := x509.ParseCertificate(der)
	return key, cert, err
}

// certTemplate returns a certificate template valid for a day.
func certTemplate(cn string) *x509.Certificate {
	serial, _ := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 120))
	return &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: cn},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
	}
}

// writePEMs writes each block to its file, creating its directory.
func writePEMs(files map[string]*pem.Block) error {
	for path, block := range files {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
			return err
		}
	}
	return nil
}
