package integration

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferrybackup/ferry/integration/harness"
)

// TestDataSocketEncrypted: relays on the configured data addresses see
// every byte of the data sockets of a backup and a restore, passive and
// active. With the default security each connection starts with a TLS
// handshake record and never carries a marker string the backed-up files
// are full of. The same run with insecure = true does show the marker: the
// check can fail.
func TestDataSocketEncrypted(t *testing.T) {
	const marker = "FERRY-CLEARTEXT-MARKER-4c1d"
	work := t.TempDir()
	src := filepath.Join(work, "src")
	must(t, os.MkdirAll(src, 0o755))
	must(t, os.WriteFile(filepath.Join(src, "marked.txt"), bytes.Repeat([]byte(marker+"\n"), 20000), 0o644))
	must(t, os.WriteFile(filepath.Join(src, "small.txt"), []byte("a line with the "+marker+"\n"), 0o644))
	for _, tc := range []struct {
		name     string
		insecure bool
	}{{"tls", false}, {"insecure", true}} {
		t.Run(tc.name, func(t *testing.T) {
			c := harness.NewCluster(t, bin, harness.Options{Insecure: tc.insecure, Clients: []harness.Client{
				{Name: "p1", Passive: true, Include: []string{src}}, {Name: "a1", Include: []string{src}},
			}})
			relays := map[string]*harness.Relay{"p1": c.FDs["p1"].Relay, "a1": c.SDRelay}
			for _, r := range relays {
				r.Watch(marker)
			}
			for _, client := range []string{"p1", "a1"} {
				r := c.Ferry("run", "backup-"+client, "--wait")
				mustOK(t, r, "backup "+client)
				r = c.Ferry("restore", "--job", jobID(t, r), "--to", t.TempDir(), "--wait")
				mustOK(t, r, "restore "+client)
				if !strings.Contains(r.Stdout, ": ok,") {
					t.Fatalf("restore: %s", r.Stdout)
				}
			}
			for client, relay := range relays {
				if n := len(relay.Connections()); n < 2 {
					t.Fatalf("relay of %s saw %d connections, want a backup's and a restore's", client, n)
				}
				for i := range relay.Connections() {
					head := relay.Head(i)
					tlsRecord := len(head) >= 3 && head[0] == 0x16 && head[1] == 0x03
					if tlsRecord == tc.insecure {
						t.Errorf("%s connection %d starts % x: TLS handshake record %v, want %v", client, i, head[:min(len(head), 8)], tlsRecord, !tc.insecure)
					}
				}
				if relay.Seen() != tc.insecure {
					t.Errorf("%s: marker seen on the data socket: %v, want %v", client, relay.Seen(), tc.insecure)
				}
			}
		})
	}
}
