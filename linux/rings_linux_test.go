//go:build linux

package linux

import (
	"errors"
	"os"
	"os/exec"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/cilium/ebpf"

	"github.com/procotel/procotel/backends"
	"github.com/procotel/procotel/internal/testenv"
	"github.com/procotel/procotel/semconv"
)

func TestRingLayout(t *testing.T) {
	for _, c := range []struct{ size, cpus, rings, each int }{
		{4 << 20, 1, 1, 4 << 20},
		{4 << 20, 2, 2, 2 << 20},
		{4 << 20, 3, 2, 2 << 20}, // a power of two, not more than the CPUs
		{4 << 20, 64, 8, 512 << 10},
		{64 << 20, 64, 16, 4 << 20}, // at most maxRings
		{1 << 20, 8, 2, 512 << 10},
		{256 << 10, 8, 1, 256 << 10}, // never below minRingBytes unless the buffer is
	} {
		rings, each := ringLayout(c.size, c.cpus)
		if rings != c.rings || each != c.each {
			t.Errorf("ringLayout(%d, %d) = %d rings of %d, want %d of %d", c.size, c.cpus, rings, each, c.rings, c.each)
		}
	}
}

func TestParseCPUList(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []int
	}{
		{"0", []int{0}},
		{"0-1", []int{0, 1}},
		{"0-3,6,8-9", []int{0, 1, 2, 3, 6, 8, 9}},
	} {
		got, err := parseCPUList(c.in)
		if err != nil || !slices.Equal(got, c.want) {
			t.Errorf("parseCPUList(%q) = %v, %v; want %v", c.in, got, err, c.want)
		}
	}
	for _, bad := range []string{"", "a", "3-1", "0-", "-1", "0,,1"} {
		if got, err := parseCPUList(bad); err == nil {
			t.Errorf("parseCPUList(%q) = %v, want an error", bad, got)
		}
	}
	// This host's list parses.
	online, err := onlineCPUs(cpuOnlinePath)
	if err != nil || len(online) == 0 {
		t.Fatalf("%s: %v, %v", cpuOnlinePath, online, err)
	}
}

// The online CPUs are dealt to the rings in turn, gaps in their numbers
// or not; the possible CPUs that are not online go by their number.
func TestRingOfCPU(t *testing.T) {
	// 8 possible CPUs, 4 online with gaps (0, 2, 4, 6), 2 rings: each ring
	// gets two online CPUs (cpu & 1 would put them all on ring 0).
	tab := ringOfCPU([]int{0, 2, 4, 6}, 8, 2)
	per := map[uint8]int{}
	for _, c := range []int{0, 2, 4, 6} {
		per[tab[c]]++
	}
	if per[0] != 2 || per[1] != 2 {
		t.Errorf("online CPUs 0, 2, 4, 6 on 2 rings: %d and %d per ring, want 2 and 2", per[0], per[1])
	}
	for c := range maxCPUs {
		if tab[c] >= 2 {
			t.Fatalf("CPU %d on ring %d of 2", c, tab[c])
		}
	}
	if tab[1] != 1 || tab[7] != 1 {
		t.Errorf("offline CPUs 1 and 7 on rings %d and %d, want 1 and 1 (by number)", tab[1], tab[7])
	}
	// One ring: everything on it.
	one := ringOfCPU([]int{0, 1, 2}, 3, 1)
	for c := range maxCPUs {
		if one[c] != 0 {
			t.Fatalf("one ring: CPU %d on ring %d", c, one[c])
		}
	}
}

// fakeRing is a ring in ordinary memory, its data once, as the reader
// maps it.
func fakeRing(size int) *ring {
	return &ring{cons: new(atomic.Uintptr), prod: new(atomic.Uintptr), data: make([]byte, size), mask: uintptr(size - 1)}
}

// put writes at the producer position a record of n bytes (at least a
// header's worth) with kernel time ns, its header flags bits, and its
// other bytes numbering it: byte i is i+seed. It returns the record's
// position and moves the producer past it.
func put(r *ring, ns uint64, n int, bits uint32, seed byte) uintptr {
	pos := r.prod.Load()
	rec := make([]byte, ringHeaderSize+(n+7)&^7)
	endian.PutUint32(rec, uint32(n)|bits)
	for i := range n {
		rec[ringHeaderSize+i] = byte(i) + seed
	}
	if n >= offBootNS+8 {
		endian.PutUint64(rec[ringHeaderSize+offBootNS:], ns)
	}
	for i, b := range rec {
		r.data[(pos+uintptr(i))&r.mask] = b
	}
	r.prod.Store(pos + uintptr(len(rec)))
	return pos
}

