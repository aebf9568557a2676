package pki

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"net"
	"strings"
	"time"
)

// DefaultValidity is how long an issued certificate is valid when Issue is
// given no validity: two years.
const DefaultValidity = 2 * 365 * 24 * time.Hour

// HostError: a host given to Issue is no IP address nor DNS name.
type HostError struct {
	Host   string
	Reason string
}

func (e *HostError) Error() string {
	return fmt.Sprintf("host %q: %s", e.Host, e.Reason)
}

// Issue makes an ECDSA P-256 key and a certificate for it signed by the
// CA, for a bus server: common name name, usable for server and client
// authentication (a NATS node is both, on routes and leafnode links), valid
// for the hosts given (IP addresses become IP SANs, names DNS SANs; a
// leftmost "*" label is a wildcard). A validity of 0 is DefaultValidity;
// a certificate may not outlive the CA. It returns the certificate and
// the key (PKCS#8), both PEM; the key is a secret, for SaveCert.
func (ca *CA) Issue(name string, hosts []string, validity time.Duration) (certPEM, keyPEM []byte, err error) {
	if ca == nil || ca.cert == nil || ca.key == nil {
		return nil, nil, errors.New("issue certificate: no CA")
	}
	name = strings.TrimSpace(name)
	if err := checkName(name); err != nil {
		return nil, nil, fmt.Errorf("issue certificate: %w", err)
	}
	dns, ips, err := parseHosts(hosts)
	if err != nil {
		return nil, nil, fmt.Errorf("issue certificate %q: %w", name, err)
	}
	switch {
	case validity < 0:
		return nil, nil, fmt.Errorf("issue certificate %q: negative validity %s", name, validity)
	case validity == 0:
		validity = DefaultValidity
	}
	t := now()
	notAfter := t.Add(validity)
	if notAfter.After(ca.cert.NotAfter) {
		return nil, nil, fmt.Errorf("issue certificate %q: it would be valid until %s, after the CA %q expires (%s); "+
			"give a shorter validity or make a new CA", name, notAfter.UTC().Format(time.DateOnly),
			ca.cert.Subject.CommonName, ca.cert.NotAfter.UTC().Format(time.DateOnly))
	}
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, fmt.Errorf("issue certificate %q: %w", name, err)
	}
	serial, err := newSerial()
	if err != nil {
		return nil, nil, fmt.Errorf("issue certificate %q: %w", name, err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             t.Add(-clockSkew),
		NotAfter:              notAfter,
		KeyUsage:              x509.KeyUsageDigitalSignature,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth},
		BasicConstraintsValid: true,
		DNSNames:              dns,
		IPAddresses:           ips,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca.cert, key.Public(), ca.key)
	if err != nil {
		return nil, nil, fmt.Errorf("issue certificate %q: %w", name, err)
	}
	keyPEM, err = marshalKey(key)
	if err != nil {
		return nil, nil, fmt.Errorf("issue certificate %q: %w", name, err)
	}
	return encodeCert(der), keyPEM, nil
}

// parseHosts splits hosts into DNS names and IP addresses, in order,
// without duplicates. At least one host is required.
func parseHosts(hosts []string) (dns []string, ips []net.IP, err error) {
	if len(hosts) == 0 {
		return nil, nil, errors.New("no hosts: give the names or addresses agents dial the server at")
	}
	seen := map[string]bool{}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			if !seen[ip.String()] {
				seen[ip.String()] = true
				ips = append(ips, ip)
			}
			continue
		}
		if err := checkDNSName(h); err != nil {
			return nil, nil, err
		}
		n := strings.ToLower(h)
		if !seen[n] {
			seen[n] = true
			dns = append(dns, n)
		}
	}
	return dns, ips, nil
}

// checkDNSName accepts a host name: dot-separated labels of letters,
// digits, '-' and '_', each 1 to 63 bytes and not starting or ending with
// '-', 253 bytes at most, the leftmost label possibly "*".
func checkDNSName(h string) error {
	bad := func(reason string) error { return &HostError{Host: h, Reason: reason} }
	switch {
	case h == "":
		return bad("empty; give a DNS name or an IP address")
	case strings.TrimSpace(h) != h:
		return bad("surrounding spaces")
	case strings.Contains(h, "://"):
		return bad("a URL; give the host name alone")
	case strings.HasPrefix(h, "[") || strings.Contains(h, ":"):
		return bad("not an IP address nor a DNS name (give the host without a port)")
	case strings.HasSuffix(h, "."):
		return bad("trailing dot; give the name without it")
	case len(h) > 253:
		return bad("longer than 253 bytes")
	}
	for i, label := range strings.Split(h, ".") {
		if label == "*" && i == 0 && strings.Contains(h, ".") {
			continue
		}
		if err := checkLabel(label); err != "" {
			return bad(err)
		}
	}
	return nil
}

func checkLabel(l string) string {
	switch {
	case l == "":
		return "empty label (two dots in a row?)"
	case len(l) > 63:
		return fmt.Sprintf("label %q is longer than 63 bytes", l)
	case l[0] == '-' || l[len(l)-1] == '-':
		return fmt.Sprintf("label %q starts or ends with '-'", l)
	}
	for _, c := range []byte(l) {
		ok := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '-' || c == '_'
		if !ok {
			return fmt.Sprintf("character %q is not allowed in a DNS name", c)
		}
	}
	return ""
}

func wipe(b []byte) {
	for i := range b {
		b[i] = 0
	}
}
