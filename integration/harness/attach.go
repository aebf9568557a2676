package harness

import "testing"

// Attach wraps processes a test started itself, for a layout NewCluster
// does not build (a NATS cluster, say), so that Ferry, Bus and WaitOnline
// work against natsURL. The test may set Director, SD and NATS to its
// processes for helpers that read their logs.
func Attach(t testing.TB, bin Binaries, dir, natsURL string) *Cluster {
	t.Helper()
	c := &Cluster{t: t, Bin: bin, Dir: dir, NATSURL: natsURL, FDs: map[string]*FD{}}
	c.connect()
	return c
}
