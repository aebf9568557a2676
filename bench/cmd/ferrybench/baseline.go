package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// The baseline: tar and socat over loopback TCP, the shape of a backup
// without a backup system. socat runs with -u (one direction): without it
// the listener, whose stdin is at EOF, would start its half-close timeout
// (-t, 0.5 s) at once and could cut the stream; the sender would wait that
// timeout after its EOF.

// waitListen waits until something listens on 127.0.0.1:port, reading
// /proc/net/tcp so that no probe connection is used up.
func waitListen(port int) error {
	want := fmt.Sprintf(":%04X ", port)
	deadline := time.Now().Add(10 * time.Second)
	for {
		for _, f := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
			b, _ := os.ReadFile(f)
			for _, l := range strings.Split(string(b), "\n") {
				fs := strings.Fields(l)
				// local_address rem_address st: 0A is LISTEN
				if len(fs) > 3 && strings.HasSuffix(fs[1]+" ", want) && fs[3] == "0A" {
					return nil
				}
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("nothing listens on port %d after 10 s", port)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

type shellCmd struct {
	cmd *exec.Cmd
	err bytes.Buffer
}

func shell(script string) *shellCmd {
	s := &shellCmd{cmd: exec.Command("bash", "-o", "pipefail", "-c", script)}
	s.cmd.Stderr = &s.err
	return s
}

func (s *shellCmd) wait() error {
	if err := s.cmd.Wait(); err != nil {
		return fmt.Errorf("%s: %v: %s", strings.Join(s.cmd.Args[4:], " "), err, s.err.String())
	}
	return nil
}

// tarBackup: `tar -cf - DIR | socat -u - TCP:127.0.0.1:PORT` into
// `socat -u TCP-LISTEN:PORT - > file`, then `sync file` (fsync). Timed
// from the sender's start to the end of the sync; the listener is up
// before, as the sd is.
func tarBackup(d dataset, out string) (time.Duration, error) {
	ports, err := freePorts(1)
	if err != nil {
		return 0, err
	}
	port := strconv.Itoa(ports[0])
	f, err := os.Create(out)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	recv := shell("exec socat -u TCP-LISTEN:" + port + ",bind=127.0.0.1,reuseaddr -")
	recv.cmd.Stdout = f
	if err := recv.cmd.Start(); err != nil {
		return 0, err
	}
	if err := waitListen(ports[0]); err != nil {
		_ = recv.cmd.Process.Kill()
		_ = recv.wait()
		return 0, err
	}
	start := time.Now()
	send := shell(fmt.Sprintf("tar -C %q -cf - %q | socat -u - TCP:127.0.0.1:%s", filepath.Dir(d.dir), filepath.Base(d.dir), port))
	if err := send.cmd.Start(); err != nil {
		_ = recv.cmd.Process.Kill()
		return 0, err
	}
	errS, errR := send.wait(), recv.wait()
	if errS != nil || errR != nil {
		return 0, fmt.Errorf("tar backup: %v %v", errS, errR)
	}
	if out, err := exec.Command("sync", out).CombinedOutput(); err != nil {
		return 0, fmt.Errorf("sync: %v: %s", err, out)
	}
	return time.Since(start), nil
}

// tarRestore: `socat -u - TCP:127.0.0.1:PORT < file` into
// `socat -u TCP-LISTEN:PORT - | tar -x -C target`, then `sync -f target`
// (syncfs, as the fd's restore ends). target is created before the clock
// starts.
func tarRestore(archive, target string) (time.Duration, error) {
	if err := os.Mkdir(target, 0o755); err != nil {
		return 0, err
	}
	ports, err := freePorts(1)
	if err != nil {
		return 0, err
	}
	port := strconv.Itoa(ports[0])
	recv := shell(fmt.Sprintf("socat -u TCP-LISTEN:%s,bind=127.0.0.1,reuseaddr - | tar -x -C %q", port, target))
	if err := recv.cmd.Start(); err != nil {
		return 0, err
	}
	if err := waitListen(ports[0]); err != nil {
		_ = recv.cmd.Process.Kill()
		_ = recv.wait()
		return 0, err
	}
	f, err := os.Open(archive)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	start := time.Now()
	send := shell("exec socat -u - TCP:127.0.0.1:" + port)
	send.cmd.Stdin = f
	if err := send.cmd.Start(); err != nil {
		_ = recv.cmd.Process.Kill()
		return 0, err
	}
	errS, errR := send.wait(), recv.wait()
	if errS != nil || errR != nil {
		return 0, fmt.Errorf("tar restore: %v %v", errS, errR)
	}
	if out, err := exec.Command("sync", "-f", target).CombinedOutput(); err != nil {
		return 0, fmt.Errorf("sync -f: %v: %s", err, out)
	}
	return time.Since(start), nil
}
