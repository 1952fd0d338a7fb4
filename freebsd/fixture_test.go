package freebsd

import (
	"encoding/binary"
	"testing"
)

// firing is one probe firing of a test scenario: the values the kernel
// would have traced, by field name. Unset integers are 0, unset strings "".
type firing struct {
	tag  Tag
	cpu  int32
	ints map[string]int64
	strs map[string]string
	// argv fills the argument cache of a TagExecArgs firing; argvLen
	// overrides its reported length when non-zero.
	argv    []byte
	argvLen int64
}

// records lays out f's records as libdtrace hands them to the shim.
func (f firing) records(t testing.TB, s *Schema) []Record {
	t.Helper()
	c, ok := s.Clause(f.tag)
	if !ok {
		t.Fatalf("no clause with tag %d", f.tag)
	}
	recs := make([]Record, len(c.Fields))
	for i, fd := range c.Fields {
		data := make([]byte, fd.Size)
		act := uint16(actDIFExpr)
		switch fd.Type {
		case FieldInt:
			v := f.ints[fd.Name]
			if fd.Name == "tag" {
				v = int64(f.tag)
			}
			binary.LittleEndian.PutUint64(data, uint64(v))
		case FieldString:
			copy(data, f.strs[fd.Name])
		case FieldMemLen:
			act = actTraceMemDynSize
			n := int64(len(f.argv))
			if f.argvLen != 0 {
				n = f.argvLen
			}
			binary.LittleEndian.PutUint64(data, uint64(n))
		case FieldMem:
			act = actTraceMem
			copy(data, f.argv)
		}
		recs[i] = Record{Action: act, Data: data}
	}
	return recs
}

func (f firing) frame(t testing.TB, s *Schema) Frame {
	return Frame{CPU: f.cpu, Records: f.records(t, s)}
}

// common returns the fields every clause traces for a thread of pid.
func common(pid, tid, ppid int32, ts int64, comm string) (map[string]int64, map[string]string) {
	return map[string]int64{
			"walltime":  1_700_000_000_000_000_000 + ts,
			"timestamp": ts,
			"pid":       int64(pid), "tid": int64(tid), "ppid": int64(ppid),
			"uid": 1001, "euid": 0, "gid": 1001, "egid": 0,
			"pgid": int64(pid), "sid": 500,
			"jid":    2,
			"auid":   4294967295, // AU_DEFAUDITID: no login uid
			"asid":   0,          // AU_DEFAUDITSID: no session
			"start":  int64(pid) * 1_000_000,
			"pstart": int64(ppid) * 1_000_000,
		}, map[string]string{
			"comm": comm,
		}
}

// fire builds a firing with the common fields plus extra.
func fire(tag Tag, cpu int32, pid, tid, ppid int32, ts int64, comm string, extra map[string]int64, strs map[string]string) firing {
	ints, s := common(pid, tid, ppid, ts, comm)
	for k, v := range extra {
		ints[k] = v
	}
	for k, v := range strs {
		s[k] = v
	}
	return firing{tag: tag, cpu: cpu, ints: ints, strs: s}
}
