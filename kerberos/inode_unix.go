//go:build unix

package kerberos

import (
	"os"
	"syscall"
)

// inode returns the file's inode number: kinit replaces the cache file
// (a new inode) even when size and mtime happen to match.
func inode(fi os.FileInfo) uint64 {
	if sys, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(sys.Ino)
	}
	return 0
}
