package group

import (
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/log"
)

// FuzzLoad replays arbitrary records of __consumer_offsets: Load may refuse
// them with an error but must never panic, and a coordinator that loaded
// must still serve requests.
func FuzzLoad(f *testing.F) {
	ok := kmsg.NewOffsetCommitKey()
	ok.Version, ok.Group, ok.Topic, ok.Partition = 1, "g", "t", 3
	ov := kmsg.NewOffsetCommitValue()
	ov.Version, ov.Offset = 3, 42
	gk := kmsg.NewGroupMetadataKey()
	gk.Version, gk.Group = 2, "g"
	gv := kmsg.NewGroupMetadataValue()
	gv.Version, gv.ProtocolType, gv.Generation = 3, "consumer", 4
	gv.Members = []kmsg.GroupMetadataValueMember{{MemberID: "m", ClientID: "c", SessionTimeoutMillis: 10000, RebalanceTimeoutMillis: 30000}}
	f.Add(ok.AppendTo(nil), ov.AppendTo(nil))
	f.Add(ok.AppendTo(nil), []byte(nil))
	f.Add(gk.AppendTo(nil), gv.AppendTo(nil))
	f.Add(gk.AppendTo(nil)[:3], gv.AppendTo(nil)[:5])
	f.Add([]byte{0, 9, 1}, []byte{0xff, 0xff})
	f.Fuzz(func(t *testing.T, key, value []byte) {
		l := &memLog{}
		if _, err := l.Append(log.NewBatch([]log.KeyValue{{Key: key, Value: value}}, time.Unix(1_700_000_000, 0))); err != nil {
			t.Fatal(err)
		}
		c := newTestCoordinator(l, newFakeClock())
		if err := c.Load(); err != nil {
			return
		}
		c.ListGroups(kmsg.NewPtrListGroupsRequest())
	})
}
