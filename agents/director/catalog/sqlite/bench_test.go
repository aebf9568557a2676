package sqlite_test

import (
	"fmt"
	"testing"

	"github.com/ferrybackup/ferry/agents/director/catalog"
)

// BenchmarkStageFiles stages 500-file chunks, one per iteration, each in
// its own durable transaction, and reports rows per second.
func BenchmarkStageFiles(b *testing.B) {
	const chunk = 500
	c := openTemp(b)
	defer c.Close()
	ctx := b.Context()
	id, err := c.CreateJob(ctx, catalog.Job{Name: "bench", Kind: catalog.KindBackup})
	if err != nil {
		b.Fatal(err)
	}
	files := make([]catalog.File, chunk)
	for i := range files {
		files[i] = catalog.File{
			Path: fmt.Appendf(nil, "/home/user/projects/ferry/src/file-%06d.go", i), Type: 1,
			Mode: 0o644, UID: 1000, GID: 1000, Mtime: 1_700_000_000_000_000_000, Size: 4096,
			ChecksumAlgo: 1, Checksum: make([]byte, 32), Volume: "vol-0001", BlockOffset: int64(i) * 65536,
		}
	}
	seq := 0
	for b.Loop() {
		if err := c.StageFiles(ctx, id, seq, files); err != nil {
			b.Fatal(err)
		}
		seq++
	}
	b.ReportMetric(float64(seq*chunk)/b.Elapsed().Seconds(), "rows/s")
}
