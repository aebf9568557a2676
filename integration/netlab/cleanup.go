package netlab

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// labName matches a lab name and captures its owner pid.
var labName = regexp.MustCompile(`^nl-([0-9]+)-([0-9]+)$`)

// nsName matches a lab namespace name and captures the lab name.
var nsName = regexp.MustCompile(`^(nl-[0-9]+-[0-9]+)-(srv|cli|nat)$`)

// termGrace is how long processes get between SIGTERM and SIGKILL.
const termGrace = 3 * time.Second

// reserveName picks an unused lab name and records this process as its
// owner in ownerDir, before any namespace of the lab exists.
func reserveName() (string, error) {
	if err := os.MkdirAll(ownerDir, 0o755); err != nil {
		return "", err
	}
	pid := os.Getpid()
	start, err := procStart(pid)
	if err != nil {
		return "", fmt.Errorf("reading own start time: %w", err)
	}
	for {
		name := fmt.Sprintf("nl-%d-%d", pid, labSeq.Add(1)-1)
		if labExists(name) {
			continue // a leftover of an earlier process with our pid
		}
		f, err := os.OpenFile(ownerFile(name), os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return "", err
		}
		_, werr := fmt.Fprintf(f, "%d %d\n", pid, start)
		if cerr := f.Close(); werr == nil {
			werr = cerr
		}
		if werr != nil {
			os.Remove(ownerFile(name))
			return "", werr
		}
		return name, nil
	}
}

func ownerFile(lab string) string { return filepath.Join(ownerDir, lab+".owner") }

// labExists reports whether anything of lab is left on the machine.
func labExists(lab string) bool {
	for _, h := range hostNames {
		for _, dir := range []string{netnsDir, etcNetns} {
			if _, err := os.Lstat(filepath.Join(dir, lab+"-"+h)); err == nil {
				return true
			}
		}
	}
	return false
}

// procStart returns the start time of process pid (field 22 of
// /proc/PID/stat, in clock ticks since boot); together with the pid it
// identifies a process even when pids are reused.
func procStart(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	_, rest, ok := cutLast(string(b), ")")
	f := strings.Fields(rest)
	// rest starts at field 3 (state); starttime is field 22.
	if !ok || len(f) < 20 {
		return 0, fmt.Errorf("cannot parse /proc/%d/stat", pid)
	}
	if f[0] == "Z" || f[0] == "X" {
		return 0, fmt.Errorf("process %d is a zombie", pid)
	}
	return strconv.ParseUint(f[19], 10, 64)
}

func cutLast(s, sep string) (before, after string, found bool) {
	if i := strings.LastIndex(s, sep); i >= 0 {
		return s[:i], s[i+len(sep):], true
	}
	return s, "", false
}

// ownerAlive reports whether the process recorded as pid with start time
// start still runs (a dead, zombie or reused pid is not alive).
func ownerAlive(pid int, start uint64) bool {
	s, err := procStart(pid)
	return err == nil && s == start
}

// pidAlive reports whether some live process has pid.
func pidAlive(pid int) bool {
	_, err := procStart(pid)
	return err == nil
}

var sweepMu sync.Mutex

