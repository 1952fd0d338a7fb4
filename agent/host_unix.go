//go:build linux || freebsd

package agent

import "golang.org/x/sys/unix"

// osRelease is the kernel release (os.version).
func osRelease() string {
	var u unix.Utsname
	if unix.Uname(&u) != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Release[:])
}