// setHeader rewrites the header of the record at pos, as the kernel does
// when a reserved record is submitted.
func setHeader(r *ring, pos uintptr, hdr uint32) {
	var b [4]byte
	endian.PutUint32(b[:], hdr)
	for i := range 4 {
		r.data[(pos+uintptr(i))&r.mask] = b[i]
	}
}

// takeAll takes every record next returns, handing each to check when
// check is not nil, and returns their kernel times.
func takeAll(t *testing.T, s *ringSet, check func(rec []byte, from *ring)) []uint64 {
	t.Helper()
	var got []uint64
	for {
		rec, from, err := s.next()
		if err != nil {
			t.Fatal(err)
		}
		if rec == nil {
			return got
		}
		if check != nil {
			check(rec, from)
		}
		got = append(got, endian.Uint64(rec[offBootNS:]))
		from.take()
	}
}

// Two rings with interleaved times come out as one stream in time order,
// each record whole, and publish hands all the space back.
func TestRingSetMergesByTime(t *testing.T) {
	a, b := fakeRing(4096), fakeRing(4096)
	for _, ns := range []uint64{1, 4, 5, 9} {
		put(a, ns, 40, 0, 0)
	}
	for _, ns := range []uint64{2, 3, 6, 7, 8} {
		put(b, ns, 100, 0, 0)
	}
	s := &ringSet{rings: []*ring{a, b}}
	got := takeAll(t, s, func(rec []byte, from *ring) {
		want := 40
		if from == b {
			want = 100
		}
		if len(rec) != want || rec[0] != 0 || rec[want-1] != byte(want-1) {
			t.Fatalf("record %d bytes, first %d, last %d; want %d bytes numbered 0..%d", len(rec), rec[0], rec[len(rec)-1], want, want-1)
		}
	})
	if want := []uint64{1, 2, 3, 4, 5, 6, 7, 8, 9}; !slices.Equal(got, want) {
		t.Fatalf("merged times %v, want %v", got, want)
	}
	s.publish()
	for i, r := range s.rings {
		if c, p := r.cons.Load(), r.prod.Load(); c != p {
			t.Errorf("ring %d: consumer at %d after publish, producer at %d", i, c, p)
		}
	}
	if n := s.available(); n != 0 {
		t.Errorf("available after reading everything: %d", n)
	}
}

// A record still being written holds back its ring (and only its ring);
// a discarded one is skipped.
func TestRingSetBusyAndDiscard(t *testing.T) {
	a, b := fakeRing(4096), fakeRing(4096)
	put(a, 1, 32, ringDiscardBit, 0)
	busy := put(a, 2, 32, ringBusyBit, 0)
	put(a, 3, 32, 0, 0)
	put(b, 5, 32, 0, 0)
	s := &ringSet{rings: []*ring{a, b}}
	if got := takeAll(t, s, nil); !slices.Equal(got, []uint64{5}) {
		t.Fatalf("with ring a's head being written: took %v, want [5]", got)
	}
	if n := s.available(); n != 2*(ringHeaderSize+32) {
		t.Fatalf("available with two records of a waiting: %d, want %d", n, 2*(ringHeaderSize+32))
	}
	setHeader(a, busy, 32) // submitted
	if got := takeAll(t, s, nil); !slices.Equal(got, []uint64{2, 3}) {
		t.Fatalf("after the submit: took %v, want [2 3] (the discarded 1 left out)", got)
	}
}

// A record that runs past the end of the data is read whole, its two
// pieces joined, wherever the end cuts it; the records around it are
// read in place.
func TestRingWraps(t *testing.T) {
	const size = 256
	r := fakeRing(size)
	s := &ringSet{rings: []*ring{r}}
	var wrapped, headerAtEnd int
	for k := range 200 {
		n := 16 + k%97 // record bodies of 16..112 bytes: every cut point comes round
		pos := put(r, uint64(k+1), n, 0, byte(k))
		body := int(pos&r.mask) + ringHeaderSize
		switch {
		case body == size:
			headerAtEnd++
		case body+n > size:
			wrapped++
		}
		rec, from, err := s.next()
		if err != nil || rec == nil {
			t.Fatalf("record %d: next: %v, %v", k, rec, err)
		}
		if len(rec) != n {
			t.Fatalf("record %d: %d bytes, want %d", k, len(rec), n)
		}
		for i, c := range rec {
			if c != byte(i)+byte(k) && (i < offBootNS || i >= offBootNS+8) {
				t.Fatalf("record %d (body at %d of %d bytes): byte %d is %d, want %d", k, body, n, i, c, byte(i)+byte(k))
			}
		}
		if ns := endian.Uint64(rec[offBootNS:]); ns != uint64(k+1) {
			t.Fatalf("record %d: time %d, want %d", k, ns, k+1)
		}
		from.take()
	}
	if wrapped == 0 || headerAtEnd == 0 {
		t.Fatalf("%d records wrapped and %d had their header end at the ring's end: the test did not reach both cases", wrapped, headerAtEnd)
	}
	t.Logf("%d of 200 records wrapped, %d began at the ring's start after a header at its end", wrapped, headerAtEnd)
}

