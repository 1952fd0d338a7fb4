package export

import (
	"hash/maphash"
	"slices"
	"time"

	"go.opentelemetry.io/otel/attribute"

	"github.com/procotel/procotel/semconv"
)

// procAttrsSize is the number of processes a procAttrs remembers (a power
// of two).
const procAttrsSize = 512

// procImagesSize is the number of programs (semconv.ProcessImageAttributes)
// a procAttrs remembers (a power of two).
const procImagesSize = 64

// procAttrs remembers the encoded process attributes
// (semconv.ProcessAttributes) of recent processes. Every log record of a
// process and its span carry the same ones, and encoding them is most of
// the cost of a record. They are kept in their three parts: a process's
// identity and its place (encoded per process, again when they change),
// and the program it runs, kept per program, since a fork runs its
// parent's and an exec one many processes ran before: a fork encodes
// only its identity and place, an exec nothing new when the program was
// seen. The log and span sinks share one: entries are encoded as log
// record attributes and given the span's field number on the way out.
// Not safe for concurrent use (the Exporter's Event and Lifetime are
// called from one goroutine).
type procAttrs struct {
	attrs  []attribute.KeyValue
	slots  []procAttrsEntry
	images []procImage
	seed   maphash.Seed
}

type procAttrsEntry struct {
	ok      bool
	p       semconv.Process // the process ident and place were encoded for
	created time.Time
	ident   []byte // KeyValue messages in field logAttributes
	place   []byte
}

// procImage is one program's encoded semconv.ProcessImageAttributes.
type procImage struct {
	ok             bool
	comm, exe, cwd string
	argv           []string
	truncated      bool
	enc            []byte
}

func newProcAttrs() *procAttrs {
	return &procAttrs{attrs: make([]attribute.KeyValue, 0, 32), slots: make([]procAttrsEntry, procAttrsSize),
		images: make([]procImage, procImagesSize), seed: maphash.MakeSeed()}
}

// append appends the process attributes of p, created at created, as
// KeyValue messages in field (logAttributes or spanAttributes).
func (c *procAttrs) append(b []byte, field int, p *semconv.Process, created time.Time) []byte {
	if p.PID == 0 { // a cgroup's, not a process's: rare, not kept
		for _, kv := range semconv.ProcessAttributes(p, created, c.attrs[:0]) {
			b = appendKeyValue(b, field, kv)
		}
		return b
	}
	e := &c.slots[uint32(p.PID)&(procAttrsSize-1)]
	if !e.ok || !e.created.Equal(created) || !sameIdentityPlace(&e.p, p) {
		e.ident = c.encode(e.ident[:0], semconv.ProcessIdentityAttributes(p, created, c.attrs[:0]))
		e.place = c.encode(e.place[:0], semconv.ProcessPlaceAttributes(p, c.attrs[:0]))
		e.ok, e.created, e.p = true, created, *p
	}
	image := c.image(p)
	if field == logAttributes {
		b = append(b, e.ident...)
		b = append(b, image...)
		return append(b, e.place...)
	}
	b = retag(b, e.ident, field)
	b = retag(b, image, field)
	return retag(b, e.place, field)
}

// sameIdentityPlace reports whether p and q have the same fields of
// semconv.ProcessIdentityAttributes and semconv.ProcessPlaceAttributes.
func sameIdentityPlace(p, q *semconv.Process) bool {
	return p.PID == q.PID && p.PPID == q.PPID && p.NSPID == q.NSPID && p.Creds == q.Creds &&
		p.PGID == q.PGID && p.SID == q.SID && p.TTY == q.TTY &&
		p.CgroupID == q.CgroupID && p.CgroupPath == q.CgroupPath && p.ContainerID == q.ContainerID &&
		p.ContainerName == q.ContainerName && p.ContainerRuntime == q.ContainerRuntime &&
		p.JailID == q.JailID && p.JailName == q.JailName &&
		p.LoginUID == q.LoginUID && p.AuditSessionID == q.AuditSessionID
}

// image returns the encoded semconv.ProcessImageAttributes of p's
// program, encoding them when it is not among those remembered.
func (c *procAttrs) image(p *semconv.Process) []byte {
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
	im := &c.images[h.Sum64()&(procImagesSize-1)]
	if im.ok && im.exe == p.Exe && im.comm == p.Comm && im.cwd == p.Cwd && im.truncated == p.ArgvTruncated &&
		slices.Equal(im.argv, p.Argv) {
		return im.enc
	}
	im.enc = c.encode(im.enc[:0], semconv.ProcessImageAttributes(p, c.attrs[:0]))
	im.ok, im.exe, im.comm, im.cwd, im.truncated = true, p.Exe, p.Comm, p.Cwd, p.ArgvTruncated
	im.argv = slices.Clone(p.Argv)
	return im.enc
}

// encode appends attrs as KeyValue messages in field logAttributes.
func (c *procAttrs) encode(b []byte, attrs []attribute.KeyValue) []byte {
	for _, kv := range attrs {
		b = appendKeyValue(b, logAttributes, kv)
	}
	return b
}

// retag appends the length-delimited fields of enc, all of field
// logAttributes, with their tag set to field. Both tags are one byte.
func retag(b, enc []byte, field int) []byte {
	tag := byte(field<<3 | wireLen)
	for len(enc) > 0 {
		// enc[0] is the old tag; a varint length follows.
		n, w := uint64(0), 1
		for shift := 0; ; shift += 7 {
			c := enc[w]
			n |= uint64(c&0x7f) << shift
			w++
			if c < 0x80 {
				break
			}
		}
		end := w + int(n)
		b = append(b, tag)
		b = append(b, enc[1:end]...)
		enc = enc[end:]
	}
	return b
}
