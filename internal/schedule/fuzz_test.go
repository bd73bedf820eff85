package schedule

import (
	"fmt"
	"testing"

	"github.com/twmb/franz-go/pkg/kmsg"
)

func hdr(k, v string) kmsg.Header { return kmsg.Header{Key: k, Value: []byte(v)} }

// FuzzDecodeMessage: any bytes in __scheduled decode or fail, never panic,
// and what decodes encodes to bytes that decode to the same message.
func FuzzDecodeMessage(f *testing.F) {
	m := Message{Topic: "t", Partition: 1, Key: []byte("k"), Value: []byte("v"), Headers: []kmsg.Header{hdr("h", "x")}}
	f.Add(encodeMessage(&m))
	f.Add([]byte{1})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decodeMessage(b)
		if err != nil {
			return
		}
		again, err := decodeMessage(encodeMessage(&m))
		if err != nil || fmt.Sprint(again) != fmt.Sprint(m) {
			t.Fatalf("re-encoded %+v decodes to %+v, %v", m, again, err)
		}
	})
}
