package restore_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"testing"

	"github.com/ferrybackup/ferry/agents/fd/backup"
	"github.com/ferrybackup/ferry/agents/fd/fileset"
	"github.com/ferrybackup/ferry/agents/fd/restore"
	"github.com/ferrybackup/ferry/datapath"
)

// BenchmarkReceiveSmallFiles restores 100 directories of 50 small files.
func BenchmarkReceiveSmallFiles(b *testing.B) {
	src := b.TempDir()
	for d := range 100 {
		dir := fmt.Sprintf("%s/d%03d", src, d)
		if err := os.Mkdir(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		for f := range 50 {
			if err := os.WriteFile(fmt.Sprintf("%s/f%03d", dir, f), []byte("small file content\n"), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	var stream bytes.Buffer
	if _, err := backup.Send(context.Background(), datapath.NewWriter(&stream), fileset.Spec{Include: []string{src}}, nil, nil); err != nil {
		b.Fatal(err)
	}
	targets := b.TempDir()
	b.ResetTimer()
	n := 0
	for b.Loop() {
		n++
		target := fmt.Sprintf("%s/%d", targets, n)
		r := datapath.NewReader(bytes.NewReader(stream.Bytes()))
		if _, _, err := restore.Receive(context.Background(), r, target, restore.Options{}, nil, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(n*5100), "ns/entry")
}
