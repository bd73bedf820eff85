package rocketmq

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"reflect"
	"runtime"
	"testing"
)

func sampleCommand(st SerializeType) *Command {
	return &Command{
		Code: 310, Language: languageGo, Version: 473, Opaque: 7, Flag: flagOneway, Remark: "why",
		ExtFields: map[string]string{"a": "group", "i": "TAGS\x01t\x02KEYS\x01k\x02"}, Body: []byte("body"), Serialize: st,
	}
}

// TestFrameRoundTrip: both header encodings decode to what was encoded.
func TestFrameRoundTrip(t *testing.T) {
	for _, st := range []SerializeType{SerializeJSON, SerializeBinary} {
		want := sampleCommand(st)
		frame, err := AppendFrame(nil, want)
		if err != nil {
			t.Fatal(err)
		}
		got, err := ReadFrame(bufio.NewReader(bytes.NewReader(frame)), 1<<20)
		if err != nil {
			t.Fatalf("serialize %d: %v", st, err)
		}
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("serialize %d: got %+v, want %+v", st, got, want)
		}
	}
}

// TestReadFrameRefuses: an oversized frame is refused from its length
// alone, and malformed headers are errors, not panics.
func TestReadFrameRefuses(t *testing.T) {
	big := []byte{0x10, 0, 0, 0}
	if _, err := ReadFrame(bufio.NewReader(bytes.NewReader(big)), 1<<20); !errors.Is(err, ErrFrameTooLarge) {
		t.Fatalf("oversized: %v", err)
	}
	for name, frame := range map[string][]byte{
		"short":            {0, 0, 0, 2, 0, 0},
		"header too long":  {0, 0, 0, 5, 0, 0, 0, 9, '{'},
		"bad json":         {0, 0, 0, 5, 0, 0, 0, 1, '{'},
		"unknown type":     {0, 0, 0, 6, 7, 0, 0, 2, '{', '}'},
		"binary truncated": {0, 0, 0, 7, 1, 0, 0, 3, 0, 10, 9},
	} {
		if _, err := ReadFrame(bufio.NewReader(bytes.NewReader(frame)), 1<<20); !errors.Is(err, ErrBadFrame) {
			t.Errorf("%s: %v, want ErrBadFrame", name, err)
		}
	}
}

// FuzzDecodeFrame: any bytes decode to a command or an error, and a
// decoded command encodes and decodes to itself.
func FuzzDecodeFrame(f *testing.F) {
	for _, st := range []SerializeType{SerializeJSON, SerializeBinary} {
		frame, _ := AppendFrame(nil, sampleCommand(st))
		f.Add(frame[4:])
	}
	f.Add([]byte{1, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		cmd, err := DecodeFrame(b)
		if err != nil {
			return
		}
		frame, err := AppendFrame(nil, cmd)
		if err != nil {
			return // e.g. a JSON string that is not UTF-8 cannot be re-encoded
		}
		again, err := DecodeFrame(frame[4:])
		if err != nil {
			t.Fatalf("re-encoded frame does not decode: %v", err)
		}
		if again.Code != cmd.Code || again.Opaque != cmd.Opaque || again.Flag != cmd.Flag || !bytes.Equal(again.Body, cmd.Body) || len(again.ExtFields) != len(cmd.ExtFields) {
			t.Fatalf("round trip changed the command: %+v → %+v", cmd, again)
		}
	})
}

// TestReadFrameAllocatesAsBytesArrive: a frame that announces 64 MiB and
// sends ten bytes costs memory for what arrived, not what was announced
// (a client cannot make the broker hold 64 MiB per connection for free).
func TestReadFrameAllocatesAsBytesArrive(t *testing.T) {
	frame := append(binary.BigEndian.AppendUint32(nil, 64<<20), make([]byte, 10)...)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	_, err := ReadFrame(bufio.NewReader(bytes.NewReader(frame)), 100<<20)
	runtime.ReadMemStats(&after)
	if !errors.Is(err, io.ErrUnexpectedEOF) {
		t.Fatalf("truncated frame: %v", err)
	}
	if grew := after.TotalAlloc - before.TotalAlloc; grew > 4<<20 {
		t.Fatalf("reading 10 bytes of a frame announcing 64 MiB allocated %d bytes", grew)
	}
}
