// Command ferrybench measures Ferry end to end against a tar + socat
// baseline on the same machine and disk, and prints one table.
//
// It builds the ferry binary once, generates deterministic datasets, starts
// two clusters side by side, each a real director (embedded NATS), sd and
// two fds (one passive, with its leafnode link, one active): "tls" with
// Ferry's default security (keys, a CA, TLS on every link) and "plain"
// (insecure = true). Then it runs interleaved rounds of baseline and Ferry
// backups and restores on both. See bench/README.md.
//
// Environment: BENCH_SCALE (default 1), BENCH_ROUNDS (3), BENCH_OUT (JSON
// file of the medians), BENCH_DIR (parent of the work folder, default the
// temp dir), BENCH_PAUSE (settle pause before each timed step, 2s),
// BENCH_EMPTY_RUNS (10), BENCH_PROFILE (folder: perf profiles of the sd,
// the fd and the director during one extra small backup and restore), and
// BENCH_KEEP=1 (keep the work folder: logs, configuration, volumes).
package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

type settings struct {
	scale     float64
	rounds    int
	out       string
	parent    string
	pause     time.Duration
	emptyRuns int
	profile   string
	keep      bool
}

func envSettings() (settings, error) {
	s := settings{scale: 1, rounds: 3, pause: 2 * time.Second, emptyRuns: 10, parent: os.TempDir()}
	var err error
	if v := os.Getenv("BENCH_SCALE"); v != "" {
		if s.scale, err = strconv.ParseFloat(v, 64); err != nil || s.scale <= 0 || s.scale > 16 {
			return s, fmt.Errorf("BENCH_SCALE=%q: give a factor such as 0.25", v)
		}
	}
	if v := os.Getenv("BENCH_ROUNDS"); v != "" {
		if s.rounds, err = strconv.Atoi(v); err != nil || s.rounds < 1 {
			return s, fmt.Errorf("BENCH_ROUNDS=%q: give a count of at least 1 (3 or more for a min–max that means something)", v)
		}
	}
	if v := os.Getenv("BENCH_PAUSE"); v != "" {
		if s.pause, err = time.ParseDuration(v); err != nil {
			return s, fmt.Errorf("BENCH_PAUSE=%q: give a duration such as 2s", v)
		}
	}
	if v := os.Getenv("BENCH_EMPTY_RUNS"); v != "" {
		if s.emptyRuns, err = strconv.Atoi(v); err != nil || s.emptyRuns < 1 {
			return s, fmt.Errorf("BENCH_EMPTY_RUNS=%q: give a count", v)
		}
	}
	if v := os.Getenv("BENCH_DIR"); v != "" {
		s.parent = v
	}
	s.out = os.Getenv("BENCH_OUT")
	if s.profile = os.Getenv("BENCH_PROFILE"); s.profile != "" {
		if s.profile, err = filepath.Abs(s.profile); err != nil {
			return s, err
		}
	}
	s.keep = os.Getenv("BENCH_KEEP") == "1"
	return s, nil
}

// Paths of one workload.
// pathPassive and pathActive run on the tls cluster (the default
// security), the *Plain ones on the plain cluster.
const (
	pathBase         = "base"
	pathPassive      = "passive"
	pathActive       = "active"
	pathPassivePlain = "passive-plain"
	pathActivePlain  = "active-plain"
)

var ferryPaths = []string{pathPassive, pathActive, pathPassivePlain, pathActivePlain}

func clientOf(path string) string {
	if path == pathPassive || path == pathPassivePlain {
		return passiveName
	}
	return activeName
}

// clusterOf is the cluster a Ferry path runs on.
func (b *bench) clusterOf(path string) *cluster {
	if path == pathPassivePlain || path == pathActivePlain {
		return b.plain
	}
	return b.tls
}

func (b *bench) clusters() []*cluster { return []*cluster{b.tls, b.plain} }

// ferryStep is one timed Ferry job.
type ferryStep struct {
	workload, op, path string
	cluster            string
	round              int
	id                 int64
	start              time.Time // just before the console command
	wall               float64   // seconds
	volume             int64     // bytes in the sd's volume folder before the job
	setup, openToEnd   float64   // seconds, from the director's log
}

