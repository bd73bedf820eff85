package integration

import (
	"fmt"
	"testing"
	"time"
)

// sumOverNodes scrapes every running node and sums a metric.
func sumOverNodes(t *testing.T, procs []*ferryProc, name string, labels map[string]string) float64 {
	t.Helper()
	var sum float64
	for _, p := range procs {
		if p == nil || !p.running() {
			continue
		}
		v, _ := metricValue(scrape(t, p.httpAddr()), name, labels)
		sum += v
	}
	return sum
}

// waitMetric polls until cond holds, failing with what after 30s.
func waitMetric(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ok, got := cond()
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %s", what, got)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// TestClusterMetrics: on a three-node cluster, one node says it is the
// active controller and reports offline partitions; every partition of a
// topic with replication factor 3 has one leader; followers report their
// fetch lag; a killed broker makes the partitions it replicated
// under-replicated on their leaders, whose ISRs shrink, and once it is back and caught up the
// leaders count ISR expansions and nothing is under-replicated.
func TestClusterMetrics(t *testing.T) {
	args := clusterArgs(t, 3)
	procs, _ := startClusterNodes(t, args, nil)
	topic := topicName(t)
	adm := newAdmin(t, procs[0].addr)
	resp, err := adm.CreateTopic(testCtx(t, 15*time.Second), 6, 3, nil, topic)
	if err == nil {
		err = resp.Err
	}
	if err != nil {
		t.Fatalf("create %s: %v", topic, err)
	}
	waitMetric(t, "every node holds the six replicas, all in sync", func() (bool, string) {
		held := 0.0
		for _, p := range procs {
			if _, ok := metricValue(scrape(t, p.httpAddr()), "ferry_partition_log_end_offset", map[string]string{"topic": topic, "partition": "5"}); ok {
				held++
			}
		}
		under := sumOverNodes(t, procs, "ferry_cluster_under_replicated_partitions", nil)
		return held == 3 && under == 0, fmt.Sprintf("%v nodes hold partition 5, %v under-replicated", held, under)
	})
	if got := sumOverNodes(t, procs, "ferry_cluster_active_controller", nil); got != 1 {
		t.Fatalf("%v nodes say they are the active controller, want 1", got)
	}
	var controller int
	for i, p := range procs {
		fams := scrape(t, p.httpAddr())
		if v, _ := metricValue(fams, "ferry_cluster_active_controller", nil); v == 1 {
			controller = i
			if got := mustMetric(t, fams, "ferry_cluster_offline_partitions", nil); got != 0 {
				t.Errorf("offline partitions %v on a healthy cluster", got)
			}
		} else if _, ok := metricValue(fams, "ferry_cluster_offline_partitions", nil); ok {
			t.Errorf("node %d, not the controller, reports offline partitions", i+1)
		}
		if got := mustMetric(t, fams, "ferry_cluster_controller_id", nil); got < 1 || got > 3 {
			t.Errorf("node %d: controller id %v", i+1, got)
		}
	}
	// Followers report a fetch lag for each followed partition: 6
	// partitions, 2 followers each.
	waitMetric(t, "followers' fetch lag series", func() (bool, string) {
		n := 0
		for _, p := range procs {
			if fam, ok := scrape(t, p.httpAddr())["ferry_replica_fetch_lag"]; ok {
				for _, m := range fam.GetMetric() {
					for _, l := range m.GetLabel() {
						if l.GetName() == "topic" && l.GetValue() == topic {
							n++
						}
					}
				}
			}
		}
		return n == 12, fmt.Sprintf("%d series", n)
	})

	victim := (controller + 1) % 3
	procs[victim].kill()
	// The 4 partitions the victim followed keep their leaders, whose ISR
	// shrinks when the controller fences it; the 2 it led move to a new
	// leader (no shrink on the old leader, which is dead).
	waitMetric(t, "the killed broker's replicas under-replicated on the leaders", func() (bool, string) {
		under := sumOverNodes(t, procs, "ferry_cluster_under_replicated_partitions", nil)
		shrinks := sumOverNodes(t, procs, "ferry_cluster_isr_shrinks_total", nil)
		return under >= 6 && shrinks >= 4, fmt.Sprintf("%v under-replicated, %v ISR shrinks", under, shrinks)
	})
	expandsBefore := sumOverNodes(t, procs, "ferry_cluster_isr_expands_total", nil)

	procs[victim] = startFerry(t, procs[victim].dataDir, args[victim]...)
	waitMetric(t, "the restarted broker back in every ISR", func() (bool, string) {
		under := sumOverNodes(t, procs, "ferry_cluster_under_replicated_partitions", nil)
		expands := sumOverNodes(t, procs, "ferry_cluster_isr_expands_total", nil)
		return under == 0 && expands >= expandsBefore+6, fmt.Sprintf("%v under-replicated, %v ISR expansions (%v before the restart)", under, expands, expandsBefore)
	})
}
