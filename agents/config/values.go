package config

import (
	"errors"
	"fmt"
	"math"
	"net"
	"net/netip"
	"net/url"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nkeys"
)

func parseDuration(s string) (time.Duration, error) {
	d, err := time.ParseDuration(strings.TrimSpace(s))
	if err != nil {
		return 0, fmt.Errorf(`invalid duration %q: write a Go duration such as "90s", "10m" or "720h"`, s)
	}
	return d, nil
}

var sizeUnits = []struct {
	suffix string
	mult   int64
}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"B", 1}}

// ParseSize reads a byte count such as "10MiB", "1GiB" or "4096".
func ParseSize(s string) (int64, error) { return parseSize(s) }

// parseSize reads a whole number of bytes with an optional binary unit.
func parseSize(s string) (int64, error) {
	num, mult := strings.TrimSpace(s), int64(1)
	for _, u := range sizeUnits {
		if strings.HasSuffix(num, u.suffix) {
			num, mult = strings.TrimSpace(strings.TrimSuffix(num, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(num, 10, 64)
	if err != nil || num[0] < '0' || num[0] > '9' {
		return 0, fmt.Errorf(`invalid size %q: write a whole number of bytes, `+
			`optionally followed by B, KiB, MiB, GiB or TiB, such as "50GiB"`, s)
	}
	if n > math.MaxInt64/mult {
		return 0, fmt.Errorf("size %q is too large", s)
	}
	return n * mult, nil
}

func required(s, what string) error {
	if s == "" {
		return errors.New("required: " + what)
	}
	return nil
}

func checkPort(n int) error {
	if n < 1 || n > 65535 {
		return fmt.Errorf("port %d is out of range 1-65535", n)
	}
	return nil
}

// checkAddress accepts a host name or IP address with neither scheme nor port.
func checkAddress(s string) error {
	switch {
	case s == "":
		return errors.New("required: the host name or IP address to dial")
	case strings.Contains(s, "://"):
		return fmt.Errorf("%q has a scheme; write only a host name or IP address", s)
	case strings.HasPrefix(s, "["):
		return fmt.Errorf("%q: write an IPv6 address without brackets, and its port in data_port", s)
	}
	if _, err := netip.ParseAddr(s); err == nil {
		return nil
	}
	if _, port, err := net.SplitHostPort(s); err == nil {
		return fmt.Errorf("%q contains a port (%s); put the port in data_port", s, port)
	}
	if !validHostname(s) {
		return fmt.Errorf("%q is not a host name or IP address", s)
	}
	return nil
}

func validHostname(s string) bool {
	if len(s) > 253 {
		return false
	}
	for _, label := range strings.Split(strings.TrimSuffix(s, "."), ".") {
		if len(label) == 0 || len(label) > 63 || !isIdent(label) ||
			label[0] == '-' || label[len(label)-1] == '-' {
			return false
		}
	}
	return true
}

// checkListen accepts host:port with a numeric port; port 0 picks a free one.
func checkListen(s string) error {
	if s == "" {
		return errors.New(`required: host:port to listen on, such as ":9103"`)
	}
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf(`%v; write host:port, such as ":9103" or "0.0.0.0:9103"`, err)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 0 || n > 65535 {
		return fmt.Errorf("port %q in %q is not a number 0-65535", port, s)
	}
	if host != "" && checkAddress(host) != nil {
		return fmt.Errorf("host %q in %q is not a host name or IP address", host, s)
	}
	return nil
}

// checkNATSURL accepts one URL, or several separated by commas as the NATS
// client does, each with scheme nats, tls, ws or wss.
func checkNATSURL(s string) error {
	for _, part := range strings.Split(s, ",") {
		if err := checkOneNATSURL(strings.TrimSpace(part)); err != nil {
			return err
		}
	}
	return nil
}

func checkOneNATSURL(s string) error {
	u, err := url.Parse(s)
	if err != nil {
		return fmt.Errorf(`%q is not a URL; write one such as "nats://10.0.0.1:4222"`, s)
	}
	if !slices.Contains([]string{"nats", "tls", "ws", "wss"}, u.Scheme) {
		return fmt.Errorf(`%q: the scheme must be nats, tls, ws or wss, as in "nats://10.0.0.1:4222"`, s)
	}
	if u.Hostname() == "" {
		return fmt.Errorf("%q has no host", s)
	}
	if p := u.Port(); p != "" {
		if n, err := strconv.Atoi(p); err != nil || checkPort(n) != nil {
			return fmt.Errorf("%q: port %q is not a number 1-65535", s, p)
		}
	}
	return nil
}

func checkNonNegative(d time.Duration) error {
	if d < 0 {
		return fmt.Errorf("duration %s must not be negative", d)
	}
	return nil
}

// checkKeepalive accepts 0 (off) or a period of at least a second: TCP
// keepalive counts in whole seconds.
func checkKeepalive(d time.Duration) error {
	if err := checkNonNegative(d); err != nil {
		return err
	}
	if d > 0 && d < time.Second {
		return fmt.Errorf("%s is too short: use at least 1s (TCP keepalive counts whole seconds), or 0s to turn keepalive and heartbeats off", d)
	}
	return nil
}

// checkCatalog accepts a postgres URL or a file path.
func checkCatalog(s string) error {
	scheme, _, isURL := strings.Cut(s, "://")
	if !isURL {
		return nil
	}
	if scheme != "postgres" && scheme != "postgresql" {
		return fmt.Errorf("catalog URL scheme %q is not supported; use a sqlite file path or postgres://", scheme)
	}
	if _, err := url.Parse(s); err != nil {
		return fmt.Errorf("catalog %q is not a valid URL", s)
	}
	return nil
}

func checkAbsDir(s string) error {
	switch {
	case s == "":
		return errors.New("required: an absolute directory path")
	case !filepath.IsAbs(s):
		return fmt.Errorf("%q is not an absolute path", s)
	}
	return nil
}

// checkInclude accepts an absolute, clean, slash-separated path.
func checkInclude(p string) error {
	switch {
	case !path.IsAbs(p):
		return fmt.Errorf("%q is not an absolute path", p)
	case path.Clean(p) != p:
		return fmt.Errorf("%q is not clean; write %q", p, path.Clean(p))
	}
	return nil
}

func checkExclude(pattern string) error {
	if pattern == "" {
		return errors.New("empty pattern")
	}
	if _, err := path.Match(pattern, ""); err != nil {
		return fmt.Errorf("%q is not a valid pattern (path.Match syntax: *, ?, [a-z], \\ escapes)", pattern)
	}
	return nil
}

var levels = []string{LevelFull, LevelIncremental, LevelDifferential}

func checkLevel(l string) error {
	if !slices.Contains(levels, l) {
		return fmt.Errorf("level %q is not one of %s", l, strings.Join(levels, ", "))
	}
	return nil
}

// checkKey: a public user nkey, as `ferry key show` prints it.
func checkKey(k string) error {
	if !nkeys.IsValidPublicUserKey(k) {
		return fmt.Errorf("%q is not a public key: want the \"U...\" line that `ferry key show` prints (never the \"SU...\" seed)", k)
	}
	return nil
}
