package restore_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/ferrybackup/ferry/agents/fd/backup"
	"github.com/ferrybackup/ferry/agents/fd/fdtest"
	"github.com/ferrybackup/ferry/agents/fd/fileset"
	"github.com/ferrybackup/ferry/agents/fd/restore"
	"github.com/ferrybackup/ferry/datapath"
)

// BenchmarkReceiveVsTar restores a tree of about 10,000 small files
// (0-64 KiB, mean near 8 KiB, in 200 folders) into a fresh folder,
// syncfs included, and in the same round extracts a tar of the same tree
// with tar -x followed by a syncfs, and restores it once more with every
// file created by the receiver (serial), as before the writers created
// them. Each reports files/s; ratio and serial-ratio are the restore's
// files/s over tar's, summed over the rounds. Every round uses new
// folders and nothing is removed before the end: creating files soon
// after removing many is slow on some disks. Run it with a fixed count,
// say -benchtime=8x.
func BenchmarkReceiveVsTar(b *testing.B) {
	tarBin, err := exec.LookPath("tar")
	if err != nil {
		b.Skip("no tar")
	}
	src := b.TempDir()
	entries := writeSmallTree(b, src, 200, 50)
	var stream bytes.Buffer
	if _, err := backup.Send(context.Background(), datapath.NewWriter(&stream), fileset.Spec{Include: []string{src}}, nil, nil); err != nil {
		b.Fatal(err)
	}
	work := b.TempDir()
	archive := work + "/tree.tar"
	if out, err := exec.Command(tarBin, "-cf", archive, "-C", src, ".").CombinedOutput(); err != nil {
		b.Fatalf("tar -c: %v: %s", err, out)
	}
	var ferryTime, serialTime, tarTime time.Duration
	runs := []func(n int){
		func(n int) { ferryTime += receiveTimed(b, stream.Bytes(), fmt.Sprintf("%s/ferry%d", work, n)) },
		func(n int) {
			restore.SetNoLazyCreate(true)
			defer restore.SetNoLazyCreate(false)
			serialTime += receiveTimed(b, stream.Bytes(), fmt.Sprintf("%s/serial%d", work, n))
		},
		func(n int) { tarTime += untarTimed(b, tarBin, archive, fmt.Sprintf("%s/tar%d", work, n)) },
	}
	n := 0
	for b.Loop() {
		n++
		for i := range runs { // each goes first in turn
			runs[(n+i)%len(runs)](n)
		}
	}
	files := float64(n * entries)
	b.ReportMetric(files/ferryTime.Seconds(), "files/s")
	b.ReportMetric(files/serialTime.Seconds(), "serial-files/s")
	b.ReportMetric(files/tarTime.Seconds(), "tar-files/s")
	b.ReportMetric(tarTime.Seconds()/ferryTime.Seconds(), "ratio")
	b.ReportMetric(tarTime.Seconds()/serialTime.Seconds(), "serial-ratio")
}

// receiveTimed restores stream into target and returns how long it took.
func receiveTimed(b *testing.B, stream []byte, target string) time.Duration {
	start := time.Now()
	r := datapath.NewReader(bytes.NewReader(stream))
	if _, _, err := restore.Receive(context.Background(), r, target, restore.Options{}, nil, nil); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

// untarTimed extracts archive into a new folder dir, syncfs included, and
// returns how long it took.
func untarTimed(b *testing.B, tarBin, archive, dir string) time.Duration {
	if err := os.Mkdir(dir, 0o700); err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	if out, err := exec.Command(tarBin, "-xf", archive, "-C", dir).CombinedOutput(); err != nil {
		b.Fatalf("tar -x: %v: %s", err, out)
	}
	if err := syncfs(dir); err != nil {
		b.Fatal(err)
	}
	return time.Since(start)
}

// writeSmallTree writes the benchmark tree (fdtest.WriteSmallTree) and
// returns the number of entries a restore of root creates (folders, files
// and the path down to root).
func writeSmallTree(b *testing.B, root string, dirs, files int) int {
	n := fdtest.WriteSmallTree(b, root, dirs, files) + dirs
	for p := root; p != "/"; p = parentDir(p) {
		n++
	}
	return n
}

func parentDir(p string) string {
	for i := len(p) - 1; i > 0; i-- {
		if p[i] == '/' {
			return p[:i]
		}
	}
	return "/"
}

func syncfs(dir string) error {
	fd, err := unix.Open(dir, unix.O_RDONLY|unix.O_DIRECTORY|unix.O_CLOEXEC, 0)
	if err != nil {
		return err
	}
	defer unix.Close(fd)
	return unix.Syncfs(fd)
}
