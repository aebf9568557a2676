package main

import (
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// settle runs before every timed step:
//
//  1. background deletions finish and `sync` writes everything out;
//  2. the disk is idle (io_ticks of the work folder's block device still for
//     500 ms; at most 30 s), so discards (this root is mounted with
//     `discard`) and writeback of the previous step are done;
//  3. a pause of BENCH_PAUSE.
//
// Trees of many files are never deleted during the run (see keepMany).
func (b *bench) settle() {
	b.del.Wait()
	_ = exec.Command("sync").Run()
	b.waitDiskIdle()
	time.Sleep(b.s.pause)
}

// keepMany is why restore targets of the small tree stay until the run
// ends, while those of the large tree are deleted in the background right
// after their check: on ext4 without a journal (this machine's root, and
// common on VM scratch disks) the inode allocator skips every inode freed
// less than 60 s ago, 6 minutes while its inode table block is dirty
// (recently_deleted() in fs/ext4/ialloc.c), looking each one up in the
// buffer cache for every file it creates. Right after an rm -rf of 20,000
// files, perf puts 70% of a restore's CPU in find_get_block_common,
// recently_deleted and find_inode_bit, and a 2 s restore takes 8 to 20 s,
// for tar and Ferry alike: the disk's history, not the tool. Kept, the
// trees cost about 200 MiB each.
const keepMany = true

// remove deletes paths in the background; settle waits for it.
func (b *bench) remove(paths ...string) {
	b.del.Add(1)
	go func() {
		defer b.del.Done()
		for _, p := range paths {
			if err := os.RemoveAll(p); err != nil {
				logf("remove %s: %v", p, err)
			}
		}
	}()
}

// diskStatFile is the stat file of the block device holding dir, or "".
func diskStatFile(dir string) string {
	var st syscall.Stat_t
	if err := syscall.Stat(dir, &st); err != nil {
		return ""
	}
	dev := uint64(st.Dev)
	major := (dev>>8)&0xfff | (dev>>32)&^0xfff
	minor := dev&0xff | (dev>>12)&^0xff
	p := fmt.Sprintf("/sys/dev/block/%d:%d/stat", major, minor)
	if _, err := os.Stat(p); err != nil {
		return ""
	}
	return p
}

// ioTicks is the device's busy time in ms (field 10 of its stat).
func ioTicks(stat string) (string, bool) {
	b, err := os.ReadFile(stat)
	if err != nil {
		return "", false
	}
	f := strings.Fields(string(b))
	if len(f) < 10 {
		return "", false
	}
	return f[9], true
}

func (b *bench) waitDiskIdle() {
	if b.diskStat == "" {
		return
	}
	deadline := time.Now().Add(30 * time.Second)
	prev, ok := ioTicks(b.diskStat)
	for ok && time.Now().Before(deadline) {
		time.Sleep(500 * time.Millisecond)
		cur, ok2 := ioTicks(b.diskStat)
		if !ok2 || cur == prev {
			return
		}
		prev = cur
	}
}

// prewarm reads every file under dir once, so that what follows reads it
// from the page cache.
func prewarm(dir string) error {
	buf := make([]byte, 1<<20)
	return filepath.WalkDir(dir, func(p string, e fs.DirEntry, err error) error {
		if err != nil || !e.Type().IsRegular() {
			return err
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.CopyBuffer(io.Discard, struct{ io.Reader }{f}, buf)
		return err
	})
}

// dirBytes is the total size of the regular files in dir (not recursive).
func dirBytes(dir string) int64 {
	ents, _ := os.ReadDir(dir)
	var n int64
	for _, e := range ents {
		if fi, err := e.Info(); err == nil && fi.Mode().IsRegular() {
			n += fi.Size()
		}
	}
	return n
}

// diskProbe writes 256 MiB of random bytes into dir and fdatasyncs them,
// returning MB/s: how fast the disk was at that moment (a VM disk's speed
// drifts; read the ratios of one round against it).
func diskProbe(dir string) (float64, error) {
	buf := make([]byte, 4<<20)
	rng := rand.NewChaCha8(seed("probe"))
	_, _ = rng.Read(buf)
	p := filepath.Join(dir, "disk-probe")
	f, err := os.Create(p)
	if err != nil {
		return 0, err
	}
	defer os.Remove(p)
	defer f.Close()
	start := time.Now()
	const total = 256 << 20
	for n := 0; n < total; n += len(buf) {
		if _, err := f.Write(buf); err != nil {
			return 0, err
		}
	}
	if err := syscall.Fdatasync(int(f.Fd())); err != nil {
		return 0, err
	}
	return total / 1e6 / time.Since(start).Seconds(), nil
}

// inodeMemory is how long ext4 without a journal avoids reusing a freed
// inode whose inode-table block is dirty (RECENTCY_MIN + RECENTCY_DIRTY in
// fs/ext4/ialloc.c), with a margin.
const inodeMemory = 6*time.Minute + 10*time.Second

// freedMarker is touched in BENCH_DIR when a run deletes its work folder,
// so that the next run knows when many inodes were freed there.
func freedMarker(parent string) string { return filepath.Join(parent, ".ferrybench-freed") }

// ext4NoJournal reports whether dir is on ext4 mounted without a journal,
// where creating files right after freeing many inodes is slow.
func ext4NoJournal(dir, diskStat string) bool {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil || st.Type != 0xEF53 || diskStat == "" {
		return false
	}
	dev, err := filepath.EvalSymlinks(filepath.Dir(diskStat))
	if err != nil {
		return false
	}
	_, err = os.Stat("/proc/fs/jbd2/" + filepath.Base(dev) + "-8")
	return os.IsNotExist(err)
}

// waitInodes waits, before a step that creates many files, until inodes a
// previous run freed in the same folder can be reused at full speed.
func (b *bench) waitInodes() {
	if wait := time.Until(b.inodeReady); wait > 0 {
		logf("  waiting %s before creating many files: a previous run freed many inodes here less than %s ago (ext4 without a journal)",
			wait.Round(time.Second), inodeMemory)
		time.Sleep(wait)
	}
}
