//go:build unix

package main

import (
	"errors"
	"os"
	"syscall"
)

// holdSQLiteFile takes an exclusive flock(2) on the SQLite file for as
// long as serve runs (SQLite's own locks are fcntl locks, which flock
// does not touch) and reports whether another serve already holds it.
// SQLite has one writer: two serve processes on one file share it badly
// and each keeps its own circuit breakers and retention — PostgreSQL is
// the way to run several.
func holdSQLiteFile(path string) (shared bool, release func()) {
	f, err := os.Open(path)
	if err != nil {
		return false, func() {}
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		return errors.Is(err, syscall.EWOULDBLOCK), func() {}
	}
	return false, func() { f.Close() }
}
