package freebsd

import (
	"encoding/binary"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/procotel/procotel/semconv"
)

// kinfoRecord builds a struct kinfo_proc as FreeBSD 14 amd64 lays it out,
// writing the fields at the offsets given in sys/user.h.
func kinfoRecord(pid, ppid, jid int32, comm string, started time.Time) []byte {
	r := make([]byte, kinfoProcSize)
	put32 := func(off int, v uint32) { binary.LittleEndian.PutUint32(r[off:], v) }
	put32(kiStructSize, kinfoProcSize)
	put32(kiPID, uint32(pid))
	put32(kiPPID, uint32(ppid))
	put32(kiPGID, uint32(pid))
	put32(kiSID, 7)
	put32(kiUID, 0)
	put32(kiRUID, 1001)
	put32(kiRGID, 1002)
	put32(kiGroups, 5)
	binary.LittleEndian.PutUint64(r[kiStart:], uint64(started.Unix()))
	binary.LittleEndian.PutUint64(r[kiStart+8:], uint64(started.Nanosecond()/1000))
	copy(r[kiComm:kiComm+kiCommLen-1], comm)
	put32(kiJID, uint32(jid))
	put32(kiTID, uint32(100000+pid))
	return r
}

func TestParseKinfoProcs(t *testing.T) {
	boot := time.Unix(1_700_000_000, 0)
	b := append(kinfoRecord(1, 0, 0, "init", boot.Add(2*time.Second)),
		kinfoRecord(812, 1, 3, strings.Repeat("n", 25), boot.Add(90*time.Second+250*time.Microsecond))...)
	ps, err := ParseKinfoProcs(b, boot)
	if err != nil {
		t.Fatal(err)
	}
	want := []semconv.Process{
		{PID: 1, TID: 100001, Start: 2e9, Creds: semconv.Creds{UID: 1001, GID: 1002, EGID: 5}, PGID: 1, SID: 7, Comm: "init"},
		{PID: 812, TID: 100812, PPID: 1, Start: 90e9 + 250e3, Creds: semconv.Creds{UID: 1001, GID: 1002, EGID: 5},
			PGID: 812, SID: 7, Comm: strings.Repeat("n", 19), JailID: 3},
	}
	if !reflect.DeepEqual(ps, want) {
		t.Errorf("got  %+v\nwant %+v", ps, want)
	}

	if _, err := ParseKinfoProcs(b[:kinfoProcSize+100], boot); err == nil {
		t.Error("cut record accepted")
	}
	bad := kinfoRecord(1, 0, 0, "x", boot)
	binary.LittleEndian.PutUint32(bad, 768)
	if _, err := ParseKinfoProcs(bad, boot); err == nil {
		t.Error("foreign ki_structsize accepted")
	}
	if got := ParseProcArgs([]byte("sleep\x0010\x00")); !reflect.DeepEqual(got, []string{"sleep", "10"}) {
		t.Errorf("ParseProcArgs: %q", got)
	}
}
