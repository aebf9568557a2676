package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/zeebo/blake3"

	"github.com/ferrybackup/ferry/agents/sd/volume"
	"github.com/ferrybackup/ferry/datapath"
)

// testVolume writes volume v1: job 42 complete with a directory, a
// symlink, a 2 MiB file and a non-UTF-8 name, then job 43 left without end
// block. It returns the path and the offset of the 2 MiB file's first data
// block.
func testVolume(t *testing.T) (string, int64) {
	t.Helper()
	dir := t.TempDir()
	v, err := volume.Create(dir, "v1")
	if err != nil {
		t.Fatal(err)
	}
	const mtime = int64(1767323045123456789)
	big := make([]byte, 2<<20)
	for i := range big {
		big[i] = byte(i * 7)
	}
	var bigBlock int64
	session := func(id uint64, files []datapath.FileHeader, content [][]byte) *volume.Session {
		s, err := v.BeginSession(id, nil)
		if err != nil {
			t.Fatal(err)
		}
		add := func(k datapath.Kind, p []byte) volume.Position {
			pos, err := s.Add(append(datapath.AppendPrefix(nil, k, len(p)), p...))
			if err != nil {
				t.Fatal(err)
			}
			return pos
		}
		for i := range files {
			h := &files[i]
			h.Mtime, h.Size = mtime, int64(len(content[i]))
			add(datapath.KindFileHeader, datapath.AppendFileHeader(nil, h))
			for p := content[i]; len(p) > 0; {
				n := min(len(p), datapath.MaxChunk)
				if pos := add(datapath.KindData, p[:n]); len(content[i]) == len(big) && bigBlock == 0 {
					bigBlock = pos.Block
				}
				p = p[n:]
			}
			tr := datapath.FileTrailer{Algo: datapath.AlgoNone, Bytes: int64(len(content[i]))}
			if h.Type == datapath.TypeRegular {
				sum := blake3.Sum256(content[i])
				tr.Algo, tr.Sum = datapath.AlgoBLAKE3, sum[:]
			}
			add(datapath.KindFileTrailer, datapath.AppendFileTrailer(nil, &tr))
		}
		return s
	}
	s := session(42, []datapath.FileHeader{
		{Path: []byte("etc"), Type: datapath.TypeDir, Mode: 0o755},
		{Path: []byte("etc/link"), Type: datapath.TypeSymlink, Mode: 0o777, LinkTarget: []byte("hosts")},
		{Path: []byte("big.bin"), Type: datapath.TypeRegular, Mode: 0o640, UID: 1000, GID: 100},
		{Path: []byte("caf\xe9"), Type: datapath.TypeRegular, Mode: 0o4755},
	}, [][]byte{nil, nil, big, []byte("x")})
	if _, err := s.End(volume.SessionOK, volume.Totals{Files: 4, Bytes: 2<<20 + 1, Records: 11}, nil); err != nil {
		t.Fatal(err)
	}
	session(43, []datapath.FileHeader{{Path: []byte("a"), Type: datapath.TypeRegular, Mode: 0o600}},
		[][]byte{big[:1<<20+10]})
	v.Close() // leaves job 43 without end block
	return filepath.Join(dir, "v1"), bigBlock
}

// runCaptured runs the command line and returns its exit code and stdout.
func runCaptured(t *testing.T, args ...string) (int, string) {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	old := os.Stdout
	os.Stdout = w
	done := make(chan []byte)
	go func() {
		b, _ := io.ReadAll(r)
		done <- b
	}()
	code := run(args)
	os.Stdout = old
	w.Close()
	out := <-done
	r.Close()
	return code, string(out)
}

