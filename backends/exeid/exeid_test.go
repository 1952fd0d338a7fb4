package exeid

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"testing"

	"golang.org/x/sys/unix"
)

// want computes the htlhash from its definition over the whole content.
func want(b []byte) string {
	n := min(len(b), 4096)
	var in []byte
	in = append(in, b[:n]...)
	in = append(in, b[len(b)-n:]...)
	l := uint64(len(b))
	in = append(in, byte(l>>56), byte(l>>48), byte(l>>40), byte(l>>32), byte(l>>24), byte(l>>16), byte(l>>8), byte(l))
	s := sha256.Sum256(in)
	return hex.EncodeToString(s[:16])
}

func TestHTLHash(t *testing.T) {
	for _, size := range []int{0, 1, 4095, 4096, 4097, 8192, 10000, 1 << 20} {
		b := make([]byte, size)
		for i := range b {
			b[i] = byte(i*7 + i>>12)
		}
		got, err := HTLHash(bytes.NewReader(b), int64(size))
		if err != nil {
			t.Fatalf("size %d: %v", size, err)
		}
		if w := want(b); got != w {
			t.Errorf("size %d: htlhash %s, want %s", size, got, w)
		}
	}
}

func writeExe(t testing.TB, content string) (string, Key) {
	t.Helper()
	p := filepath.Join(t.TempDir(), "exe")
	if err := os.WriteFile(p, []byte(content), 0o755); err != nil {
		t.Fatal(err)
	}
	var st unix.Stat_t
	if err := unix.Stat(p, &st); err != nil {
		t.Fatal(err)
	}
	fi, err := os.Stat(p) // the mtime portably: FreeBSD's Stat_t names it Mtimespec
	if err != nil {
		t.Fatal(err)
	}
	return p, Key{Dev: uint32(st.Dev), Ino: uint64(st.Ino), Size: uint64(st.Size), MtimeNS: uint64(fi.ModTime().UnixNano())}
}

// TestCache: the first lookup reads the file (through the path: pid 0 has
// no /proc entry), later ones hit the cache even after the file is gone;
// a file that is gone before the first read is counted, and so is one
// whose identity is not the executed file's.
func TestCache(t *testing.T) {
	p, k := writeExe(t, "#!/bin/sh\necho hi\n")
	c := NewCache(true, 1<<20)
	h, ok := c.Lookup(k, 0, p)
	if !ok || h.HTL != want([]byte("#!/bin/sh\necho hi\n")) {
		t.Fatalf("first lookup: %+v %v", h, ok)
	}
	if s := sha256.Sum256([]byte("#!/bin/sh\necho hi\n")); h.SHA256 != hex.EncodeToString(s[:]) {
		t.Errorf("sha256 %s", h.SHA256)
	}
	os.Remove(p)
	if h2, ok := c.Lookup(k, 0, p); !ok || h2 != h {
		t.Errorf("cached lookup after removal: %+v %v", h2, ok)
	}
	if n := c.Unavailable(); n != 0 {
		t.Errorf("unavailable %d, want 0", n)
	}
	k.Ino++
	if _, ok := c.Lookup(k, 0, p); ok {
		t.Error("lookup of a removed file succeeded")
	}
	p2, k2 := writeExe(t, "other")
	k2.Ino++ // not the file that was executed
	if _, ok := c.Lookup(k2, 0, p2); ok {
		t.Error("lookup of a file with another identity succeeded")
	}
	if n := c.Unavailable(); n != 2 {
		t.Errorf("unavailable %d, want 2", n)
	}
}

// TestCacheSHA256Cap: files above the cap get the htlhash only.
func TestCacheSHA256Cap(t *testing.T) {
	p, k := writeExe(t, "0123456789")
	h, ok := NewCache(true, 9).Lookup(k, 0, p)
	if !ok || h.HTL == "" || h.SHA256 != "" {
		t.Errorf("over the cap: %+v %v", h, ok)
	}
}

// BenchmarkCacheHit is the cost per exec event of a storm of one binary.
func BenchmarkCacheHit(b *testing.B) {
	p, k := writeExe(b, "x")
	c := NewCache(false, 0)
	c.Lookup(k, 0, p)
	b.ResetTimer()
	for range b.N {
		if _, ok := c.Lookup(k, 0, p); !ok {
			b.Fatal("miss")
		}
	}
}
