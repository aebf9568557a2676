package backup

import (
	"context"
	"io"
	"os/exec"
	"testing"
	"time"

	"github.com/ferrybackup/ferry/agents/fd/fdtest"
	"github.com/ferrybackup/ferry/agents/fd/fileset"
	"github.com/ferrybackup/ferry/datapath"
)

// BenchmarkSendSmallVsTar sends a tree of 10,000 small files (0-64 KiB,
// mean near 8 KiB, in 200 folders, warm in the page cache) into a
// discarding writer, and in the same round runs tar -cf - over it into a
// pipe that is drained. Each reports files/s; ratio is Send's files/s
// over tar's, summed over the rounds. The stream is not encrypted and no
// catalog is fed: this is the fd's own part of a small-file backup.
func BenchmarkSendSmallVsTar(b *testing.B) {
	tarBin, err := exec.LookPath("tar")
	if err != nil {
		b.Skip("no tar")
	}
	root := b.TempDir()
	files := fdtest.WriteSmallTree(b, root, 200, 50)
	var sendTime, tarTime time.Duration
	runs := []func(){
		func() {
			start := time.Now()
			if _, err := Send(context.Background(), datapath.NewWriter(io.Discard), fileset.Spec{Include: []string{root}}, nil, nil); err != nil {
				b.Fatal(err)
			}
			sendTime += time.Since(start)
		},
		func() {
			start := time.Now()
			cmd := exec.Command(tarBin, "-cf", "-", "-C", root, ".")
			out, err := cmd.StdoutPipe()
			if err != nil {
				b.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				b.Fatal(err)
			}
			if _, err := io.Copy(io.Discard, out); err != nil {
				b.Fatal(err)
			}
			if err := cmd.Wait(); err != nil {
				b.Fatal(err)
			}
			tarTime += time.Since(start)
		},
	}
	runs[0]() // warm the page cache and the dentries
	runs[1]()
	sendTime, tarTime = 0, 0
	n := 0
	for b.Loop() {
		n++
		for i := range runs { // each goes first in turn
			runs[(n+i)%len(runs)]()
		}
	}
	total := float64(n * files)
	b.ReportMetric(total/sendTime.Seconds(), "files/s")
	b.ReportMetric(total/tarTime.Seconds(), "tar-files/s")
	b.ReportMetric(tarTime.Seconds()/sendTime.Seconds(), "ratio")
}
