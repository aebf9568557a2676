package harness

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Proc is a running daemon whose output goes to a log file.
type Proc struct {
	Name    string
	Log     string
	Started time.Time
	cmd     *exec.Cmd
	done    chan struct{}
}

// Start runs bin with args; the process is stopped at test cleanup.
func Start(t testing.TB, dir, name, bin string, args ...string) *Proc {
	t.Helper()
	return StartCmd(t, dir, name, exec.Command(bin, args...))
}

// StartCmd runs a prepared command (e.g. in a network namespace) like Start.
func StartCmd(t testing.TB, dir, name string, cmd *exec.Cmd) *Proc {
	t.Helper()
	logPath := filepath.Join(dir, name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		t.Fatal(err)
	}
	cmd.Stdout, cmd.Stderr = f, f
	cmd.Env = append(os.Environ(), "FERRY_LOG_LEVEL=debug")
	if err := cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	p := &Proc{Name: name, Log: logPath, Started: time.Now(), cmd: cmd, done: make(chan struct{})}
	go func() { _ = cmd.Wait(); f.Close(); close(p.done) }()
	t.Cleanup(func() {
		p.Stop()
		if t.Failed() {
			t.Logf("--- log of %s (%s) ---\n%s", name, logPath, tail(logPath, 60))
		}
	})
	return p
}

// Stop sends SIGTERM, then SIGKILL after 10 s.
func (p *Proc) Stop() {
	select {
	case <-p.done:
		return
	default:
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
}

// Kill ends the process at once.
func (p *Proc) Kill() {
	_ = p.cmd.Process.Kill()
	<-p.done
}

// Pid of the process.
func (p *Proc) Pid() int { return p.cmd.Process.Pid }

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// LogText is the process's output so far.
func (p *Proc) LogText() string {
	b, _ := os.ReadFile(p.Log)
	return string(b)
}

func tail(path string, n int) string {
	b, _ := os.ReadFile(path)
	lines := strings.Split(string(b), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// WaitLog waits until the process's output contains text (a restarted
// daemon is ready only once it says so: its predecessor's last heartbeat
// may still count as online for a few seconds).
func (p *Proc) WaitLog(t testing.TB, text string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !strings.Contains(p.LogText(), text) {
		if p.Exited() || time.Now().After(deadline) {
			t.Fatalf("%s did not log %q (exited: %v):\n%s", p.Name, text, p.Exited(), tail(p.Log, 30))
		}
		time.Sleep(20 * time.Millisecond)
	}
}