// A header claiming more than the producer wrote is an error, not a read
// past what the kernel wrote.
func TestRingCorrupt(t *testing.T) {
	r := fakeRing(4096)
	pos := put(r, 1, 32, 0, 0)
	setHeader(r, pos, 1000)
	if _, _, err := (&ringSet{rings: []*ring{r}}).next(); !errors.Is(err, errRingCorrupt) {
		t.Fatalf("next over a header of 1000 bytes in a 40-byte write: %v, want errRingCorrupt", err)
	}
}

// The consumer position is written every publishEvery records, not after
// each one.
func TestRingPublishesInBatches(t *testing.T) {
	r := fakeRing(1 << 16)
	for i := range publishEvery + 1 {
		put(r, uint64(i), 16, 0, 0)
	}
	s := &ringSet{rings: []*ring{r}}
	for i := range publishEvery + 1 {
		if _, _, err := s.next(); err != nil {
			t.Fatal(err)
		}
		r.take()
		want := uintptr(0)
		if i >= publishEvery-1 {
			want = publishEvery * (ringHeaderSize + 16)
		}
		if c := r.cons.Load(); c != want {
			t.Fatalf("after %d records the consumer position is %d, want %d", i+1, c, want)
		}
	}
	s.publish()
	if c, p := r.cons.Load(), r.prod.Load(); c != p {
		t.Fatalf("after publish: consumer %d, producer %d", c, p)
	}
}

