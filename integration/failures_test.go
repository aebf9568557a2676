package integration

import "testing"

// TestFailureTable runs one subtest per row of docs/failures.md. Rows that
// need root or network namespaces live in TestFailureRowsData and
// TestFailureRowsNet; they follow the same table.
func TestFailureTable(t *testing.T) {
	rows := []struct {
		name string
		run  func(*testing.T)
	}{
		{"unknown job, client or storage name", rowUnknownNames},
		{"fd or sd offline at start", rowOffline},
		{"data address refuses", rowRefused},
		{"fd killed mid-backup", rowFDKilled},
		{"sd killed mid-backup", rowSDKilled},
		{"external NATS restarted mid-job", rowNATSRestarted},
		{"director killed mid-job and restarted", rowDirectorRestarted},
	}
	for _, r := range rows {
		t.Run(r.name, r.run)
	}
}
