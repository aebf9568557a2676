// Package bustest starts an embedded NATS server with JetStream for tests
// and connects to it.
package bustest

import (
	"log/slog"
	"testing"

	"github.com/ferrybackup/ferry/bus"
	"github.com/ferrybackup/ferry/bus/embedded"
)

// Server starts an embedded server on a random loopback port, stopped at
// cleanup.
func Server(t testing.TB) *embedded.Server {
	t.Helper()
	s, err := embedded.Start(embedded.Config{Listen: "127.0.0.1:0", DataDir: t.TempDir(), JetStream: true, Name: "test"}, Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(s.Shutdown)
	return s
}

// Conn connects a client to s, closed at cleanup.
func Conn(t testing.TB, s *embedded.Server, name string) *bus.Conn {
	t.Helper()
	c, err := bus.Connect(s.ClientURL(), bus.Options{Name: name}, Logger(t))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c
}

// Logger routes logs to t.Log.
func Logger(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
}

type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(string(p))
	return len(p), nil
}
