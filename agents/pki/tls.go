package pki

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
)

// LoadPool reads the certificates of a PEM file, such as a CA's ca.crt or
// a bundle of several CAs, into a pool to verify servers against.
func LoadPool(caFile string) (*x509.CertPool, error) {
	if caFile == "" {
		return nil, errors.New("CA file: no path given")
	}
	data, err := os.ReadFile(caFile)
	if err != nil {
		return nil, fmt.Errorf("CA file: %w", err)
	}
	ders := certBlocks(data)
	if len(ders) == 0 {
		return nil, fmt.Errorf("CA file %s holds no PEM certificate", caFile)
	}
	pool := x509.NewCertPool()
	for i, der := range ders {
		cert, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, fmt.Errorf("CA file %s: certificate %d: %w", caFile, i+1, err)
		}
		pool.AddCert(cert)
	}
	return pool, nil
}

// ServerTLS is the TLS configuration of a bus server presenting the
// certificate in certFile (PEM; a chain may follow the leaf) with the key
// in keyFile. The key file gets the secret file checks: a key that group
// or others may read is refused, naming the file and the chmod. Every
// client of a Ferry bus server is a Ferry agent or console, or a NATS
// server or tool written in Go, so TLS 1.3 is the minimum.
func ServerTLS(certFile, keyFile string) (*tls.Config, error) {
	if certFile == "" || keyFile == "" {
		return nil, errors.New("server TLS: a certificate file and a key file are both required")
	}
	certPEM, err := os.ReadFile(certFile)
	if err != nil {
		return nil, fmt.Errorf("server certificate: %w", err)
	}
	key, err := readKey(keyFile)
	if err != nil {
		return nil, fmt.Errorf("server key: %w", err)
	}
	chain := certBlocks(certPEM)
	if len(chain) == 0 {
		return nil, fmt.Errorf("server certificate %s holds no PEM certificate", certFile)
	}
	leaf, err := x509.ParseCertificate(chain[0])
	if err != nil {
		return nil, fmt.Errorf("server certificate %s: %w", certFile, err)
	}
	if !publicKeyEqual(leaf.PublicKey, key.Public()) {
		return nil, fmt.Errorf("server key %s does not belong to the certificate %s", keyFile, certFile)
	}
	return &tls.Config{
		MinVersion:   tls.VersionTLS13,
		Certificates: []tls.Certificate{{Certificate: chain, PrivateKey: key, Leaf: leaf}},
	}, nil
}

// ClientTLS is the TLS configuration of an agent dialing a bus server:
// the server's certificate is verified against the certificates in
// caFile, or against the system's roots when caFile is empty (a server
// certificate from a public CA). The server may be an external NATS
// deployment or sit behind a proxy Ferry does not control, so TLS 1.2 is
// accepted; Go negotiates 1.3 wherever the server offers it.
func ClientTLS(caFile string) (*tls.Config, error) {
	cfg := &tls.Config{MinVersion: tls.VersionTLS12}
	if caFile == "" {
		return cfg, nil
	}
	pool, err := LoadPool(caFile)
	if err != nil {
		return nil, err
	}
	cfg.RootCAs = pool
	return cfg, nil
}
