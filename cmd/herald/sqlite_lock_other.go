//go:build !unix

package main

// holdSQLiteFile cannot tell on this system whether another serve has the
// file open.
func holdSQLiteFile(string) (bool, func()) { return false, func() {} }
