// Package wiring assembles Ferry's daemons with fx. It is the only package
// that imports fx: each daemon is a plain New + Run in its own package, and
// here each becomes an fx module whose start hook launches Run on a
// goroutine and whose stop hook cancels it and waits.
package wiring