// sweepStale removes the labs whose owner process is gone: those with an
// owner file naming a dead process, and namespaces or /etc/netns folders of
// lab names without an owner file whose pid is dead (labs of this package
// always get their owner file before their first namespace).
func sweepStale(ip string) []error {
	sweepMu.Lock()
	defer sweepMu.Unlock()
	stale := map[string]bool{}
	owned := map[string]bool{}
	if ents, err := os.ReadDir(ownerDir); err == nil {
		for _, e := range ents {
			lab, ok := strings.CutSuffix(e.Name(), ".owner")
			if !ok || !labName.MatchString(lab) {
				continue
			}
			owned[lab] = true
			b, err := os.ReadFile(filepath.Join(ownerDir, e.Name()))
			if err != nil {
				continue
			}
			var pid int
			var start uint64
			if _, err := fmt.Sscanf(string(b), "%d %d", &pid, &start); err != nil {
				// Being written right now, or garbage: give it a minute.
				if fi, err := e.Info(); err == nil && time.Since(fi.ModTime()) > time.Minute {
					stale[lab] = true
				}
				continue
			}
			if !ownerAlive(pid, start) {
				stale[lab] = true
			}
		}
	}
	for _, dir := range []string{netnsDir, etcNetns} {
		ents, err := os.ReadDir(dir)
		if err != nil {
			continue
		}
		for _, e := range ents {
			m := nsName.FindStringSubmatch(e.Name())
			if m == nil || owned[m[1]] {
				continue
			}
			pid, _ := strconv.Atoi(labName.FindStringSubmatch(m[1])[1])
			if !pidAlive(pid) {
				stale[m[1]] = true
			}
		}
	}
	var errs []error
	for lab := range stale {
		errs = append(errs, destroyLab(ip, lab)...)
	}
	return errs
}

// destroyLab kills every process in lab's namespaces (SIGTERM, SIGKILL after
// termGrace), deletes the namespaces, their /etc/netns folders and the
// owner file. The owner file goes last, so a half-removed lab is still found
// by the next sweep.
func destroyLab(ip, lab string) []error {
	var nss []string
	for _, h := range hostNames {
		ns := lab + "-" + h
		if _, err := os.Lstat(filepath.Join(netnsDir, ns)); err == nil {
			nss = append(nss, ns)
		}
	}
	errs := killNamespaces(ip, nss)
	for _, ns := range nss {
		if _, err := run(nil, ip, "netns", "del", ns); err != nil {
			if _, serr := os.Lstat(filepath.Join(netnsDir, ns)); serr == nil {
				errs = append(errs, err)
			}
		}
	}
	for _, h := range hostNames {
		if err := os.RemoveAll(filepath.Join(etcNetns, lab+"-"+h)); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) == 0 {
		if err := os.Remove(ownerFile(lab)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	return errs
}

// killNamespaces ends every process inside the namespaces nss: SIGTERM, then
// SIGKILL to those still inside after termGrace. It never kills the calling
// process (a test whose main thread was left inside a lab by setns).
func killNamespaces(ip string, nss []string) []error {
	type proc struct {
		pid int
		ino uint64
	}
	self := os.Getpid()
	var errs []error
	reported := map[int]bool{}
	inside := func(p proc) bool {
		ino, err := ProcessNetns(p.pid)
		return err == nil && ino == p.ino
	}
	waitGone := func(ps []proc, d time.Duration) []proc {
		deadline := time.Now().Add(d)
		for {
			var left []proc
			for _, p := range ps {
				if inside(p) {
					left = append(left, p)
				}
			}
			if len(left) == 0 || time.Now().After(deadline) {
				return left
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	// Processes may fork while being killed: look again a few times.
	for round := 0; round < 3; round++ {
		var ps []proc
		for _, ns := range nss {
			ino, err := inodeOf(filepath.Join(netnsDir, ns))
			if err != nil {
				continue
			}
			out, err := run(nil, ip, "netns", "pids", ns)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			for _, f := range strings.Fields(out) {
				pid, err := strconv.Atoi(f)
				if err != nil || pid <= 0 {
					continue
				}
				if pid == self {
					if !reported[pid] {
						errs = append(errs, fmt.Errorf("the test process itself (pid %d) is inside %s "+
							"(setns without switching back?); not killing it", pid, ns))
						reported[pid] = true
					}
					continue
				}
				ps = append(ps, proc{pid, ino})
			}
		}
		if len(ps) == 0 {
			break
		}
		for _, p := range ps {
			_ = syscall.Kill(p.pid, syscall.SIGTERM)
		}
		left := waitGone(ps, termGrace)
		for _, p := range left {
			_ = syscall.Kill(p.pid, syscall.SIGKILL)
		}
		if left = waitGone(left, 2*time.Second); len(left) > 0 {
			errs = append(errs, fmt.Errorf("processes %v survived SIGKILL", left))
		}
	}
	return errs
}
