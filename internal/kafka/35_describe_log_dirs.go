package kafka

import (
	"path/filepath"

	"github.com/twmb/franz-go/pkg/kmsg"

	"github.com/ferry-mq/ferry/internal/broker"
)

// DescribeLogDirs: v0-4.
//
// One log directory, the data dir, with the size on disk of each replica
// this broker holds (leader or follower) and how far its log end is
// behind the high watermark (OffsetLag, 0 on a leader). A null topic list
// means every replica here; partitions this broker does not hold are left
// out, as Kafka does. Volume sizes (v4) are not reported (-1).

func init() { register(35, 0, 4, handleDescribeLogDirs) }

func handleDescribeLogDirs(c *conn, kreq kmsg.Request) finisher {
	req := kreq.(*kmsg.DescribeLogDirsRequest)
	resp := req.ResponseKind().(*kmsg.DescribeLogDirsResponse)
	b := c.s.broker
	dir := kmsg.NewDescribeLogDirsResponseDir()
	dir.Dir, _ = filepath.Abs(b.Config().DataDir)
	var parts []*broker.Partition
	if req.Topics == nil {
		parts = b.LocalReplicas()
	} else {
		for _, rt := range req.Topics {
			for _, i := range rt.Partitions {
				if p, err := b.Replica(rt.Topic, i); err == nil {
					parts = append(parts, p)
				}
			}
		}
	}
	byTopic := map[string]int{}
	for _, p := range parts {
		i, ok := byTopic[p.Topic]
		if !ok {
			i = len(dir.Topics)
			byTopic[p.Topic] = i
			t := kmsg.NewDescribeLogDirsResponseDirTopic()
			t.Topic = p.Topic
			dir.Topics = append(dir.Topics, t)
		}
		dp := kmsg.NewDescribeLogDirsResponseDirTopicPartition()
		dp.Partition = p.Index
		dp.Size = p.Log().Size()
		dp.OffsetLag = max(p.HighWatermark()-p.Log().EndOffset(), 0)
		dir.Topics[i].Partitions = append(dir.Topics[i].Partitions, dp)
	}
	resp.Dirs = append(resp.Dirs, dir)
	return now(resp)
}
