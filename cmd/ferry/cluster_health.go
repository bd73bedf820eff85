package main

// The health of a cluster from what its brokers answer: a pure function of
// the Metadata response (kadm.Metadata), each topic's min.insync.replicas
// and which brokers this client could not reach, so that every case is
// tested on hand-built metadata (cluster_health_test.go).

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// defaultMinISR is min.insync.replicas when a broker does not report it
// (Kafka's default).
const defaultMinISR = 1

// brokerHealth is one broker of the Metadata response.
type brokerHealth struct {
	ID   int32  `json:"id"`
	Addr string `json:"addr"`
	// Unreachable says why this client could not get an answer from the
	// broker; empty when it answered.
	Unreachable string `json:"unreachable,omitempty"`
	// Draining says the broker is being decommissioned; ReplicasLeft is
	// how many replicas it still holds (0: drained, safe to stop).
	Draining     bool `json:"draining,omitempty"`
	ReplicasLeft int  `json:"replicas_left,omitempty"`
}

// partitionHealth is one partition with at least one problem.
type partitionHealth struct {
	Topic           string  `json:"topic"`
	Partition       int32   `json:"partition"`
	Leader          int32   `json:"leader"`
	Replicas        []int32 `json:"replicas"`
	ISR             []int32 `json:"isr"`
	OfflineReplicas []int32 `json:"offline_replicas,omitempty"`
	MinISR          int     `json:"min_isr"`

	UnderReplicated bool `json:"under_replicated"` // ISR smaller than the replicas
	UnderMinISR     bool `json:"under_min_isr"`    // ISR smaller than min.insync.replicas
	Offline         bool `json:"offline"`          // no leader a client can use
	// Why says what is wrong, for people ("leader 3 unreachable").
	Why []string `json:"why"`
}

// clusterHealth is what `ferry cluster status` reports.
type clusterHealth struct {
	ClusterID  string            `json:"cluster_id"`
	Controller int32             `json:"controller"` // -1: none known
	Brokers    []brokerHealth    `json:"brokers"`
	Problems   []partitionHealth `json:"problem_partitions"`
	// TopicErrors are topics the broker could not describe.
	TopicErrors []string `json:"topic_errors,omitempty"`

	Partitions      int `json:"partitions"`
	UnderReplicated int `json:"under_replicated"`
	UnderMinISR     int `json:"under_min_isr"`
	Offline         int `json:"offline"`
}

// summary is the one-line count of brokers and partition problems.
func (h clusterHealth) summary() string {
	return fmt.Sprintf("%d brokers, %d partitions, %d under-replicated, %d under min ISR, %d offline",
		len(h.Brokers), h.Partitions, h.UnderReplicated, h.UnderMinISR, h.Offline)
}

// classify finds the partitions of md that are under-replicated, under
// min ISR or offline. minISR holds each topic's min.insync.replicas (a
// topic not in it gets defaultMinISR); unreachable maps the id of each
// listed broker that did not answer this client to the reason; adding
// holds the replicas each moving partition is adding
// (ListPartitionReassignments).
//
// A partition is offline when it has no leader (-1), when its error says
// so (LEADER_NOT_AVAILABLE, or any error but REPLICA_NOT_AVAILABLE, which
// only says a follower is missing), or when its leader is not among the
// listed brokers or did not answer: a client could not use it either. A
// replica is offline when the broker says so (OfflineReplicas), or when it
// is not a listed broker or did not answer.
func classify(md kadm.Metadata, controller int32, minISR map[string]int, unreachable map[int32]string, adding map[string]map[int32][]int32) clusterHealth {
	// Empty lists, not nulls, for --json.
	h := clusterHealth{ClusterID: md.Cluster, Controller: controller, Brokers: []brokerHealth{}, Problems: []partitionHealth{}}
	listed := map[int32]bool{}
	for _, b := range md.Brokers {
		listed[b.NodeID] = true
		h.Brokers = append(h.Brokers, brokerHealth{
			ID:          b.NodeID,
			Addr:        fmt.Sprintf("%s:%d", b.Host, b.Port),
			Unreachable: unreachable[b.NodeID],
		})
	}
	sort.Slice(h.Brokers, func(i, j int) bool { return h.Brokers[i].ID < h.Brokers[j].ID })
	usable := func(id int32) bool { return listed[id] && unreachable[id] == "" }

	for _, name := range md.Topics.Names() {
		td := md.Topics[name]
		if td.Err != nil {
			h.TopicErrors = append(h.TopicErrors, fmt.Sprintf("%s: %v", name, td.Err))
			continue
		}
		min, ok := minISR[name]
		if !ok {
			min = defaultMinISR
		}
		for _, pd := range td.Partitions.Sorted() {
			h.Partitions++
			p, bad := classifyPartition(pd, min, listed, usable, unreachable, adding[name][pd.Partition])
			if !bad {
				continue
			}
			if p.UnderReplicated {
				h.UnderReplicated++
			}
			if p.UnderMinISR {
				h.UnderMinISR++
			}
			if p.Offline {
				h.Offline++
			}
			h.Problems = append(h.Problems, p)
		}
	}
	return h
}

