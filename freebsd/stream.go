package freebsd

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// The shim hands Go a byte stream of frames, one per probe firing, in the
// order libdtrace consumed them. Every integer is little-endian:
//
//	frame  := len:u32 cpu:u32 nrecs:u32 record*nrecs   (len counts the bytes after it)
//	record := action:u16 reserved:u16 size:u32 data:[size]
//
// The shim copies records as libdtrace describes them and never interprets
// them; the decoder checks each against the schema.

// DTrace action kinds the generated program produces (sys/dtrace.h).
const (
	actDIFExpr         = 1 // trace()
	actTraceMem        = 6 // tracemem()
	actTraceMemDynSize = 7 // tracemem()'s dynamic size
)

// Limits that bound what a frame may claim, so a corrupt stream cannot make
// the decoder allocate without bound.
const (
	maxFrameRecords = 64
	maxFrameBytes   = 1 << 20
	frameHeaderSize = 12
	recHeaderSize   = 8
)

// ErrMalformed is wrapped by every error about bytes that do not follow the
// stream format or the schema.
var ErrMalformed = errors.New("malformed dtrace record")

// Frame is one probe firing as the shim copied it.
type Frame struct {
	CPU     int32
	Records []Record
}

// Record is one traced value: the action that produced it and its bytes.
// Data aliases the stream it was parsed from.
type Record struct {
	Action uint16
	Data   []byte
}

// NextFrame parses the frame at the start of stream and returns it with the
// rest of the stream. On error the rest is nil: a stream that lost its
// framing cannot be resynchronised.
func NextFrame(stream []byte) (Frame, []byte, error) {
	if len(stream) < 4 {
		return Frame{}, nil, fmt.Errorf("read frame: %d trailing bytes: %w", len(stream), ErrMalformed)
	}
	n := binary.LittleEndian.Uint32(stream)
	if n > maxFrameBytes || uint64(n) > uint64(len(stream)-4) {
		return Frame{}, nil, fmt.Errorf("read frame: length %d exceeds %d available bytes: %w", n, len(stream)-4, ErrMalformed)
	}
	body, rest := stream[4:4+n], stream[4+n:]
	f, err := parseFrameBody(body)
	if err != nil {
		// The length prefix was sound, so the next frame is still found.
		return Frame{}, rest, err
	}
	return f, rest, nil
}

func parseFrameBody(b []byte) (Frame, error) {
	if len(b) < frameHeaderSize-4 {
		return Frame{}, fmt.Errorf("read frame: header needs 8 bytes, have %d: %w", len(b), ErrMalformed)
	}
	cpu := binary.LittleEndian.Uint32(b)
	nrecs := binary.LittleEndian.Uint32(b[4:])
	if nrecs > maxFrameRecords {
		return Frame{}, fmt.Errorf("read frame: %d records exceed limit %d: %w", nrecs, maxFrameRecords, ErrMalformed)
	}
	b = b[8:]
	f := Frame{CPU: int32(cpu), Records: make([]Record, 0, nrecs)}
	for i := uint32(0); i < nrecs; i++ {
		if len(b) < recHeaderSize {
			return Frame{}, fmt.Errorf("read record %d: header truncated: %w", i, ErrMalformed)
		}
		act := binary.LittleEndian.Uint16(b)
		size := binary.LittleEndian.Uint32(b[4:])
		b = b[recHeaderSize:]
		if uint64(size) > uint64(len(b)) {
			return Frame{}, fmt.Errorf("read record %d: size %d exceeds %d remaining bytes: %w", i, size, len(b), ErrMalformed)
		}
		f.Records = append(f.Records, Record{Action: act, Data: b[:size:size]})
		b = b[size:]
	}
	if len(b) != 0 {
		return Frame{}, fmt.Errorf("read frame: %d bytes after the last record: %w", len(b), ErrMalformed)
	}
	return f, nil
}

// AppendFrame appends f to stream in the shim's format. The fake libdtrace
// tests and the fuzzer build streams with it.
func AppendFrame(stream []byte, f Frame) []byte {
	n := 8
	for _, r := range f.Records {
		n += recHeaderSize + len(r.Data)
	}
	stream = binary.LittleEndian.AppendUint32(stream, uint32(n))
	stream = binary.LittleEndian.AppendUint32(stream, uint32(f.CPU))
	stream = binary.LittleEndian.AppendUint32(stream, uint32(len(f.Records)))
	for _, r := range f.Records {
		stream = binary.LittleEndian.AppendUint16(stream, r.Action)
		stream = binary.LittleEndian.AppendUint16(stream, 0)
		stream = binary.LittleEndian.AppendUint32(stream, uint32(len(r.Data)))
		stream = append(stream, r.Data...)
	}
	return stream
}
