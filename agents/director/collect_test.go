package director

import (
	"strings"
	"testing"
	"time"

	"github.com/ferrybackup/ferry/agents/config"
	"github.com/ferrybackup/ferry/agents/director/catalog"
	"github.com/ferrybackup/ferry/schemas"
)

func TestJudge(t *testing.T) {
	d := &Director{now: func() time.Time { return time.Unix(0, 1).UTC() }}
	rj := newRunningJob(catalog.Job{ID: 9, Kind: catalog.KindBackup}, config.Client{Name: "c1"}, config.Storage{Name: "s1"})
	ok := func(files, bytes, warn int64) *schemas.AgentReport {
		return &schemas.AgentReport{OK: true, Files: files, Bytes: bytes, Warnings: warn, FileChunks: 2,
			Media: []schemas.MediaRef{{Volume: "s1-0001", Start: 32, End: 4096}}}
	}
	tests := []struct {
		name       string
		sd, fd     *schemas.AgentReport
		status     catalog.JobStatus
		reason     string
		wantChunks int
	}{
		{"totals agree", ok(3, 100, 0), ok(3, 100, 0), catalog.StatusOK, "", 2},
		{"warnings", ok(3, 100, 0), ok(3, 100, 2), catalog.StatusWarnings, "", 2},
		{"file count mismatch", ok(2, 100, 0), ok(3, 100, 0), catalog.StatusFailed, "totals disagree", 0},
		{"byte count mismatch", ok(3, 99, 0), ok(3, 100, 0), catalog.StatusFailed, "totals disagree", 0},
		{"fd failed", ok(3, 100, 0), &schemas.AgentReport{Reason: "read error"}, catalog.StatusFailed, "client c1: read error", 0},
		{"sd failed", &schemas.AgentReport{Reason: "no space"}, ok(3, 100, 0), catalog.StatusFailed, "storage daemon s1: no space", 0},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			res, chunks := d.judge(rj, tc.sd, tc.fd, "")
			if res.Status != tc.status || !strings.Contains(res.Reason, tc.reason) || chunks != tc.wantChunks {
				t.Fatalf("got %s %q chunks %d; want %s containing %q, chunks %d", res.Status, res.Reason, chunks, tc.status, tc.reason, tc.wantChunks)
			}
			if tc.status == catalog.StatusOK && (len(res.Media) != 1 || res.Media[0].JobID != 9) {
				t.Fatalf("media %+v", res.Media)
			}
		})
	}
}

// TestFirstFailureOrder: the failure reported first is the cause and comes
// first; the other side's follows.
func TestFirstFailureOrder(t *testing.T) {
	rj := newRunningJob(catalog.Job{ID: 1}, config.Client{Name: "c1"}, config.Storage{Name: "s1"})
	sd := &schemas.AgentReport{Reason: "volume full"}
	fd := &schemas.AgentReport{Reason: "broken pipe"}
	if got := firstFailure(rj, sd, fd, "sd"); !strings.HasPrefix(got, "storage daemon s1: volume full; then client c1: broken pipe") {
		t.Fatalf("sd first: %q", got)
	}
	if got := firstFailure(rj, sd, fd, "fd"); !strings.HasPrefix(got, "client c1: broken pipe; then storage daemon s1") {
		t.Fatalf("fd first: %q", got)
	}
}
