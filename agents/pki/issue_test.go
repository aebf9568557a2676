package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/x509"
	"errors"
	"net"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestIssue(t *testing.T) {
	ca, err := NewCA("test")
	if err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM, err := ca.Issue("nats-1", []string{"nats-1.Example.com", "10.0.0.7", "::1", "*.nats.example.com", "nats-1.example.com"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	leaf, err := parseCert(certPEM)
	if err != nil {
		t.Fatal(err)
	}
	if leaf.Subject.CommonName != "nats-1" || leaf.Issuer.CommonName != "Ferry CA test" {
		t.Errorf("subject %q issuer %q", leaf.Subject.CommonName, leaf.Issuer.CommonName)
	}
	if want := []string{"nats-1.example.com", "*.nats.example.com"}; !slices.Equal(leaf.DNSNames, want) {
		t.Errorf("DNS names %q, want %q", leaf.DNSNames, want)
	}
	if len(leaf.IPAddresses) != 2 || !leaf.IPAddresses[0].Equal(net.ParseIP("10.0.0.7")) || !leaf.IPAddresses[1].Equal(net.IPv6loopback) {
		t.Errorf("IP addresses %v", leaf.IPAddresses)
	}
	if want := []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}; !slices.Equal(leaf.ExtKeyUsage, want) {
		t.Errorf("extended key usage %v", leaf.ExtKeyUsage)
	}
	if leaf.IsCA {
		t.Error("server certificate is a CA")
	}
	if k, ok := leaf.PublicKey.(*ecdsa.PublicKey); !ok || k.Curve != elliptic.P256() {
		t.Errorf("key %T, want ECDSA P-256", leaf.PublicKey)
	}
	if life := time.Until(leaf.NotAfter); life < DefaultValidity-time.Hour || life > DefaultValidity {
		t.Errorf("valid for %s more, want two years", life)
	}
	pool := x509.NewCertPool()
	pool.AddCert(ca.Certificate())
	for _, name := range []string{"nats-1.example.com", "a.nats.example.com", "10.0.0.7", "::1"} {
		if _, err := leaf.Verify(x509.VerifyOptions{Roots: pool, DNSName: name}); err != nil {
			t.Errorf("verify as %s: %v", name, err)
		}
	}
	if !strings.HasPrefix(string(keyPEM), "-----BEGIN PRIVATE KEY-----") {
		t.Errorf("key is not PKCS#8 PEM: %.30q", keyPEM)
	}

	short, _, err := ca.Issue("short", []string{"localhost"}, 24*time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	if c, _ := parseCert(short); time.Until(c.NotAfter) > 24*time.Hour {
		t.Errorf("one day certificate valid until %s", c.NotAfter)
	}
}

func TestIssueRejects(t *testing.T) {
	ca, err := NewCA("test")
	if err != nil {
		t.Fatal(err)
	}
	hosts := []struct{ name, host string }{
		{"empty", ""},
		{"with a port", "nats.example.com:4222"},
		{"bracketed IPv6", "[::1]"},
		{"URL", "tls://nats.example.com"},
		{"space", "nats example"},
		{"empty label", "nats..example.com"},
		{"leading hyphen", "-nats.example.com"},
		{"trailing dot", "nats.example.com."},
		{"inner wildcard", "nats.*.example.com"},
		{"bare wildcard", "*"},
		{"long label", strings.Repeat("a", 64) + ".example.com"},
	}
	for _, tc := range hosts {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ca.Issue("nats-1", []string{"localhost", tc.host}, 0)
			var he *HostError
			if !errors.As(err, &he) || he.Host != tc.host || !strings.Contains(err.Error(), `"`+tc.host+`"`) {
				t.Fatalf("host %q: %v, want a HostError naming it", tc.host, err)
			}
		})
	}
	other := []struct {
		name     string
		cn       string
		hosts    []string
		validity time.Duration
		want     string
	}{
		{"no hosts", "nats-1", nil, 0, "no hosts"},
		{"no name", "", []string{"localhost"}, 0, "empty name"},
		{"negative validity", "nats-1", []string{"localhost"}, -time.Hour, "negative"},
		{"outlives the CA", "nats-1", []string{"localhost"}, 11 * 365 * 24 * time.Hour, "after the CA"},
	}
	for _, tc := range other {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := ca.Issue(tc.cn, tc.hosts, tc.validity)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Issue: %v, want %q", err, tc.want)
			}
		})
	}
}