type bench struct {
	s     settings
	work  string
	tls   *cluster // default security
	plain *cluster // insecure = true
	large dataset
	small dataset
	text  dataset // the small tree's text files, for zstd (zstd.go)
	empty dataset

	times   map[string][]float64 // "large/backup/active" → seconds per round
	steps   []*ferryStep         // every timed Ferry job
	stored  map[string][]float64 // fileset of the text tree → volume growth per backup, bytes
	emptyMS map[string][]float64 // "tls/act/start", "plain/pas/end"… → ms
	emptyAt map[string]int64     // "tls/start", "plain/end"… → volume bytes then
	peak    map[string]int64     // "tls/sd"… → max VmHWM over the large backups
	diskMBs []float64            // disk probe before each round
	commit  string               // git describe of the tree ferry was built from

	del        sync.WaitGroup
	diskStat   string    // /sys/dev/block/M:m/stat of the work folder's disk, or ""
	inodeReady time.Time // see waitInodes
	noJournal  bool      // the work folder is on ext4 without a journal
	started    time.Time
	datasetIn  time.Duration
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "ferrybench %s "+format+"\n", append([]any{time.Now().Format("15:04:05")}, args...)...)
}

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "ferrybench:", err)
		os.Exit(1)
	}
}

func run() error {
	s, err := envSettings()
	if err != nil {
		return err
	}
	if err := checkTools(); err != nil {
		return err
	}
	root, err := moduleRoot()
	if err != nil {
		return err
	}
	work, err := os.MkdirTemp(s.parent, "ferrybench.")
	if err != nil {
		return err
	}
	b := &bench{s: s, work: work, times: map[string][]float64{}, stored: map[string][]float64{}, emptyMS: map[string][]float64{},
		emptyAt: map[string]int64{}, peak: map[string]int64{}, started: time.Now(), diskStat: diskStatFile(work)}
	b.tls = &cluster{name: clusterTLS, secure: true, dir: filepath.Join(work, "etc-tls"), volumes: filepath.Join(work, "volumes", clusterTLS)}
	b.plain = &cluster{name: clusterPlain, dir: filepath.Join(work, "etc-plain"), volumes: filepath.Join(work, "volumes", clusterPlain)}
	if b.noJournal = ext4NoJournal(work, b.diskStat); b.noJournal {
		if fi, err := os.Stat(freedMarker(s.parent)); err == nil {
			b.inodeReady = fi.ModTime().Add(inodeMemory)
		}
	}
	defer b.cleanup()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-sig
		logf("interrupted: stopping daemons")
		b.cleanup()
		os.Exit(130)
	}()

	logf("work folder %s (datasets, volumes and restore targets on one disk)", work)
	for _, d := range []string{"etc-tls", "etc-plain", "bin", "data", "volumes", "restore", "archives"} {
		if err := os.MkdirAll(filepath.Join(work, d), 0o755); err != nil {
			return err
		}
	}
	logf("building ferry")
	ferry := filepath.Join(work, "bin", "ferry")
	b.tls.ferry, b.plain.ferry = ferry, ferry
	build := exec.Command("go", "build", "-o", ferry, "./cmd/ferry")
	build.Dir, build.Stdout, build.Stderr = root, os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("go build ./cmd/ferry: %w", err)
	}
	describe := exec.Command("git", "describe", "--always", "--dirty")
	describe.Dir = root
	if out, err := describe.Output(); err == nil {
		b.commit = strings.TrimSpace(string(out))
	} else {
		b.commit = "unknown"
	}
	if err := b.makeDatasets(); err != nil {
		return err
	}
	textz := b.text
	textz.name, textz.compress = textzName, true
	ports, err := freePorts(8) // one call: the two clusters never share a port
	if err != nil {
		return err
	}
	for i, c := range b.clusters() {
		c.datasets = []dataset{b.large, b.small, b.text, textz, b.empty}
		if err := c.writeConfigs(ports[4*i : 4*i+4]); err != nil {
			return err
		}
		logf("starting the %s cluster: director (embedded NATS), sd, passive fd %q and active fd %q", c.name, passiveName, activeName)
		if err := c.start(); err != nil {
			return fmt.Errorf("%s cluster: %w", c.name, err)
		}
	}
	for _, c := range b.clusters() {
		for _, cl := range []string{activeName, passiveName} { // warm-up, not timed
			if _, err := c.runJob("run", jobName("empty", cl), "--wait"); err != nil {
				return err
			}
		}
	}
	for _, c := range b.clusters() {
		if err := b.emptyJobs(c, "start"); err != nil {
			return err
		}
	}
	for r := range s.rounds {
		b.settle()
		mbs, err := diskProbe(b.work)
		if err != nil {
			return err
		}
		b.diskMBs = append(b.diskMBs, mbs)
		logf("round %d of %d (disk probe: %.0f MB/s)", r+1, s.rounds, mbs)
		for _, d := range []dataset{b.large, b.small} {
			if err := b.round(r, d); err != nil {
				return err
			}
		}
		if err := b.zstdRound(r); err != nil {
			return err
		}
	}
	for _, c := range b.clusters() {
		if err := b.emptyJobs(c, "end"); err != nil {
			return err
		}
	}
	if err := b.setupLatency(); err != nil {
		return err
	}
	if s.profile != "" {
		if err := b.profile(); err != nil {
			return err
		}
	}
	for _, c := range b.clusters() {
		c.stop()
	}
	rep := b.report()
	fmt.Print(rep.table)
	if s.out != "" {
		if err := os.WriteFile(s.out, rep.json, 0o644); err != nil {
			return err
		}
		logf("wrote %s", s.out)
	}
	return nil
}

