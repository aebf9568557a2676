package pki

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/ferrybackup/ferry/agents/config"
)

// File names of a CA in its folder.
const (
	CACertFile = "ca.crt"
	CAKeyFile  = "ca.key"
)

const (
	caValidity = 10 * 365 * 24 * time.Hour
	// clockSkew backdates every certificate a little, so a host whose
	// clock runs behind accepts a certificate made a moment ago.
	clockSkew = 5 * time.Minute
)

// now is the clock of every certificate made here.
var now = time.Now

// CA is a certificate authority: its certificate and the key that signs
// what it issues. The zero value is not usable: make one with NewCA or
// LoadCA.
type CA struct {
	cert    *x509.Certificate
	certPEM []byte
	key     crypto.Signer // never printed
}

// NewCA makes a self-signed ECDSA P-256 CA valid for ten years, named
// "Ferry CA <name>". It may sign server certificates only (MaxPathLen 0:
// no intermediate CAs below it).
func NewCA(name string) (*CA, error) {
	name = strings.TrimSpace(name)
	if err := checkName(name); err != nil {
		return nil, fmt.Errorf("new CA: %w", err)
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("new CA: %w", err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, fmt.Errorf("new CA: %w", err)
	}
	t := now()
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: "Ferry CA " + name},
		NotBefore:             t.Add(-clockSkew),
		NotAfter:              t.Add(caValidity),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
		BasicConstraintsValid: true,
		IsCA:                  true,
		MaxPathLen:            0,
		MaxPathLenZero:        true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("new CA: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("new CA: %w", err)
	}
	return &CA{cert: cert, certPEM: encodeCert(der), key: key}, nil
}

// LoadCA reads the CA that Save wrote to dir: ca.crt and ca.key. The key
// file must be a regular file that neither group nor others may read or
// write; the refusal names the file and the chmod that fixes it. The key
// may be PKCS#8, SEC 1 (EC) or PKCS#1 (RSA), so a CA made elsewhere
// loads too, and it must match the certificate.
func LoadCA(dir string) (*CA, error) {
	certFile := filepath.Join(dir, CACertFile)
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("CA certificate: %w", err)
	}
	cert, err := parseCert(certPEM)
	if err != nil {
		return nil, fmt.Errorf("CA certificate %s: %w", certFile, err)
	}
	if !cert.IsCA {
		return nil, fmt.Errorf("CA certificate %s: %q is not a CA certificate (no CA basic constraint)", certFile, cert.Subject.CommonName)
	}
	keyFile := filepath.Join(dir, CAKeyFile)
	key, err := readKey(keyFile)
	if err != nil {
		return nil, fmt.Errorf("CA key: %w", err)
	}
	if !publicKeyEqual(cert.PublicKey, key.Public()) {
		return nil, fmt.Errorf("CA key %s does not belong to the certificate %s", keyFile, certFile)
	}
	return &CA{cert: cert, certPEM: certPEM, key: key}, nil
}

// Certificate is the CA's certificate.
func (ca *CA) Certificate() *x509.Certificate { return ca.cert }

// Fingerprint is the SHA-256 of a certificate's DER encoding in the form
// `openssl x509 -noout -fingerprint -sha256` prints: "AB:CD:...".
func Fingerprint(cert *x509.Certificate) string {
	sum := sha256.Sum256(cert.Raw)
	var b strings.Builder
	for i, c := range sum {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02X", c)
	}
	return b.String()
}

// String is the CA's common name and fingerprint; the key is never shown.
func (ca *CA) String() string {
	if ca == nil || ca.cert == nil {
		return "<no CA>"
	}
	return fmt.Sprintf("%s (SHA-256 %s)", ca.cert.Subject.CommonName, Fingerprint(ca.cert))
}

// Format prints String for every verb, so that neither %+v nor %#v of a
// CA ever reaches its key.
func (ca CA) Format(f fmt.State, _ rune) { _, _ = fmt.Fprint(f, (&ca).String()) }

// LogValue logs String.
func (ca *CA) LogValue() slog.Value { return slog.StringValue(ca.String()) }

// checkName: a common name is one printable line.
func checkName(name string) error {
	if name == "" {
		return errors.New("empty name")
	}
	if len(name) > 64 {
		return fmt.Errorf("name %q is longer than 64 bytes", name)
	}
	for _, r := range name {
		if r < ' ' || r == 0x7f {
			return fmt.Errorf("name %q holds a control character", name)
		}
	}
	return nil
}

// newSerial is a random positive 128-bit serial number.
func newSerial() (*big.Int, error) {
	return rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
}

func encodeCert(der []byte) []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// parseCert reads the first certificate of a PEM file.
func parseCert(data []byte) (*x509.Certificate, error) {
	ders := certBlocks(data)
	if len(ders) == 0 {
		return nil, errors.New("no PEM CERTIFICATE block")
	}
	return x509.ParseCertificate(ders[0])
}

// certBlocks are the DER bodies of the CERTIFICATE blocks of a PEM file,
// in order; other blocks are skipped.
func certBlocks(data []byte) [][]byte {
	var ders [][]byte
	for {
		var b *pem.Block
		if b, data = pem.Decode(data); b == nil {
			return ders
		}
		if b.Type == "CERTIFICATE" {
			ders = append(ders, b.Bytes)
		}
	}
}

// readKey reads a private key file with the secret file checks. Errors
// name the file, never its contents.
func readKey(path string) (crypto.Signer, error) {
	text, err := config.ReadSecret(path)
	if err != nil {
		return nil, err
	}
	b, _ := pem.Decode([]byte(text))
	if b == nil {
		return nil, fmt.Errorf("%s holds no PEM private key", path)
	}
	var key any
	switch b.Type {
	case "PRIVATE KEY":
		key, err = x509.ParsePKCS8PrivateKey(b.Bytes)
	case "EC PRIVATE KEY":
		key, err = x509.ParseECPrivateKey(b.Bytes)
	case "RSA PRIVATE KEY":
		key, err = x509.ParsePKCS1PrivateKey(b.Bytes)
	default:
		return nil, fmt.Errorf("%s holds a PEM %q block, not a private key", path, b.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	s, ok := key.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("%s: a %T key cannot sign", path, key)
	}
	return s, nil
}

// marshalKey is the PKCS#8 PEM form of a private key; wipe it after use.
func marshalKey(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, err
	}
	defer wipe(der)
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

func publicKeyEqual(a, b crypto.PublicKey) bool {
	k, ok := a.(interface{ Equal(crypto.PublicKey) bool })
	return ok && k.Equal(b)
}