// A wake-up of any watched descriptor wakes the waiter on the set, and
// after drain only a new wake-up does. Pipes stand in for the rings:
// both wake their pollers when written.
func TestRingSetWakesOnAnyRing(t *testing.T) {
	s, err := newRingSet(nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.close()
	var writers []*os.File
	for range 2 {
		r, w, err := os.Pipe()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		defer w.Close()
		if err := s.watch(int(r.Fd())); err != nil {
			t.Fatal(err)
		}
		writers = append(writers, w)
	}
	w, err := newRingWaiter(s.epfd)
	if err != nil {
		t.Fatal(err)
	}
	defer w.close()
	for round, i := range []int{1, 0, 1} {
		go func() {
			time.Sleep(50 * time.Millisecond)
			writers[i].Write([]byte{1})
		}()
		start := time.Now()
		if err := w.wait(10 * time.Second); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d > 5*time.Second {
			t.Fatalf("round %d: a write to descriptor %d woke the waiter only after %v", round, i, d)
		}
		s.drain()
		// Drained, with nothing new, the set stays quiet until the deadline.
		start = time.Now()
		if err := w.wait(100 * time.Millisecond); err != nil {
			t.Fatal(err)
		}
		if d := time.Since(start); d < 100*time.Millisecond {
			t.Fatalf("round %d: after drain the waiter woke after %v with nothing new", round, d)
		}
	}
}

// TestBackendMergesRings runs a process loop on each of two CPUs, so that
// both rings fill between the reader's looks, and checks that the events
// come out in kernel-time order across them: no event is older than one
// delivered before it by more than a small part of the pipeline's 20 ms
// window. Read ring after ring instead, a pass would put tens of
// milliseconds of one CPU's events before the other's.
func TestBackendMergesRings(t *testing.T) {
	testenv.RequireKernel(t, "eBPF backend test")
	if cpus, _ := ebpf.PossibleCPU(); cpus < 2 || runtime.NumCPU() < 2 {
		t.Skip("SKIPPING: needs two CPUs for two rings")
	}
	b, c := startBackend(t, backends.Options{NoExecFailures: true})
	if n := len(b.rings.rings); n < 2 {
		t.Fatalf("%d ring(s) on %d CPUs, want 2 or more", n, runtime.NumCPU())
	}
	c.wait(t, "seeded", func(ev *semconv.Event) bool { return ev.Kind == semconv.KindExisting })
	start := bootNow()
	var loops []*exec.Cmd
	for cpu := range 2 {
		cmd := exec.Command("taskset", "-c", strconv.Itoa(cpu), "sh", "-c", "i=0; while [ $i -lt 1500 ]; do /bin/true; i=$((i+1)); done")
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		loops = append(loops, cmd)
	}
	for _, cmd := range loops {
		if err := cmd.Wait(); err != nil {
			t.Fatal(err)
		}
	}
	last := loops[1].Process.Pid
	c.wait(t, "last loop's reap", func(ev *semconv.Event) bool {
		return ev.Kind == semconv.KindReap && ev.Process.PID == int32(last)
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	var newest, worst uint64
	perCPU := map[int32]int{}
	for _, ev := range c.events {
		if ev.BootNS < start || ev.Kind == semconv.KindExisting {
			continue
		}
		perCPU[ev.CPU]++
		if ev.BootNS < newest {
			worst = max(worst, newest-ev.BootNS)
		}
		newest = max(newest, ev.BootNS)
	}
	if perCPU[0] < 1000 || perCPU[1] < 1000 {
		t.Fatalf("events per CPU %v: the loops did not run on both", perCPU)
	}
	// Both rings were written: the CPUs were dealt to different rings.
	for i, r := range b.rings.rings {
		if r.prod.Load() == 0 {
			t.Errorf("ring %d of %d was never written to", i, len(b.rings.rings))
		}
	}
	t.Logf("events per CPU %v; most out of order: %v", perCPU, time.Duration(worst))
	if worst > uint64(5*time.Millisecond) {
		t.Fatalf("an event came %v after a newer one (events per CPU %v): the rings were not merged by time", time.Duration(worst), perCPU)
	}
}

// TestBackendRecordsAcrossRingEnd runs 3,000 execs with numbered
// arguments through one ring of 512 KiB, which they lap several times,
// and checks that every exec came out once with its argument whole: the
// records cut by the ring's end were joined right.
func TestBackendRecordsAcrossRingEnd(t *testing.T) {
	const n = 3000
	b, c := startBackend(t, backends.Options{NoExecFailures: true, BufferSize: 512 << 10})
	if len(b.rings.rings) != 1 {
		t.Fatalf("%d rings for a buffer of 512 KiB, want 1", len(b.rings.rings))
	}
	r := b.rings.rings[0]
	c.wait(t, "seeded", func(ev *semconv.Event) bool { return ev.Kind == semconv.KindExisting })
	loop := exec.Command("sh", "-c", "i=0; while [ $i -lt "+strconv.Itoa(n)+" ]; do /bin/true lap-$i; i=$((i+1)); done")
	if err := loop.Run(); err != nil {
		t.Fatal(err)
	}
	last := "lap-" + strconv.Itoa(n-1)
	c.wait(t, "last exec", func(ev *semconv.Event) bool {
		return ev.Kind == semconv.KindExec && len(ev.Process.Argv) == 2 && ev.Process.Argv[1] == last
	})
	c.mu.Lock()
	defer c.mu.Unlock()
	seen := make([]int, n)
	for _, ev := range c.events {
		if ev.Kind != semconv.KindExec || int(ev.Process.PPID) != loop.Process.Pid {
			continue
		}
		a := ev.Process.Argv
		i, err := -1, error(nil)
		if len(a) == 2 && strings.HasPrefix(a[1], "lap-") {
			i, err = strconv.Atoi(a[1][len("lap-"):])
		}
		if err != nil || i < 0 || i >= n || a[0] != "/bin/true" || ev.Process.Exe == "" {
			t.Fatalf("exec of the loop with argv %q, exe %q: not one the loop ran", a, ev.Process.Exe)
		}
		seen[i]++
	}
	for i, k := range seen {
		if k != 1 {
			t.Fatalf("exec lap-%d came out %d times, want once", i, k)
		}
	}
	size := uint64(len(r.data))
	laps := float64(r.prod.Load()) / float64(size)
	t.Logf("%.1f laps of a %d KiB ring, %d records joined across its end", laps, size>>10, r.wraps.Load())
	if laps < 2 || r.wraps.Load() < 2 {
		t.Fatalf("%.1f laps and %d records across the end: the test did not exercise the ring's end", laps, r.wraps.Load())
	}
}
