package semconv

import (
	"hash/maphash"
	"slices"
	"time"

	"go.opentelemetry.io/otel/attribute"
)

// processCacheSlots is the number of processes a ProcessCache remembers
// (a power of two).
const processCacheSlots = 512

// processCacheImages is the number of programs (ProcessImageAttributes) a
// ProcessCache remembers (a power of two).
const processCacheImages = 64

// ProcessCache remembers the process attributes (ProcessAttributes) of
// recent processes, converted by its user into a T of its own (encoded
// protobuf, a list of attributes). Every log record of a process and its
// span carry the same ones, and building them is much of the cost of a
// record. They are kept in their three parts: a process's identity and
// its place (converted per process, again when they change), and the
// program it runs, kept per program, since a fork runs its parent's and an
// exec one many processes ran before: a fork converts only its identity
// and place, an exec nothing new when the program was seen. Not safe for
// concurrent use.
type ProcessCache[T any] struct {
	convert func(dst T, attrs []attribute.KeyValue) T
	attrs   []attribute.KeyValue
	slots   []processCacheEntry[T]
	images  []processCacheImage[T]
	seed    maphash.Seed
}

type processCacheEntry[T any] struct {
	ok      bool
	p       Process // the process ident and place were converted for
	created time.Time
	ident   T
	place   T
	// img is the program this process was last found to run: its later
	// records find it without hashing the program again.
	img *processCacheImage[T]
}

// processCacheImage is one program's converted ProcessImageAttributes.
type processCacheImage[T any] struct {
	ok             bool
	comm, exe, cwd string
	argv           []string
	truncated      bool
	v              T
}

// NewProcessCache returns an empty cache that converts attribute lists
// with convert, which is handed the T it converted for the same slot
// before (the zero T at first) to reuse its storage.
func NewProcessCache[T any](convert func(dst T, attrs []attribute.KeyValue) T) *ProcessCache[T] {
	return &ProcessCache[T]{convert: convert, attrs: make([]attribute.KeyValue, 0, 32),
		slots:  make([]processCacheEntry[T], processCacheSlots),
		images: make([]processCacheImage[T], processCacheImages), seed: maphash.MakeSeed()}
}

// Parts returns ProcessAttributes(p, created) in its three parts,
// converted: ProcessIdentityAttributes, ProcessImageAttributes and
// ProcessPlaceAttributes. They stay valid until the next call. ok is
// false, and nothing is returned, for p without a pid (a cgroup's
// attributes, rare and not kept): ProcessAttributes gives those.
func (c *ProcessCache[T]) Parts(p *Process, created time.Time) (ident, image, place T, ok bool) {
	if p.PID == 0 {
		return ident, image, place, false
	}
	e := &c.slots[uint32(p.PID)&(processCacheSlots-1)]
	if !e.ok || !e.created.Equal(created) || !sameIdentityPlace(&e.p, p) {
		e.ident = c.convert(e.ident, ProcessIdentityAttributes(p, created, c.attrs[:0]))
		e.place = c.convert(e.place, ProcessPlaceAttributes(p, c.attrs[:0]))
		e.ok, e.created, e.p = true, created, *p
	}
	if e.img == nil || !e.img.holds(p) {
		e.img = c.image(p)
	}
	return e.ident, e.img.v, e.place, true
}

// sameIdentityPlace reports whether p and q have the same fields of
// ProcessIdentityAttributes and ProcessPlaceAttributes.
func sameIdentityPlace(p, q *Process) bool {
	return p.PID == q.PID && p.PPID == q.PPID && p.NSPID == q.NSPID && p.Creds == q.Creds &&
		p.PGID == q.PGID && p.SID == q.SID && p.TTY == q.TTY &&
		p.CgroupID == q.CgroupID && p.CgroupPath == q.CgroupPath && p.ContainerID == q.ContainerID &&
		p.ContainerName == q.ContainerName && p.ContainerRuntime == q.ContainerRuntime &&
		p.JailID == q.JailID && p.JailName == q.JailName &&
		p.LoginUID == q.LoginUID && p.AuditSessionID == q.AuditSessionID
}

// holds reports whether im is p's program, converted.
func (im *processCacheImage[T]) holds(p *Process) bool {
	return im.ok && im.exe == p.Exe && im.comm == p.Comm && im.cwd == p.Cwd && im.truncated == p.ArgvTruncated &&
		slices.Equal(im.argv, p.Argv)
}

// image returns the remembered program of p, converting its
// ProcessImageAttributes when it is not among those remembered.
func (c *ProcessCache[T]) image(p *Process) *processCacheImage[T] {
	var h maphash.Hash
	h.SetSeed(c.seed)
	h.WriteString(p.Exe)
	h.WriteByte(0)
	h.WriteString(p.Comm)
	h.WriteByte(0)
	h.WriteString(p.Cwd)
	for _, a := range p.Argv {
		h.WriteByte(0)
		h.WriteString(a)
	}
	im := &c.images[h.Sum64()&(processCacheImages-1)]
	if im.holds(p) {
		return im
	}
	im.v = c.convert(im.v, ProcessImageAttributes(p, c.attrs[:0]))
	im.ok, im.exe, im.comm, im.cwd, im.truncated = true, p.Exe, p.Comm, p.Cwd, p.ArgvTruncated
	im.argv = slices.Clone(p.Argv)
	return im
}
