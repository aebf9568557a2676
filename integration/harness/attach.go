package harness

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferrybackup/ferry/agents/identity"
)

// AttachOptions are the security of a cluster a test started itself.
type AttachOptions struct {
	// KeyDir holds the identities the test made, one NAME.nkey seed file
	// each (the layout Keys.File names), "console" among them: the
	// console key the director's configuration names as console "test".
	// Empty: the bus is insecure.
	KeyDir string
	// CA is the deployment CA's certificate, which verifies the bus.
	CA string
}

// Attach wraps processes a test started itself, for a layout NewCluster
// does not build (a NATS cluster, say), so that Ferry, Bus and WaitOnline
// work against natsURL. The test may set Director, SD and NATS to its
// processes for helpers that read their logs. With opt.KeyDir set, Keys
// holds every identity found there, so ConsoleOptions and ConsoleEnv use
// the console's key and opt.CA.
func Attach(t testing.TB, bin Binaries, dir, natsURL string, opt AttachOptions) *Cluster {
	t.Helper()
	c := &Cluster{t: t, Bin: bin, Dir: dir, NATSURL: natsURL, FDs: map[string]*FD{}}
	if opt.KeyDir != "" {
		c.Keys = loadKeys(t, opt.KeyDir, opt.CA)
	}
	c.connect()
	return c
}

// loadKeys reads every NAME.nkey of dir; the console's must be there.
func loadKeys(t testing.TB, dir, ca string) *Keys {
	t.Helper()
	if ca == "" {
		t.Fatal("Attach: KeyDir without CA")
	}
	k := &Keys{Dir: dir, CA: ca, ids: map[string]*identity.Identity{}}
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range ents {
		name, ok := strings.CutSuffix(e.Name(), ".nkey")
		if !ok || !e.Type().IsRegular() {
			continue
		}
		id, err := identity.Load(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		k.ids[name] = id
	}
	if k.ids["console"] == nil {
		t.Fatalf("Attach: no console.nkey in %s", dir)
	}
	return k
}
