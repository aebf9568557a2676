package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"time"
)

// profile records, with perf, the active fd, sd and director of each
// cluster during one extra small backup and one restore of it (after the
// timed rounds: perf's sampling does not touch the table). Reports go to
// BENCH_PROFILE: NAME.data, NAME.self.txt (flat, self time) and
// NAME.children.txt (time including callees), NAME being the step, the
// cluster and the daemon (small-backup-tls-sd…): the tls and plain
// profiles side by side show what the default security costs.
func (b *bench) profile() error {
	if _, err := exec.LookPath("perf"); err != nil {
		return fmt.Errorf("BENCH_PROFILE needs perf: apt-get install -y linux-perf (or linux-tools-generic)")
	}
	for _, c := range b.clusters() {
		if err := b.profileCluster(c); err != nil {
			return err
		}
	}
	logf("perf profiles in %s", b.s.profile)
	return nil
}

func (b *bench) profileCluster(c *cluster) error {
	dir := b.s.profile
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var backupID int64
	steps := []struct {
		name string
		run  func() (jobResult, error)
	}{
		{"small-backup", func() (jobResult, error) {
			r, err := c.runJob("run", jobName("small", activeName), "--wait")
			backupID = r.id
			return r, err
		}},
		{"small-restore", func() (jobResult, error) {
			target := filepath.Join(b.work, "restore", "profile-small-"+c.name)
			return c.runJob("restore", "--job", strconv.FormatInt(backupID, 10), "--to", target, "--wait")
		}},
	}
	for _, st := range steps {
		b.waitInodes()
		b.settle()
		var perfs []*exec.Cmd
		for _, n := range []string{"fd-" + activeName, "sd", "director"} {
			data := filepath.Join(dir, st.name+"-"+c.name+"-"+n+".data")
			cmd := exec.Command("perf", "record", "-F", "1999", "-g", "-p", strconv.Itoa(c.pid(n)), "-o", data)
			log, err := os.Create(data + ".log")
			if err != nil {
				return err
			}
			cmd.Stdout, cmd.Stderr = log, log
			if err := cmd.Start(); err != nil {
				return err
			}
			log.Close()
			perfs = append(perfs, cmd)
		}
		time.Sleep(time.Second) // perf attaches
		res, err := st.run()
		for _, p := range perfs {
			_ = p.Process.Signal(syscall.SIGINT)
			_ = p.Wait()
		}
		if err != nil {
			return err
		}
		logf("profiled %s on the %s cluster (job %d, %.2f s under perf)", st.name, c.name, res.id, res.wall.Seconds())
		for _, n := range []string{"fd-" + activeName, "sd", "director"} {
			data := filepath.Join(dir, st.name+"-"+c.name+"-"+n+".data")
			for _, mode := range []struct{ suffix, flag string }{{"self", "--no-children"}, {"children", "--children"}} {
				out, err := os.Create(filepath.Join(dir, st.name+"-"+c.name+"-"+n+"."+mode.suffix+".txt"))
				if err != nil {
					return err
				}
				cmd := exec.Command("perf", "report", "-i", data, "--stdio", mode.flag, "--sort", "symbol", "-g", "none", "--percent-limit", "0.5")
				cmd.Stdout, cmd.Stderr = out, out
				_ = cmd.Run()
				out.Close()
			}
		}
	}
	return nil
}
