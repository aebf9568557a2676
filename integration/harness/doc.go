// Package harness runs real Ferry processes for integration tests: it builds
// the binaries once, writes configuration files, starts a director, storage
// daemons and file daemons as separate processes on loopback, puts recording
// TCP relays on data addresses, and runs the console.
package harness
