package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// The text half of the small tree, backed up by the active client with
// compression off (fileset "text") and with zstd (fileset "textz", the
// same folder): files/s both ways and how much smaller the volume grows.
const (
	textName  = "text"
	textzName = "textz"
)

// makeText copies the text files of the small tree (its even-numbered
// files, *.txt) into dir, in the same folders.
func makeText(small dataset, dir string) (dataset, error) {
	d := dataset{name: textName, dir: dir}
	err := filepath.WalkDir(small.dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(small.dir, p)
		to := filepath.Join(dir, rel)
		if e.IsDir() {
			if rel != "." {
				d.dirs++
			}
			return os.MkdirAll(to, 0o755)
		}
		if !strings.HasSuffix(p, ".txt") {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		d.files++
		d.bytes += int64(len(b))
		return os.WriteFile(to, b, 0o644)
	})
	return d, err
}

// zstdRound backs up and restores the text tree with compression off and
// on (active client of the tls cluster only, order flipping every round), recording the time and
// how much the volume folder grew.
func (b *bench) zstdRound(r int) error {
	names := []string{textName, textzName}
	if r%2 == 1 {
		names = []string{textzName, textName}
	}
	jobs := map[string]int64{}
	for _, n := range names {
		if err := prewarm(b.text.dir); err != nil {
			return err
		}
		b.settle()
		vol := dirBytes(b.tls.volumes)
		res, err := b.tls.runJob("run", jobName(n, activeName), "--wait")
		if err != nil {
			return err
		}
		if res.files < b.text.files {
			return fmt.Errorf("job %d saved %d entries; the text tree has %d files", res.id, res.files, b.text.files)
		}
		jobs[n] = res.id
		secs := res.wall.Seconds()
		b.stored[n] = append(b.stored[n], float64(dirBytes(b.tls.volumes)-vol))
		b.times[n+"/backup"] = append(b.times[n+"/backup"], secs)
		logf("  %s backup  %-7s %7.2f s  %8.1f files/s  volume +%.1f MiB", textName, compressionOf(n), secs, float64(b.text.files)/secs,
			float64(dirBytes(b.tls.volumes)-vol)/(1<<20))
	}
	for _, n := range names {
		if manyFiles(b.text) {
			b.waitInodes()
		}
		b.settle()
		target := filepath.Join(b.work, "restore", fmt.Sprintf("r%d-%s", r, n))
		res, err := b.tls.runJob("restore", "--job", strconv.FormatInt(jobs[n], 10), "--to", target, "--wait")
		if err != nil {
			return err
		}
		if err := verify(b.text, filepath.Join(target, b.text.dir), r == 0); err != nil {
			return fmt.Errorf("%s restore (%s): %w", textName, compressionOf(n), err)
		}
		secs := res.wall.Seconds()
		b.times[n+"/restore"] = append(b.times[n+"/restore"], secs)
		logf("  %s restore %-7s %7.2f s  %8.1f files/s", textName, compressionOf(n), secs, float64(b.text.files)/secs)
		if !manyFiles(b.text) {
			b.remove(target)
		}
	}
	return nil
}

func compressionOf(fileset string) string {
	if fileset == textzName {
		return "zstd"
	}
	return "off"
}

// zstdReport writes the text tree's lines and JSON keys.
func (b *bench) zstdReport(t *strings.Builder, j map[string]any) {
	if b.text.files == 0 || len(b.stored[textzName]) == 0 {
		return
	}
	files := float64(b.text.files)
	fps := func(n, op string) stat { return stats(rates(b.times[n+"/"+op], files)) }
	storedOff, storedZ := stats(b.stored[textName]), stats(b.stored[textzName])
	ratio := float64(b.text.bytes) / storedZ.med
	fmt.Fprintf(t, "zstd on the small tree's text half (%d files, %.1f MiB, tls cluster's active client only, fileset compression = \"zstd\" against none, same rounds): "+
		"backup files/s off %s, zstd %s; restore files/s off %s, zstd %s; volume growth per backup off %.1f MiB, zstd %.1f MiB: "+
		"compression ratio %.2f (content ÷ volume growth with zstd; %.2f without)\n",
		b.text.files, float64(b.text.bytes)/(1<<20), fps(textName, "backup").f(0), fps(textzName, "backup").f(0),
		fps(textName, "restore").f(0), fps(textzName, "restore").f(0), storedOff.med/(1<<20), storedZ.med/(1<<20),
		ratio, float64(b.text.bytes)/storedOff.med)
	j["text_zstd_ratio"] = round3(ratio)
	j["text_backup_files_per_s"] = round3(fps(textName, "backup").med)
	j["text_backup_files_per_s_zstd"] = round3(fps(textzName, "backup").med)
	j["text_restore_files_per_s"] = round3(fps(textName, "restore").med)
	j["text_restore_files_per_s_zstd"] = round3(fps(textzName, "restore").med)
}