// classifyPartition returns pd's health and whether it has a problem.
func classifyPartition(pd kadm.PartitionDetail, minISR int, listed map[int32]bool, usable func(int32) bool, unreachable map[int32]string, adding []int32) (partitionHealth, bool) {
	p := partitionHealth{
		Topic:     pd.Topic,
		Partition: pd.Partition,
		Leader:    pd.Leader,
		Replicas:  pd.Replicas,
		ISR:       pd.ISR,
		MinISR:    minISR,
	}
	offlineReplicas := slices.Clone(pd.OfflineReplicas)
	for _, r := range pd.Replicas {
		if !usable(r) && !slices.Contains(offlineReplicas, r) {
			offlineReplicas = append(offlineReplicas, r)
		}
	}
	slices.Sort(offlineReplicas)
	p.OfflineReplicas = offlineReplicas

	switch {
	case pd.Err != nil && !errors.Is(pd.Err, kerr.ReplicaNotAvailable):
		p.Offline = true
		p.Why = append(p.Why, "offline: "+errName(pd.Err))
	case pd.Leader < 0:
		p.Offline = true
		p.Why = append(p.Why, "offline: no leader")
	case !listed[pd.Leader]:
		p.Offline = true
		p.Why = append(p.Why, fmt.Sprintf("offline: leader %d is not a listed broker", pd.Leader))
	case unreachable[pd.Leader] != "":
		p.Offline = true
		p.Why = append(p.Why, fmt.Sprintf("offline: leader %d unreachable", pd.Leader))
	}
	// A replica a move is adding is copying, not missing: count the
	// others, as Kafka does.
	var counted, inSync int
	for _, r := range pd.Replicas {
		if slices.Contains(adding, r) {
			continue
		}
		counted++
		if slices.Contains(pd.ISR, r) {
			inSync++
		}
	}
	if inSync < counted {
		p.UnderReplicated = true
		p.Why = append(p.Why, fmt.Sprintf("under-replicated: %d of %d replicas in sync", inSync, counted))
		if len(adding) > 0 {
			p.Why = append(p.Why, "moving: adding "+int32List(adding))
		}
	}
	if len(pd.ISR) < minISR {
		p.UnderMinISR = true
		p.Why = append(p.Why, fmt.Sprintf("under min ISR: %d in sync, min.insync.replicas %d", len(pd.ISR), minISR))
	}
	if len(offlineReplicas) > 0 {
		p.Why = append(p.Why, "offline replicas "+int32List(offlineReplicas))
	}
	return p, p.Offline || p.UnderReplicated || p.UnderMinISR || len(offlineReplicas) > 0
}

// errName is a Kafka error's name (LEADER_NOT_AVAILABLE), or its text.
func errName(err error) string {
	var ke *kerr.Error
	if errors.As(err, &ke) {
		return ke.Message
	}
	return err.Error()
}

// int32List formats ids as "1,2,3"; none is "-".
func int32List(ids []int32) string {
	if len(ids) == 0 {
		return "-"
	}
	s := make([]string, len(ids))
	for i, id := range ids {
		s[i] = fmt.Sprint(id)
	}
	return strings.Join(s, ",")
}

// markDraining sets the draining state of h's brokers: draining holds the
// brokers whose ferry.broker.draining is true, and the replicas left are
// counted in md.
func markDraining(h *clusterHealth, md kadm.Metadata, draining map[int32]bool) {
	for i := range h.Brokers {
		b := &h.Brokers[i]
		if draining[b.ID] {
			b.Draining, b.ReplicasLeft = true, replicasOn(md, b.ID)
		}
	}
}

// state describes b for the table: up or unreachable, and draining.
func (b brokerHealth) state() string {
	state := "up"
	if b.Unreachable != "" {
		state = "unreachable: " + b.Unreachable
	}
	switch {
	case b.Draining && b.ReplicasLeft > 0:
		state += fmt.Sprintf(", draining (%d replicas left)", b.ReplicasLeft)
	case b.Draining:
		state += ", drained: safe to stop"
	}
	return state
}
