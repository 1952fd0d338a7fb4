//go:build linux

package linux

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"
	"unsafe"

	"github.com/cilium/ebpf"
	"golang.org/x/sys/unix"
)

// The rings the configured buffer is divided into: one per online CPU,
// as many as the CPUs up to maxRings, a power of two, each of at least
// minRingBytes; the online CPUs are dealt to the rings in turn
// (ringOfCPU). A ring all CPUs share costs each record about 150 ns of
// its state moving between them (docs/storm.md, twelfth sitting); the
// buffer stays the size asked for.
const (
	maxRings     = 16
	minRingBytes = 512 << 10
	maxCPUs      = 1024 // MAX_CPUS in bpf/procotel.bpf.c
)

// cpuOnlinePath lists the online CPUs ("0-3,6").
const cpuOnlinePath = "/sys/devices/system/cpu/online"

// onlineCPUs reads a CPU list such as /sys/devices/system/cpu/online.
func onlineCPUs(path string) ([]int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return parseCPUList(strings.TrimSpace(string(b)))
}

// parseCPUList parses the kernel's CPU list format: ranges and single
// CPUs separated by commas ("0-3,6,8-9").
func parseCPUList(s string) ([]int, error) {
	var cpus []int
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(part, "-")
		a, err := strconv.Atoi(lo)
		b := a
		if err == nil && isRange {
			b, err = strconv.Atoi(hi)
		}
		if err != nil || a < 0 || b < a || b-a > 1<<16 {
			return nil, fmt.Errorf("CPU list %q: bad entry %q", s, part)
		}
		for c := a; c <= b; c++ {
			cpus = append(cpus, c)
		}
	}
	return cpus, nil
}

// ringOfCPU returns the ring of every CPU number: the online CPUs dealt
// to the rings in turn, so that each ring has its share of them even when
// their numbers have gaps; the possible CPUs that are not online (they
// may come online later) by their number. CPUs from maxCPUs on write to
// ring 0.
func ringOfCPU(online []int, possible, rings int) [maxCPUs]uint8 {
	var t [maxCPUs]uint8
	for c := range min(possible, maxCPUs) {
		t[c] = uint8(c % rings)
	}
	for i, c := range online {
		if c < maxCPUs {
			t[c] = uint8(i % rings)
		}
	}
	return t
}

// ringLayout returns how many rings a buffer of size bytes (a power of
// two of at least a page) is divided into on cpus CPUs, and the size of
// each.
func ringLayout(size, cpus int) (rings, each int) {
	rings = 1
	for rings*2 <= min(cpus, maxRings) && size/(rings*2) >= minRingBytes {
		rings *= 2
	}
	return rings, size / rings
}

// A ring record's header: its length, with these two flags in the top
// bits, and the page offset the kernel uses to find its ring.
const (
	ringHeaderSize = 8
	ringBusyBit    = 1 << 31 // reserved, not yet submitted
	ringDiscardBit = 1 << 30 // discarded: skip it
)

// ring is one BPF ring buffer mapped for reading: the consumer position
// (the one page user space writes), the producer position, and the data.
// The kernel offers the data twice in a row, so that a record that wraps
// past the end is contiguous in the second copy; the reader maps it once
// and copies the rare record that wraps (once per lap of the ring) into
// wrapped. Mapped twice, each data page was counted twice in the
// process's resident set from the start (4 MiB more RSS with the default
// 4 MiB buffer) for the same memory.
type ring struct {
	m          *ebpf.Map
	consPage   []byte
	prodPages  []byte
	cons, prod *atomic.Uintptr
	data       []byte // size bytes: the ring's data, mapped once
	mask       uintptr
	wrapped    []byte        // the head when it wraps past the end of data
	wraps      atomic.Uint64 // records read through wrapped (read by tests)

	pos    uintptr // read up to here (ahead of *cons until published)
	end    uintptr // the producer position last loaded
	head   []byte  // the submitted record at pos, nil when not looked at
	headNS uint64  // its kernel time
	next   uintptr // the position after it
	unpub  int     // records read since *cons was last written
}

// publishEvery is how many records the reader takes from a ring before it
// hands the space back to the kernel, besides at the end of each pass:
// each write of the consumer position takes the line away from the CPUs
// that reserve in the ring.
const publishEvery = 32

func openRing(m *ebpf.Map) (*ring, error) {
	size := int(m.MaxEntries())
	page := os.Getpagesize()
	cons, err := unix.Mmap(m.FD(), 0, page, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("map ring buffer consumer page: %w", err)
	}
	prod, err := unix.Mmap(m.FD(), int64(page), page+size, unix.PROT_READ, unix.MAP_SHARED)
	if err != nil {
		_ = unix.Munmap(cons)
		return nil, fmt.Errorf("map ring buffer data: %w", err)
	}
	r := &ring{m: m, consPage: cons, prodPages: prod,
		cons: (*atomic.Uintptr)(unsafe.Pointer(&cons[0])),
		prod: (*atomic.Uintptr)(unsafe.Pointer(&prod[0])),
		data: prod[page:], mask: uintptr(size - 1)}
	r.pos = r.cons.Load()
	r.end = r.pos
	return r, nil
}

// errRingCorrupt reports a record header that does not fit what the
// producer position says was written.
var errRingCorrupt = errors.New("ring buffer record overruns what the kernel wrote")

