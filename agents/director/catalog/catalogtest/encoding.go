package catalogtest

import (
	"bytes"
	"math"
	"testing"
	"time"

	"github.com/ferrybackup/ferry/agents/director/catalog"
)

// allBytes is every byte value but NUL, in order.
func allBytes() []byte {
	b := make([]byte, 0, 255)
	for i := 1; i < 256; i++ {
		b = append(b, byte(i))
	}
	return b
}

func testBinaryPaths(t *testing.T, c catalog.Catalog) {
	paths := [][]byte{
		[]byte("/home/\xff\xfe/caf\xe9"),              // Latin-1, not UTF-8
		[]byte("/bad/\xc3\x28/\xed\xa0\x80/\xf8\x88"), // broken sequences, surrogate
		[]byte("/utf8/日本語/ünïcødé"),
		allBytes(),
		bytes.Repeat([]byte("/deep\x80"), 800),
		[]byte("/trailing space /and\ttab\nnewline"),
	}
	files := make([]catalog.File, len(paths))
	for i, p := range paths {
		files[i] = catalog.File{Path: p, LinkTarget: append([]byte("../\xff"), p...), Checksum: allBytes()}
	}
	id := create(t, c, backupJob("binary"))
	stage(t, c, id, 0, files)
	must(t, c.CommitJob(t.Context(), id, okResult(len(files)), 1))
	checkFiles(t, id, jobFiles(t, c, id), files)
}

func testFieldLimits(t *testing.T, c catalog.Catalog) {
	files := []catalog.File{
		{Path: []byte("/max"), Type: math.MaxUint8, Mode: math.MaxUint32, UID: math.MaxUint32,
			GID: math.MaxUint32, Mtime: math.MaxInt64, Size: math.MaxInt64, ChecksumAlgo: math.MaxUint8,
			BlockOffset: math.MaxInt64, Flags: math.MaxUint32, Volume: "vol-\u00e9"},
		{Path: []byte("/min"), Mtime: math.MinInt64, Size: -1, BlockOffset: -1},
		{Path: []byte("/zero")}, // nil link target and checksum
	}
	id := create(t, c, backupJob("limits"))
	stage(t, c, id, 0, files)
	must(t, c.CommitJob(t.Context(), id, okResult(len(files)), 1))
	checkFiles(t, id, jobFiles(t, c, id), files)
}

func testTimes(t *testing.T, c catalog.Catalog) {
	ctx := t.Context()
	zone := time.FixedZone("UTC-7", -7*3600)
	moon := time.Date(1969, 7, 20, 20, 17, 40, 123456789, time.UTC)
	created := time.Date(1901, 12, 13, 20, 45, 52, 999999999, zone)
	started := time.Date(2262, 4, 11, 23, 47, 16, 854775807, time.UTC) // near the int64 ns limit
	ended := time.Unix(0, -1)                                          // one ns before the epoch

	j := backupJob("times")
	j.Created = created
	id := create(t, c, j)
	must(t, c.MarkRunning(ctx, id, started))
	got := getJob(t, c, id)
	checkTime(t, "Created", got.Created, created)
	checkTime(t, "Started", got.Started, started)
	checkTime(t, "Ended before end", got.Ended, time.Time{})

	must(t, c.EndJob(ctx, id, catalog.Result{Status: catalog.StatusFailed, Ended: ended}))
	checkTime(t, "Ended", getJob(t, c, id).Ended, ended)

	must(t, c.AppendLog(ctx, []catalog.LogEntry{{JobID: id, Time: moon, Level: catalog.LevelInfo}}))
	log, err := c.JobLog(ctx, id)
	must(t, err)
	checkTime(t, "log Time", log[0].Time, moon)

	must(t, c.PutVolume(ctx, catalog.Volume{Name: "v", Updated: moon.In(zone)}))
	vols, err := c.Volumes(ctx)
	must(t, err)
	checkTime(t, "volume Updated", vols[0].Updated, moon)

	if loc := getJob(t, c, id).Created.Location(); loc != time.UTC {
		t.Fatalf("times read back in %v, want UTC", loc)
	}
}
