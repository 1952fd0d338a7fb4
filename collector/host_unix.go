//go:build linux || freebsd

package collector

import "golang.org/x/sys/unix"

// osRelease is the kernel release (os.version).
func osRelease() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}
