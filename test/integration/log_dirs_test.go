package integration

import (
	"fmt"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/ferry-mq/ferry/internal/config"
)

// DescribeLogDirs (what kafka-log-dirs and the web console read) reports
// the data dir and each partition's size on disk, the log's own figure.
func TestDescribeLogDirsReportsPartitionSizes(t *testing.T) {
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.KafkaAddr = "127.0.0.1:0"
	srv, _ := startServer(t, cfg)
	adm := newAdmin(t, srv.Addr())
	topic := topicName(t)
	createTopic(t, adm, topic, 2)
	cl := newClient(t, srv.Addr(), kgo.DefaultProduceTopic(topic), kgo.RecordPartitioner(kgo.ManualPartitioner()))
	for i := range 40 {
		produceSync(t, cl, &kgo.Record{Partition: int32(i % 2), Value: []byte(fmt.Sprintf("value-%d", i))})
	}
	dirs, err := adm.DescribeAllLogDirs(testCtx(t, 15*time.Second), nil)
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	dirs.Each(func(d kadm.DescribedLogDir) {
		if d.Err != nil {
			t.Fatalf("log dir %s: %v", d.Dir, d.Err)
		}
		for p := range int32(2) {
			dp, ok := d.Topics[topic][p]
			if !ok {
				t.Fatalf("log dir %s lists no %s-%d", d.Dir, topic, p)
			}
			part, err := srv.Broker.Replica(topic, p)
			if err != nil {
				t.Fatal(err)
			}
			if want := part.Log().Size(); dp.Size != want || want == 0 {
				t.Fatalf("%s-%d size %d, want the log's %d (non-zero)", topic, p, dp.Size, want)
			}
			found++
		}
	})
	if found != 2 {
		t.Fatalf("found %d partitions in the log dirs, want 2", found)
	}
}