// peek looks at the record at the read position, loading the producer
// position when what was loaded before is used up, and skips discarded
// records. It reports false when the ring has no submitted record there
// (empty, or the next is still being written).
func (r *ring) peek() (bool, error) {
	if r.head != nil {
		return true, nil
	}
	for {
		if r.pos == r.end {
			r.end = r.prod.Load()
			if r.pos == r.end {
				return false, nil
			}
		}
		if r.end-r.pos < ringHeaderSize {
			return false, errRingCorrupt
		}
		off := r.pos & r.mask
		hdr := atomic.LoadUint32((*uint32)(unsafe.Pointer(&r.data[off])))
		if hdr&ringBusyBit != 0 {
			return false, nil
		}
		n := uintptr(hdr &^ (ringBusyBit | ringDiscardBit))
		next := r.pos + ringHeaderSize + (n+7)&^7
		if next-r.pos > r.end-r.pos {
			return false, errRingCorrupt
		}
		if hdr&ringDiscardBit != 0 {
			r.pos = next
			r.unpub++
			continue
		}
		r.head = r.record(r.pos+ringHeaderSize, n)
		r.headNS = 0
		if n >= offBootNS+8 {
			r.headNS = endian.Uint64(r.head[offBootNS:])
		}
		r.next = next
		return true, nil
	}
}

// record returns the n bytes of a record's body at ring position pos: in
// place, or copied into wrapped when they run past the end of the data
// (a header never does: records are 8-byte aligned in a ring of pages;
// the body after a header that ends the data starts at its beginning).
func (r *ring) record(pos, n uintptr) []byte {
	off := pos & r.mask
	size := uintptr(len(r.data))
	if off+n <= size {
		return r.data[off : off+n : off+n]
	}
	r.wraps.Add(1)
	r.wrapped = append(r.wrapped[:0], r.data[off:]...)
	r.wrapped = append(r.wrapped, r.data[:off+n-size]...)
	return r.wrapped
}

// take moves past the record peek found.
func (r *ring) take() {
	r.pos, r.head = r.next, nil
	if r.unpub++; r.unpub >= publishEvery {
		r.publish()
	}
}

// publish hands the space read so far back to the kernel.
func (r *ring) publish() {
	if r.unpub > 0 {
		r.cons.Store(r.pos)
		r.unpub = 0
	}
}

func (r *ring) close() error {
	return errors.Join(unix.Munmap(r.prodPages), unix.Munmap(r.consPage), r.m.Close())
}

// ringSet is the backend's rings, read as one stream: next returns the
// oldest record at the head of any ring. Each ring is in the order its
// CPUs wrote it, so merging the heads by kernel time keeps what the
// pipeline's window receives in time order across rings, whichever ring
// has the longer backlog.
type ringSet struct {
	rings []*ring
	// epfd is an epoll instance over the rings: it is readable when any
	// ring woke its readers, and the runtime poller waits on it.
	epfd int
	evs  []unix.EpollEvent
}

// newRingSet maps the rings and gathers their wake-ups into one
// descriptor. The set owns the maps from then on, also when it fails.
func newRingSet(maps []*ebpf.Map) (*ringSet, error) {
	s := &ringSet{epfd: -1}
	fail := func(err error) (*ringSet, error) {
		for _, m := range maps[len(s.rings):] {
			m.Close()
		}
		return nil, errors.Join(err, s.close())
	}
	fd, err := unix.EpollCreate1(unix.EPOLL_CLOEXEC)
	if err != nil {
		return fail(fmt.Errorf("ring buffers: epoll: %w", err))
	}
	s.epfd = fd
	for _, m := range maps {
		r, err := openRing(m)
		if err != nil {
			return fail(err)
		}
		s.rings = append(s.rings, r)
		if err := s.watch(m.FD()); err != nil {
			return fail(err)
		}
	}
	return s, nil
}

// watch adds fd to the descriptors whose wake-ups make the set readable.
// Edge-triggered: each wake-up adds fd to the ready list once, and drain
// empties the list after every wait.
func (s *ringSet) watch(fd int) error {
	ev := unix.EpollEvent{Events: unix.EPOLLIN | unix.EPOLLET, Fd: int32(fd)}
	if err := unix.EpollCtl(s.epfd, unix.EPOLL_CTL_ADD, fd, &ev); err != nil {
		return fmt.Errorf("ring buffers: watch ring: %w", err)
	}
	s.evs = append(s.evs, unix.EpollEvent{})
	return nil
}

// next returns the submitted record with the oldest kernel time at the
// head of the rings, and the ring it is in (for take); nil when every
// ring is empty or waits on a record being written.
func (s *ringSet) next() ([]byte, *ring, error) {
	var best *ring
	for _, r := range s.rings {
		ok, err := r.peek()
		if err != nil {
			return nil, nil, err
		}
		if ok && (best == nil || r.headNS < best.headNS) {
			best = r
		}
	}
	if best == nil {
		return nil, nil, nil
	}
	return best.head, best, nil
}

// publish hands the space read in every ring back to the kernel.
func (s *ringSet) publish() {
	for _, r := range s.rings {
		r.publish()
	}
}

// available returns the bytes the kernel has written and the reader has
// not yet taken, in all rings.
func (s *ringSet) available() int {
	n := 0
	for _, r := range s.rings {
		n += int(r.prod.Load() - r.pos)
	}
	return n
}

// drain empties the epoll instance's ready list after a wait, so that the
// rings' next wake-ups make it readable again.
func (s *ringSet) drain() {
	for {
		n, err := unix.EpollWait(s.epfd, s.evs, 0)
		if n < len(s.evs) || (err != nil && err != unix.EINTR) {
			return
		}
	}
}

func (s *ringSet) close() error {
	var errs []error
	for _, r := range s.rings {
		errs = append(errs, r.close())
	}
	s.rings = nil
	if s.epfd >= 0 {
		errs = append(errs, unix.Close(s.epfd))
		s.epfd = -1
	}
	return errors.Join(errs...)
}
