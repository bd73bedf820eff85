package log

import (
	"reflect"
	"testing"
)

// FuzzDecodeDamaged feeds arbitrary bytes to the damaged-ranges file decoder:
// it must never panic, and what it accepts must survive an encode and decode
// unchanged (the broker rewrites the file from what it read).
func FuzzDecodeDamaged(f *testing.F) {
	f.Add(encodeDamaged([]DamagedRange{{File: "00000000000000000006.log", Position: 100, Length: 80, FirstOffset: 7, EndOffset: 9, Reason: "crc mismatch"}}))
	f.Add([]byte(damagedHeader + "\n00000000000000000000.log 0 0 5 5\n"))
	f.Add([]byte("x 1 2 3 4 why\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ranges, err := decodeDamaged(data)
		if err != nil {
			return
		}
		for _, d := range ranges {
			if d.Position < 0 || d.Length < 0 || d.EndOffset < d.FirstOffset {
				t.Fatalf("accepted an implausible range %+v", d)
			}
		}
		again, err := decodeDamaged(encodeDamaged(ranges))
		if err != nil {
			t.Fatalf("re-decoding what was accepted: %v", err)
		}
		for i := range again {
			// encode folds line breaks in reasons; decode trims the line.
			again[i].Reason, ranges[i].Reason = "", ""
		}
		if len(ranges) > 0 && !reflect.DeepEqual(ranges, again) {
			t.Fatalf("round trip changed the ranges:\n%+v\n%+v", ranges, again)
		}
	})
}

// FuzzParseRecoveryPoint: the recovery-point file decoder never panics, never
// accepts a negative number, and round-trips the three-number form.
func FuzzParseRecoveryPoint(f *testing.F) {
	f.Add([]byte("1200 1000 4096\n"))
	f.Add([]byte("1200\n"))
	f.Add([]byte("-1 0 0"))
	f.Fuzz(func(t *testing.T, data []byte) {
		rp, err := parseRecoveryPoint(data)
		if err != nil {
			return
		}
		if rp.offset < 0 || rp.position < 0 || rp.segment < -1 || rp.segment > rp.offset {
			t.Fatalf("accepted an implausible recovery point %+v from %q", rp, data)
		}
		if rp.segment < 0 {
			return
		}
		again, err := parseRecoveryPoint(rp.encode())
		if err != nil || again != rp {
			t.Fatalf("round trip of %+v gave %+v, %v", rp, again, err)
		}
	})
}

// FuzzDecodeEpochs: the leader-epoch checkpoint decoder never panics,
// accepts only entries whose epochs and start offsets both increase, and
// round-trips what it accepts.
func FuzzDecodeEpochs(f *testing.F) {
	f.Add(encodeEpochs([]EpochEntry{{0, 0}, {4, 1200}}))
	f.Add([]byte("0\n0\n"))
	f.Add([]byte("0\n2\n3 4\n1 9\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		entries, err := decodeEpochs(data)
		if err != nil {
			return
		}
		for i, e := range entries {
			if e.Epoch < 0 || e.StartOffset < 0 || i > 0 && (e.Epoch <= entries[i-1].Epoch || e.StartOffset <= entries[i-1].StartOffset) {
				t.Fatalf("accepted implausible entries %v from %q", entries, data)
			}
		}
		again, err := decodeEpochs(encodeEpochs(entries))
		if err != nil || len(again) != len(entries) || len(entries) > 0 && !reflect.DeepEqual(again, entries) {
			t.Fatalf("round trip of %v gave %v, %v", entries, again, err)
		}
	})
}
