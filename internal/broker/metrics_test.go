package broker

import (
	"testing"

	"github.com/ferry-mq/ferry/internal/config"
	"github.com/ferry-mq/ferry/internal/metrics"
)

// recordingSink keeps the scraped values of its sources; counted
// instruments are not looked at here.
type recordingSink struct {
	sources []metrics.Source
}

func (s *recordingSink) Counter(*metrics.Desc, ...string) metrics.Counter {
	return metrics.Nop.Counter(nil)
}
func (s *recordingSink) Gauge(*metrics.Desc, ...string) metrics.Gauge { return metrics.Nop.Gauge(nil) }
func (s *recordingSink) Histogram(*metrics.Desc, ...string) metrics.Histogram {
	return metrics.Nop.Histogram(nil)
}
func (s *recordingSink) Register(src metrics.Source) { s.sources = append(s.sources, src) }
func (s *recordingSink) Enabled() bool               { return true }

func (s *recordingSink) scrape() map[string]float64 {
	out := map[string]float64{}
	for _, src := range s.sources {
		src.Collect(func(d *metrics.Desc, v float64, lv ...string) {
			key := d.Name
			for i, l := range lv {
				key += " " + d.Labels[i] + "=" + l
			}
			out[key] = v
		})
	}
	return out
}

// TestPartitionSeriesCapped: up to --metrics-max-partitions partitions get
// a series each; past it the series are per topic, partition="all", with
// the values summed, and ferry_metrics_partition_series_capped says so.
func TestPartitionSeriesCapped(t *testing.T) {
	sink := &recordingSink{}
	cfg := config.Default()
	cfg.DataDir = t.TempDir()
	cfg.Metrics = sink
	cfg.MetricsMaxPartitions = 5 // the three internal topics' partitions, and a's two
	cfg.OffsetsTopicPartitions, cfg.TxnTopicPartitions = 1, 1
	b, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := b.CreateTopic("a", 2, nil, false); err != nil {
		t.Fatal(err)
	}
	for i := range int32(2) {
		p, err := b.Partition("a", i)
		if err != nil {
			t.Fatal(err)
		}
		for range i + 1 {
			if _, err := p.Append(testBatch(t)); err != nil {
				t.Fatal(err)
			}
		}
	}
	got := sink.scrape()
	if got["ferry_partition_records_in_total topic=a partition=1"] != 2 || got["ferry_partition_log_end_offset topic=a partition=0"] != 1 {
		t.Fatalf("per-partition series missing or wrong within the limit: %v", got)
	}
	if got["ferry_metrics_partition_series_capped"] != 0 || got["ferry_broker_partitions"] != 5 {
		t.Fatalf("capped=%v partitions=%v within the limit", got["ferry_metrics_partition_series_capped"], got["ferry_broker_partitions"])
	}

	if _, err := b.CreateTopic("b", 1, nil, false); err != nil {
		t.Fatal(err)
	}
	got = sink.scrape()
	if got["ferry_metrics_partition_series_capped"] != 1 {
		t.Fatalf("6 partitions over a limit of 5, not capped: %v", got)
	}
	if v, ok := got["ferry_partition_records_in_total topic=a partition=all"]; !ok || v != 3 {
		t.Fatalf("topic a summed: %v (present %v), want 3", v, ok)
	}
	if v, ok := got["ferry_partition_log_end_offset topic=a partition=all"]; !ok || v != 3 {
		t.Fatalf("topic a log end offsets summed: %v (present %v), want 3", v, ok)
	}
	for key := range got {
		if key == "ferry_partition_records_in_total topic=a partition=0" {
			t.Fatalf("per-partition series still reported past the limit")
		}
	}
}
