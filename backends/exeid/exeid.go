// Package exeid identifies executables by content: the OpenTelemetry
// htlhash (process.executable.build_id.htlhash) and, opt-in, a full
// SHA-256. A Cache keyed by the file's identity (device, inode, size,
// mtime) hashes each binary once, however many times it is executed.
// It is plain Go, shared by the backends.
package exeid

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
)

// htlChunk is the size of the head and the tail htlhash reads.
const htlChunk = 4096

// HTLHash returns the htlhash of the size bytes of r, as the OpenTelemetry
// profiles mappings define it: SHA-256 over the first 4096 bytes, the last
// 4096 bytes (both the whole file when it is smaller) and the length as a
// big-endian uint64; the first 16 bytes of the digest, in lowercase hex.
func HTLHash(r io.ReaderAt, size int64) (string, error) {
	if size < 0 {
		return "", fmt.Errorf("htlhash: negative size %d", size)
	}
	var buf [htlChunk]byte
	h := sha256.New()
	n := min(size, htlChunk)
	if _, err := r.ReadAt(buf[:n], 0); err != nil && n > 0 {
		return "", fmt.Errorf("htlhash: read head: %w", err)
	}
	h.Write(buf[:n])
	if _, err := r.ReadAt(buf[:n], size-n); err != nil && n > 0 {
		return "", fmt.Errorf("htlhash: read tail: %w", err)
	}
	h.Write(buf[:n])
	var l [8]byte
	binary.BigEndian.PutUint64(l[:], uint64(size))
	h.Write(l[:])
	var sum [sha256.Size]byte
	return hex.EncodeToString(h.Sum(sum[:0])[:16]), nil
}

// SHA256 returns the SHA-256 of the size bytes of r, in lowercase hex.
func SHA256(r io.ReaderAt, size int64) (string, error) {
	h := sha256.New()
	if _, err := io.Copy(h, io.NewSectionReader(r, 0, size)); err != nil {
		return "", fmt.Errorf("sha256: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// Key is the identity of an executable file as the kernel saw it at
// exec. Two execs with the same Key ran the same bytes (unless the file
// was rewritten in place within one mtime tick).
type Key struct {
	Dev     uint32
	Ino     uint64
	Size    uint64
	MtimeNS uint64
}

// Hashes are the content ids of one executable; empty when not computed.
type Hashes struct {
	HTL    string
	SHA256 string
}

// maxEntries bounds a Cache; when full it starts over.
const maxEntries = 4096

// Cache computes Hashes once per Key. Lookup is not safe for concurrent
// use (one reader goroutine calls it); Unavailable may be called
// concurrently with it.
type Cache struct {
	sha256    bool
	sha256Max int64
	procRoot  string
	m         map[Key]Hashes

	unavailable atomic.Uint64
}

// NewCache returns a cache that computes the htlhash and, when withSHA256,
// the full SHA-256 of files up to sha256Max bytes.
func NewCache(withSHA256 bool, sha256Max int64) *Cache {
	return &Cache{sha256: withSHA256, sha256Max: sha256Max, procRoot: "/proc", m: make(map[Key]Hashes)}
}

// Unavailable counts lookups whose file could not be read.
func (c *Cache) Unavailable() uint64 { return c.unavailable.Load() }

// Lookup returns the hashes of the executable k that process pid runs,
// whose path is path. On a miss it reads the file through
// /proc/PID/exe, which reaches deleted and memfd executables while the
// process lives, else through path; a file whose identity is not k (the
// process exec'd again, the path now names another file) is not used.
// ok is false, and the miss counted, when neither could be read.
func (c *Cache) Lookup(k Key, pid int32, path string) (h Hashes, ok bool) {
	if h, ok := c.m[k]; ok {
		return h, true
	}
	h, err := c.compute(k, pid, path)
	if err != nil {
		c.unavailable.Add(1)
		return Hashes{}, false
	}
	if len(c.m) >= maxEntries {
		clear(c.m)
	}
	c.m[k] = h
	return h, true
}

var errNotSame = errors.New("not the executed file")

func (c *Cache) compute(k Key, pid int32, path string) (Hashes, error) {
	h, err := c.hashFile(c.procRoot+"/"+strconv.Itoa(int(pid))+"/exe", k)
	if err == nil || path == "" || path[0] != '/' {
		return h, err
	}
	return c.hashFile(path, k)
}

func (c *Cache) hashFile(name string, k Key) (Hashes, error) {
	f, err := os.Open(name)
	if err != nil {
		return Hashes{}, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return Hashes{}, err
	}
	size := fi.Size()
	if st, ok := fi.Sys().(*syscall.Stat_t); ok && k.Ino != 0 &&
		(uint64(st.Ino) != k.Ino || uint64(size) != k.Size) {
		return Hashes{}, fmt.Errorf("hash %s: %w", name, errNotSame)
	}
	var h Hashes
	if h.HTL, err = HTLHash(f, size); err != nil {
		return Hashes{}, err
	}
	if c.sha256 && size <= c.sha256Max {
		if h.SHA256, err = SHA256(f, size); err != nil {
			return Hashes{}, err
		}
	}
	return h, nil
}