func TestVolumeLs(t *testing.T) {
	path, bigBlock := testVolume(t)
	code, out := runCaptured(t, "volume", "ls", path)
	if code != exitOK {
		t.Fatalf("exit %d, output:\n%s", code, out)
	}
	for _, want := range []string{
		"job 42  offsets 52-",
		"  ok  4 files  2097153 bytes (2.0 MiB)\n",
		"job 43  offsets ",
		"  INCOMPLETE (no end record)  0 files  1048576 bytes",
		`volume "v1": `,
		"2 sessions (1 incomplete), 5 files",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "big.bin") || strings.Contains(out, "note:") {
		t.Errorf("file lines or note without --files:\n%s", out)
	}

	code, out = runCaptured(t, "volume", "ls", "--files", "--verify", path)
	if code != exitOK {
		t.Fatalf("--files --verify: exit %d, output:\n%s", code, out)
	}
	for _, want := range []string{
		"job 42  start offset 52\n",
		"  drwxr-xr-x     0/0                0  2026-01-02T03:04:05.123456789Z  \"etc\"\n",
		"  lrwxrwxrwx     0/0                0  2026-01-02T03:04:05.123456789Z  \"etc/link\" -> \"hosts\"\n",
		"  -rw-r-----  1000/100        2097152  2026-01-02T03:04:05.123456789Z  \"big.bin\"  [verified]\n",
		"  -rwsr-xr-x     0/0                1  2026-01-02T03:04:05.123456789Z  \"caf\\xe9\"  [verified]\n",
		"\"a\"  [no trailer]\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}

	// A flipped byte in big.bin's first data block: exit 1, named block.
	flip(t, path, bigBlock+100)
	code, out = runCaptured(t, "volume", "ls", path)
	wantErr := fmt.Sprintf(`volume "v1": block at offset %d (seq 2): checksum mismatch`, bigBlock)
	if code != exitError || !strings.Contains(out, "CORRUPT: "+wantErr+"\n") || !strings.Contains(out, "ok, DAMAGED") {
		t.Fatalf("corrupt volume: exit %d, output:\n%s", code, out)
	}
	var buf bytes.Buffer
	err := runVolumeLs(context.Background(), &buf, path, &volumeLsOptions{})
	var ce *volume.CorruptError
	if !errors.As(err, &ce) || err.Error() != wantErr {
		t.Fatalf("runVolumeLs error %v, want %s", err, wantErr)
	}
}

func TestVolumeLsTornTail(t *testing.T) {
	path, _ := testVolume(t)
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(path, fi.Size()-7); err != nil {
		t.Fatal(err)
	}
	code, out := runCaptured(t, "volume", "ls", path)
	if code != exitOK || !strings.Contains(out, "note: torn tail at offset ") ||
		!strings.Contains(out, ": the last write was interrupted") || !strings.Contains(out, "  ok  4 files") {
		t.Fatalf("exit %d, output:\n%s", code, out)
	}
}

func TestVolumeLsJSON(t *testing.T) {
	path, _ := testVolume(t)
	var buf bytes.Buffer
	if err := runVolumeLs(context.Background(), &buf, path, &volumeLsOptions{files: true, json: true}); err != nil {
		t.Fatal(err)
	}
	var types []string
	paths := map[string]bool{}
	sc := bufio.NewScanner(&buf)
	for sc.Scan() {
		var m map[string]any
		if err := json.Unmarshal(sc.Bytes(), &m); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		types = append(types, m["type"].(string))
		if m["type"] != "file" {
			if m["type"] == "session" && m["job"] == float64(43) && (m["status"] != "incomplete" || m["complete"] != false) {
				t.Errorf("job 43: %v", m)
			}
			continue
		}
		if s, ok := m["path"].(string); ok {
			paths[s] = true
		} else {
			b, _ := base64.StdEncoding.DecodeString(m["path_b64"].(string))
			paths[string(b)] = true
		}
	}
	want := "session_start file file file file session session_start file session summary"
	if got := strings.Join(types, " "); got != want {
		t.Fatalf("types %s\nwant  %s", got, want)
	}
	for _, p := range []string{"etc", "etc/link", "big.bin", "caf\xe9", "a"} {
		if !paths[p] {
			t.Errorf("path %q missing from %v", p, paths)
		}
	}
}

func TestVolumeLsUsage(t *testing.T) {
	if code, _ := runCaptured(t, "volume", "ls"); code != exitUsage {
		t.Fatalf("no argument: exit %d", code)
	}
	if code, _ := runCaptured(t, "volume", "ls", filepath.Join(t.TempDir(), "nope")); code != exitError {
		t.Fatalf("missing file: exit %d", code)
	}
}

func flip(t *testing.T, path string, off int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[off] ^= 0x55
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
}
