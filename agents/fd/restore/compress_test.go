package restore_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ferrybackup/ferry/agents/fd/backup"
	"github.com/ferrybackup/ferry/agents/fd/fileset"
	"github.com/ferrybackup/ferry/agents/fd/restore"
	"github.com/ferrybackup/ferry/datapath"
)

// TestRoundTripCompression: files of every kind of content go through a
// backup with compression off and on and come back byte for byte; with
// it on, compressible chunks travel as zdata records and incompressible
// ones as plain data, and the byte counts are the content's either way.
func TestRoundTripCompression(t *testing.T) {
	src := filepath.Join(t.TempDir(), "src")
	must(t, os.MkdirAll(src+"/d", 0o755))
	text := []byte(strings.Repeat("a line of text that compresses well, ", 100_000)) // 3.7 MB: several chunks
	random := make([]byte, 3*datapath.MaxChunk/2)
	rng := rand.NewChaCha8([32]byte{7})
	_, _ = rng.Read(random)
	files := map[string][]byte{
		"text":        text,
		"d/random":    random,
		"d/mixed":     append(append(bytes.Clone(random[:datapath.MaxChunk]), text[:datapath.MaxChunk]...), random[:1000]...),
		"d/small.txt": []byte("short"),
		"empty":       nil,
	}
	for name, b := range files {
		must(t, os.WriteFile(filepath.Join(src, name), b, 0o640))
	}
	var total int64
	for _, b := range files {
		total += int64(len(b))
	}
	for _, tc := range []struct {
		compression string
		zdata       bool
	}{{"", false}, {"none", false}, {datapath.CompressionZstd, true}} {
		t.Run("compression="+tc.compression, func(t *testing.T) {
			var buf bytes.Buffer
			sent, err := backup.SendWith(context.Background(), datapath.NewWriter(&buf), fileset.Spec{Include: []string{src}},
				backup.Options{Compression: tc.compression}, nil, nil)
			must(t, err)
			if sent.Bytes != total {
				t.Errorf("sent %d content bytes, want %d", sent.Bytes, total)
			}
			kinds := map[datapath.Kind]int{}
			must(t, datapath.SplitRecords(buf.Bytes(), func(k datapath.Kind, _, _ []byte) error { kinds[k]++; return nil }))
			if (kinds[datapath.KindZData] > 0) != tc.zdata {
				t.Errorf("%d zdata records, want some: %v", kinds[datapath.KindZData], tc.zdata)
			}
			if tc.zdata && kinds[datapath.KindData] == 0 {
				t.Error("random content went compressed")
			}
			if tc.zdata && buf.Len() > int(total)/2 {
				t.Errorf("stream of %d bytes for %d content bytes, half of it text", buf.Len(), total)
			}
			target := filepath.Join(t.TempDir(), "target")
			got, _, warn, err := receive(t, &buf, target, restore.Options{})
			must(t, err)
			if len(warn) != 0 || got.ReceivedBytes != total || got.Bytes != total {
				t.Fatalf("received %+v, warnings %q", got, warn)
			}
			for name, want := range files {
				b, err := os.ReadFile(filepath.Join(target, src, name))
				if err != nil || !bytes.Equal(b, want) {
					t.Errorf("%s: %d bytes back of %d, %v", name, len(b), len(want), err)
				}
			}
		})
	}
}

// TestRestoreZDataCorrupt: a zdata record that does not decode stops the
// restore, and the file is not left behind.
func TestRestoreZDataCorrupt(t *testing.T) {
	c, err := datapath.NewCompressor(datapath.CompressionZstd)
	must(t, err)
	content := bytes.Repeat([]byte("zz"), 4096)
	z, ok := c.AppendZData(nil, content)
	if !ok {
		t.Fatal("content did not compress")
	}
	z[len(z)-3] ^= 0xff
	stream := withEnd(t, func(w *datapath.Writer) {
		dirRecs(w, "d", 0o755, 0)
		w.Header(&datapath.FileHeader{Path: []byte("d/f"), Type: datapath.TypeRegular, Mode: 0o644, Size: int64(len(content))})
		w.ZData(z)
		w.Trailer(&datapath.FileTrailer{Bytes: int64(len(content))})
	})
	target := t.TempDir()
	_, _, _, err = receive(t, stream, target, restore.Options{})
	if err == nil {
		t.Fatal("corrupt zdata restored")
	}
	if _, err := os.Lstat(target + "/d/f"); err == nil {
		t.Error("half-written file left behind")
	}
}
