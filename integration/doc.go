// Package integration holds whole-system tests: they build the real ferry
// and nats-server binaries once (TestMain) and drive director, storage
// daemon and file daemons as separate processes on loopback.
package integration
