package config

import (
	"testing"
	"time"
)

func TestParseSize(t *testing.T) {
	tests := []struct {
		in   string
		want int64
		ok   bool
	}{
		{"0", 0, true},
		{"1024", 1024, true},
		{"12B", 12, true},
		{"1KiB", 1 << 10, true},
		{"3MiB", 3 << 20, true},
		{"1GiB", 1 << 30, true},
		{"50GiB", 50 << 30, true},
		{"2TiB", 2 << 40, true},
		{" 50 GiB ", 50 << 30, true},
		{"", 0, false},
		{"GiB", 0, false},
		{"1.5GiB", 0, false},
		{"-1GiB", 0, false},
		{"+1GiB", 0, false},
		{"1GB", 0, false},
		{"1 gib", 0, false},
		{"99999999999TiB", 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := parseSize(tt.in)
			if (err == nil) != tt.ok || got != tt.want {
				t.Errorf("parseSize(%q) = %d, %v; want %d, ok=%v", tt.in, got, err, tt.want, tt.ok)
			}
		})
	}
}

func TestParseDuration(t *testing.T) {
	if d, err := parseDuration("720h"); err != nil || d != 720*time.Hour {
		t.Errorf("parseDuration(720h) = %v, %v", d, err)
	}
	if d, err := parseDuration("0"); err != nil || d != 0 {
		t.Errorf("parseDuration(0) = %v, %v", d, err)
	}
	if _, err := parseDuration("10"); err == nil {
		t.Error("parseDuration(10) accepted a duration without unit")
	}
}

// checkTable runs a check over inputs that must pass or fail.
func checkTable(t *testing.T, check func(string) error, good, bad []string) {
	t.Helper()
	for _, in := range good {
		t.Run("good/"+in, func(t *testing.T) {
			if err := check(in); err != nil {
				t.Errorf("%q rejected: %v", in, err)
			}
		})
	}
	for _, in := range bad {
		t.Run("bad/"+in, func(t *testing.T) {
			if check(in) == nil {
				t.Errorf("%q accepted", in)
			}
		})
	}
}

func TestCheckAddress(t *testing.T) {
	checkTable(t, checkAddress,
		[]string{"10.0.0.5", "web1", "web1.example.com", "web1.example.com.", "::1", "fe80::1%eth0", "my_host"},
		[]string{"", "nats://10.0.0.5", "10.0.0.5:9102", "web1:9102", "[::1]", "[::1]:9102", "a b", "a/b", "-", "a..b"})
}

func TestCheckListen(t *testing.T) {
	checkTable(t, checkListen,
		[]string{":9103", "0.0.0.0:9103", "127.0.0.1:4222", "[::]:9102", "localhost:0"},
		[]string{"", "9103", "0.0.0.0", ":http", ":70000", ":-1", "nats://x:1", "a b:1"})
}

func TestCheckNATSURL(t *testing.T) {
	checkTable(t, checkNATSURL,
		[]string{"nats://10.0.0.1:4222", "tls://nats.example.com", "ws://h:8080", "wss://h",
			"nats://a:4222,nats://b:4222", "nats://user:pass@h:4222"},
		[]string{"", "10.0.0.1:4222", "localhost:4222", "http://h:4222", "nats://", "nats://h:0",
			"nats://h:99999", "nats://h:x", "nats://a:4222,http://b"})
}

func TestCheckCatalog(t *testing.T) {
	checkTable(t, checkCatalog,
		[]string{"", "/var/lib/ferry/catalog.db", "catalog.db", "postgres://u@h/ferry", "postgresql://h/db"},
		[]string{"mysql://h/db", "sqlite://x.db"})
}

func TestCheckExclude(t *testing.T) {
	checkTable(t, checkExclude,
		[]string{"*.tmp", "/home/*/.cache", "[a-z]*", `\*`},
		[]string{"", "[", "a[", `x\`, "[a-"})
}

func TestCheckInclude(t *testing.T) {
	checkTable(t, checkInclude,
		[]string{"/", "/etc", "/home/user"},
		[]string{"", "etc", "./etc", "/etc/", "/etc/../var", "//etc"})
}