var cleanupOnce sync.Once

func (b *bench) cleanup() {
	cleanupOnce.Do(func() {
		for _, c := range b.clusters() {
			if c != nil && len(c.order) > 0 {
				c.stop()
			}
		}
		b.del.Wait()
		if b.s.keep {
			logf("work folder kept: %s", b.work)
			return
		}
		_ = os.RemoveAll(b.work)
		if b.noJournal {
			now := time.Now()
			if f, err := os.Create(freedMarker(b.s.parent)); err == nil {
				f.Close()
				_ = os.Chtimes(freedMarker(b.s.parent), now, now)
			}
		}
	})
}

func checkTools() error {
	var missing []string
	for _, t := range []string{"socat", "tar", "sync", "bash", "go"} {
		if _, err := exec.LookPath(t); err != nil {
			missing = append(missing, t)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	return fmt.Errorf("missing %s; install with: apt-get install -y socat (tar, coreutils and bash come with the base system; go from go.dev)",
		strings.Join(missing, ", "))
}

func moduleRoot() (string, error) {
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		return "", fmt.Errorf("go env GOMOD: %w", err)
	}
	mod := strings.TrimSpace(string(out))
	if mod == "" || mod == os.DevNull {
		return "", fmt.Errorf("run ferrybench inside the ferry module (make bench does)")
	}
	return filepath.Dir(mod), nil
}

func (b *bench) makeDatasets() error {
	t := time.Now()
	size := int64(float64(largeFileSize)*b.s.scale) &^ (1<<20 - 1)
	size = max(size, 1<<20)
	n := max(int(float64(smallFiles)*b.s.scale+0.5), 100)
	logf("generating datasets: large %d × %d MiB, small %d files", largeFiles, size>>20, n)
	var err error
	if b.large, err = makeLarge(filepath.Join(b.work, "data", "large"), largeFiles, size); err != nil {
		return err
	}
	if b.small, err = makeSmall(filepath.Join(b.work, "data", "small"), n); err != nil {
		return err
	}
	if b.text, err = makeText(b.small, filepath.Join(b.work, "data", "text")); err != nil {
		return err
	}
	b.empty = dataset{name: "empty", dir: filepath.Join(b.work, "data", "empty")}
	if err := os.MkdirAll(b.empty.dir, 0o755); err != nil {
		return err
	}
	if err := exec.Command("sync").Run(); err != nil {
		return err
	}
	b.datasetIn = time.Since(t)
	logf("datasets written and synced in %s: large %.1f MiB, small %d files in %d folders, %.1f MiB",
		b.datasetIn.Round(time.Millisecond), float64(b.large.bytes)/(1<<20), b.small.files, b.small.dirs, float64(b.small.bytes)/(1<<20))
	return nil
}

func key(d dataset, op, path string) string { return d.name + "/" + op + "/" + path }

// manyFiles: creating or deleting this tree is dominated by inode work.
func manyFiles(d dataset) bool { return keepMany && d.files >= 1000 }

// round runs one round of d: five backups (baseline, then Ferry passive and
// active on the tls cluster, then on the plain one), then five restores, in
// an order that flips every round (A B C D E, then E D C B A). Before each backup the
// dataset is read once, so that every backup reads it from the page cache.
// Restore targets of a many-file tree stay until the run ends (see
// keepMany).
func (b *bench) round(r int, d dataset) error {
	order := append([]string{pathBase}, ferryPaths...)
	if r%2 == 1 {
		slices.Reverse(order)
	}
	archive := filepath.Join(b.work, "archives", fmt.Sprintf("r%d-%s.tar", r, d.name))
	jobs := map[string]int64{}
	for _, p := range order {
		if err := prewarm(d.dir); err != nil {
			return err
		}
		b.settle()
		var secs float64
		if p == pathBase {
			t, err := tarBackup(d, archive)
			if err != nil {
				return err
			}
			secs = t.Seconds()
		} else {
			c, cl := b.clusterOf(p), clientOf(p)
			watch := []string{"director", "sd", "fd-" + cl}
			if d.name == "large" {
				for _, n := range watch {
					if err := resetPeak(c.pid(n)); err != nil {
						return fmt.Errorf("reset VmHWM of %s: %w", n, err)
					}
				}
			}
			vol := dirBytes(c.volumes)
			res, err := c.runJob("run", jobName(d.name, cl), "--wait")
			if err != nil {
				return fmt.Errorf("%s cluster: %w", c.name, err)
			}
			if d.name == "large" {
				for _, n := range watch {
					v, err := peakRSS(c.pid(n))
					if err != nil {
						return err
					}
					b.peak[c.name+"/"+n] = max(b.peak[c.name+"/"+n], v)
				}
			}
			if res.files < d.files {
				return fmt.Errorf("job %d saved %d entries; the dataset has %d files", res.id, res.files, d.files)
			}
			jobs[p] = res.id
			secs = res.wall.Seconds()
			b.steps = append(b.steps, &ferryStep{workload: d.name, op: "backup", path: p, cluster: c.name, round: r, id: res.id, start: res.start, wall: secs, volume: vol})
		}
		b.times[key(d, "backup", p)] = append(b.times[key(d, "backup", p)], secs)
		logf("  %s backup  %-13s %7.2f s  %8.1f MB/s  %8.1f files/s", d.name, p, secs, float64(d.bytes)/1e6/secs, float64(d.files)/secs)
	}
	for _, p := range order {
		if manyFiles(d) {
			b.waitInodes()
		}
		b.settle()
		target := filepath.Join(b.work, "restore", fmt.Sprintf("r%d-%s-%s", r, d.name, p))
		var secs float64
		var got string
		if p == pathBase {
			t, err := tarRestore(archive, target)
			if err != nil {
				return err
			}
			secs, got = t.Seconds(), filepath.Join(target, filepath.Base(d.dir))
		} else {
			c := b.clusterOf(p)
			vol := dirBytes(c.volumes)
			res, err := c.runJob("restore", "--job", strconv.FormatInt(jobs[p], 10), "--to", target, "--wait")
			if err != nil {
				return fmt.Errorf("%s cluster: %w", c.name, err)
			}
			secs, got = res.wall.Seconds(), filepath.Join(target, d.dir)
			b.steps = append(b.steps, &ferryStep{workload: d.name, op: "restore", path: p, cluster: c.name, round: r, id: res.id, start: res.start, wall: secs, volume: vol})
		}
		// Full content check in the first round, files and sizes after.
		if err := verify(d, got, r == 0); err != nil {
			return fmt.Errorf("%s restore %s: %w", d.name, p, err)
		}
		b.times[key(d, "restore", p)] = append(b.times[key(d, "restore", p)], secs)
		logf("  %s restore %-13s %7.2f s  %8.1f MB/s  %8.1f files/s", d.name, p, secs, float64(d.bytes)/1e6/secs, float64(d.files)/secs)
		if !manyFiles(d) {
			b.remove(target)
		}
	}
	b.remove(archive)
	return nil
}

// emptyJobs times `ferry run EMPTY --wait` of an empty folder, active and
// passive clients alternating; when is "start" (fresh volume) or "end"
// (after the rounds); on cluster c.
func (b *bench) emptyJobs(c *cluster, when string) error {
	b.settle()
	at := c.name + "/" + when
	b.emptyAt[at] = dirBytes(c.volumes)
	logf("empty jobs on the %s cluster (%s, volume folder %.1f GiB): %d per client", c.name, when, float64(b.emptyAt[at])/(1<<30), b.s.emptyRuns)
	for range b.s.emptyRuns {
		for _, cl := range []string{activeName, passiveName} {
			res, err := c.runJob("run", jobName("empty", cl), "--wait")
			if err != nil {
				return err
			}
			k := c.name + "/" + cl + "/" + when
			b.emptyMS[k] = append(b.emptyMS[k], float64(res.wall.Microseconds())/1e3)
		}
	}
	return nil
}

// setupLatency fills each step's setup (start of the console command →
// the director's "data channel open" line of the job) and the rest (that
// line → "job ended").
func (b *bench) setupLatency() error {
	for _, c := range b.clusters() {
		open, ended, first, err := c.jobTimes()
		if err != nil {
			return err
		}
		for _, s := range b.steps {
			if s.cluster != c.name {
				continue
			}
			o, ok := open[s.id]
			e, ok2 := ended[s.id]
			if !ok || !ok2 {
				return fmt.Errorf("job %d: no \"data channel open\" or \"job ended\" line in %s", s.id, c.dirLog)
			}
			s.setup, s.openToEnd = o.Sub(s.start).Seconds(), e.Sub(o).Seconds()
			if f, ok := first[s.id]; ok {
				s.setup = f.Sub(s.start).Seconds() // the sd's timestamp of the first data frame
			}
		}
	}
	return nil
}

func cpuModel() string {
	data, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}
