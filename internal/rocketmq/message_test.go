package rocketmq

import (
	"bytes"
	"encoding/binary"
	"reflect"
	"testing"
)

// TestMessageRecordRoundTrip: a message maps to a record (KEYS as key,
// other properties as headers, the flag as a header) and back unchanged.
func TestMessageRecordRoundTrip(t *testing.T) {
	m := Message{
		Topic: "orders", Flag: 7, Body: []byte("body"), BornTimestamp: 1700000000123,
		Properties: []Property{{PropKeys, "a b"}, {PropTags, "t"}, {PropUniqKey, "ID"}, {"user", "v"}},
	}
	rec := m.Record()
	if string(rec.Key) != "a b" || rec.Timestamp != m.BornTimestamp || len(rec.Headers) != 4 || rec.Headers[3].Key != HeaderFlag {
		t.Fatalf("record %+v", rec)
	}
	back := MessageFromRecord("orders", rec.Key, rec.Value, rec.Headers, rec.Timestamp)
	if !reflect.DeepEqual(back, m) {
		t.Fatalf("round trip:\n%+v\nwant\n%+v", back, m)
	}
	// A record without key or headers (a Kafka producer's) is a plain message.
	if plain := MessageFromRecord("t", nil, []byte("v"), nil, 5); plain.Properties != nil || plain.Flag != 0 {
		t.Fatalf("plain record as message: %+v", plain)
	}
}

func appendBatchMessage(dst []byte, flag int32, body []byte, props []Property) []byte {
	p := AppendProperties(nil, props)
	dst = binary.BigEndian.AppendUint32(dst, uint32(4+4+4+4+4+len(body)+2+len(p)))
	dst = binary.BigEndian.AppendUint32(dst, 0)
	dst = binary.BigEndian.AppendUint32(dst, 0)
	dst = binary.BigEndian.AppendUint32(dst, uint32(flag))
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(body)))
	dst = append(dst, body...)
	dst = binary.BigEndian.AppendUint16(dst, uint16(len(p)))
	return append(dst, p...)
}

// FuzzDecodeBatchBody: any batch body decodes to messages or an error, and
// a decoded batch encodes back to the same bytes.
func FuzzDecodeBatchBody(f *testing.F) {
	f.Add(appendBatchMessage(appendBatchMessage(nil, 1, []byte("a"), []Property{{"KEYS", "k"}}), 0, nil, nil))
	f.Add([]byte{0, 0, 0, 22, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		msgs, err := decodeBatchBody(b)
		if err != nil {
			return
		}
		var again []byte
		for _, m := range msgs {
			again = appendBatchMessage(again, m.Flag, m.Body, m.Properties)
		}
		// Properties re-encode canonically; compare what they decode to.
		back, err := decodeBatchBody(again)
		if err != nil || len(back) != len(msgs) {
			t.Fatalf("re-encoded batch: %v, %d messages, want %d", err, len(back), len(msgs))
		}
		for i := range msgs {
			if !bytes.Equal(back[i].Body, msgs[i].Body) || back[i].Flag != msgs[i].Flag || !reflect.DeepEqual(back[i].Properties, msgs[i].Properties) {
				t.Fatalf("message %d changed: %+v → %+v", i, msgs[i], back[i])
			}
		}
	})
}
