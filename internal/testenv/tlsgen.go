package testenv

import (
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// serverTLS is a throw-away CA and a server certificate it signed for
// 127.0.0.1 and localhost, written as PEM files.
type serverTLS struct {
	CAFile, CertFile, KeyFile string
	Pool                      *x509.CertPool // holds the CA
}

// writeServerTLS creates ca.crt, server.crt and server.key in dir.
func writeServerTLS(dir string) (*serverTLS, error) {
	caKey, caCert, err := newCA()
	if err != nil {
		return nil, err
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	leaf := certTemplate("127.0.0.1")
	leaf.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback}
	leaf.DNSNames = []string{"localhost"}
	leaf.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
	der, err := x509.CreateCertificate(rand.Reader, leaf, caCert, &key.PublicKey, caKey)
	if err != nil {
		return nil, err
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	s := &serverTLS{
		CAFile:   filepath.Join(dir, "ca.crt"),
		CertFile: filepath.Join(dir, "server.crt"),
		KeyFile:  filepath.Join(dir, "server.key"),
		Pool:     x509.NewCertPool(),
	}
	s.Pool.AddCert(caCert)
	return s, writePEMs(map[string]*pem.Block{
		s.CAFile:   {Type: "CERTIFICATE", Bytes: caCert.Raw},
		s.CertFile: {Type: "CERTIFICATE", Bytes: der},
		s.KeyFile:  {Type: "PRIVATE KEY", Bytes: keyDER},
	})
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

// writePEMs writes each block to its file.
func writePEMs(files map[string]*pem.Block) error {
	for path, block := range files {
		if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
			return err
		}
	}
	return nil
}

// kesAPIKeyPrefix starts every KES API key.
const kesAPIKeyPrefix = "kes:v1:"

// KESAPIKey is a KES API key: an Ed25519 key pair written as
// "kes:v1:" + base64(0x00 || 32-byte seed). KES identifies its holder
// by the hex SHA-256 of the public key's DER SubjectPublicKeyInfo; the
// client proves it with a TLS client certificate for that key.
type KESAPIKey struct {
	String   string // "kes:v1:..."
	Identity string // 64 hex digits
	key      ed25519.PrivateKey
}

// NewKESAPIKey generates a random KES API key.
func NewKESAPIKey() (*KESAPIKey, error) {
	seed := make([]byte, ed25519.SeedSize)
	if _, err := rand.Read(seed); err != nil {
		return nil, err
	}
	return kesAPIKeyFromSeed(seed)
}

// ParseKESAPIKey parses a "kes:v1:..." API key.
func ParseKESAPIKey(s string) (*KESAPIKey, error) {
	raw, err := base64.StdEncoding.DecodeString(strings.TrimPrefix(s, kesAPIKeyPrefix))
	if err != nil || !strings.HasPrefix(s, kesAPIKeyPrefix) {
		return nil, errors.New("invalid KES API key: want kes:v1:<base64>")
	}
	if len(raw) != 1+ed25519.SeedSize || raw[0] != 0 {
		return nil, errors.New("invalid KES API key: want an Ed25519 key (type 0, 32 bytes)")
	}
	return kesAPIKeyFromSeed(raw[1:])
}

// kesAPIKeyFromSeed derives the key pair, string and identity.
func kesAPIKeyFromSeed(seed []byte) (*KESAPIKey, error) {
	key := ed25519.NewKeyFromSeed(seed)
	spki, err := x509.MarshalPKIXPublicKey(key.Public())
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(spki)
	return &KESAPIKey{
		String:   kesAPIKeyPrefix + base64.StdEncoding.EncodeToString(append([]byte{0}, seed...)),
		Identity: hex.EncodeToString(sum[:]),
		key:      key,
	}, nil
}

// ClientCertificate returns a self-signed TLS client certificate for
// the key, as KES clients present it.
func (k *KESAPIKey) ClientCertificate() (tls.Certificate, error) {
	tmpl := certTemplate(k.Identity)
	tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.key.Public(), k.key)
	if err != nil {
		return tls.Certificate{}, err
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: k.key}, nil
}
