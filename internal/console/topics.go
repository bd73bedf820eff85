package console

import (
	"context"
	"errors"
	"net/http"
	"slices"
	"sort"
	"strings"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

type brokerView struct {
	ID           int32   `json:"id"`
	Host         string  `json:"host"`
	Port         int32   `json:"port"`
	Rack         *string `json:"rack,omitempty"`
	IsController bool    `json:"is_controller"`
}

type clusterView struct {
	ClusterID  string       `json:"cluster_id"`
	Controller int32        `json:"controller"`
	Brokers    []brokerView `json:"brokers"`
	Seeds      []string     `json:"seeds"`
}

func (c *Console) getCluster(ctx context.Context, _ *http.Request) (any, error) {
	md, err := c.admin.BrokerMetadata(ctx)
	if err != nil {
		return nil, err
	}
	v := clusterView{ClusterID: md.Cluster, Controller: md.Controller, Brokers: []brokerView{}, Seeds: c.opts.Brokers}
	for _, b := range md.Brokers {
		v.Brokers = append(v.Brokers, brokerView{ID: b.NodeID, Host: b.Host, Port: b.Port, Rack: b.Rack, IsController: b.NodeID == md.Controller})
	}
	return v, nil
}

type topicSummary struct {
	Name              string `json:"name"`
	Internal          bool   `json:"internal"`
	Partitions        int    `json:"partitions"`
	ReplicationFactor int    `json:"replication_factor"`
	UnderReplicated   int    `json:"under_replicated"`
	Offline           int    `json:"offline"`
	// Records is the sum over partitions of end - start offset: the
	// records a consumer from the start could read (transaction markers
	// and compacted gaps included).
	Records   int64  `json:"records"`
	SizeBytes *int64 `json:"size_bytes"`
	Error     string `json:"error,omitempty"`
}

type topicList struct {
	Topics []topicSummary `json:"topics"`
	// SizeNote says why sizes are missing, when they are.
	SizeNote string `json:"size_note,omitempty"`
}

func (c *Console) listTopics(ctx context.Context, _ *http.Request) (any, error) {
	tds, err := c.admin.ListTopicsWithInternal(ctx)
	if err != nil {
		return nil, err
	}
	names := tds.Names()
	starts, ends, err := c.offsetsOf(ctx, names)
	if err != nil {
		return nil, err
	}
	sizes, sizeNote := c.partitionSizes(ctx, tds.TopicsSet())
	out := topicList{Topics: []topicSummary{}, SizeNote: sizeNote}
	for _, name := range names {
		td := tds[name]
		s := topicSummary{Name: name, Internal: td.IsInternal, Partitions: len(td.Partitions)}
		if td.Err != nil {
			s.Error = td.Err.Error()
		}
		for _, p := range td.Partitions {
			s.ReplicationFactor = max(s.ReplicationFactor, len(p.Replicas))
			if len(p.ISR) < len(p.Replicas) {
				s.UnderReplicated++
			}
			if p.Leader < 0 {
				s.Offline++
			}
			s.Records += spanOf(starts, ends, name, p.Partition)
		}
		if sizes != nil {
			var size int64
			for _, n := range sizes[name] {
				size += n
			}
			s.SizeBytes = &size
		}
		out.Topics = append(out.Topics, s)
	}
	return out, nil
}

// offsetsOf lists start and end offsets of topics (all when empty is not
// wanted: callers pass names).
func (c *Console) offsetsOf(ctx context.Context, topics []string) (starts, ends kadm.ListedOffsets, err error) {
	if len(topics) == 0 {
		return kadm.ListedOffsets{}, kadm.ListedOffsets{}, nil
	}
	if starts, err = c.admin.ListStartOffsets(ctx, topics...); err != nil && !isShardErr(err) {
		return nil, nil, err
	}
	if ends, err = c.admin.ListEndOffsets(ctx, topics...); err != nil && !isShardErr(err) {
		return nil, nil, err
	}
	return starts, ends, nil
}

// isShardErr is a partial failure (some brokers did not answer): what did
// answer is still worth showing, with the failed partitions' own errors.
func isShardErr(err error) bool {
	var se *kadm.ShardErrors
	return errors.As(err, &se)
}

func spanOf(starts, ends kadm.ListedOffsets, topic string, p int32) int64 {
	s, ok1 := starts.Lookup(topic, p)
	e, ok2 := ends.Lookup(topic, p)
	if !ok1 || !ok2 || s.Err != nil || e.Err != nil || e.Offset < s.Offset {
		return 0
	}
	return e.Offset - s.Offset
}

// partitionSizes asks DescribeLogDirs for bytes on disk per partition
// (summed over replicas and directories). A broker that does not serve it
// gets sizes left out (nil) and a note that says so, not an error for the
// whole page.
func (c *Console) partitionSizes(ctx context.Context, set kadm.TopicsSet) (map[string]map[int32]int64, string) {
	sizes := map[string]map[int32]int64{}
	if len(set) == 0 {
		return sizes, ""
	}
	dirs, err := c.admin.DescribeAllLogDirs(ctx, set)
	if err == nil {
		for _, byDir := range dirs {
			if err = byDir.Error(); err != nil {
				break
			}
		}
	}
	if err != nil {
		return nil, sizeNote(err)
	}
	dirs.Each(func(d kadm.DescribedLogDir) {
		for topic, ps := range d.Topics {
			if sizes[topic] == nil {
				sizes[topic] = map[int32]int64{}
			}
			for p, dp := range ps {
				sizes[topic][p] += dp.Size
			}
		}
	})
	return sizes, ""
}

// sizeNote says why sizes are missing: briefly where the broker does not
// serve the request at all (franz-go then says the broker is "too old").
func sizeNote(err error) string {
	if strings.Contains(err.Error(), "broker is too old") {
		return "Sizes on disk are not shown: this broker does not serve DescribeLogDirs."
	}
	return "Sizes on disk are not shown: DescribeLogDirs failed: " + err.Error()
}

type partitionView struct {
	Partition       int32   `json:"partition"`
	Leader          int32   `json:"leader"`
	LeaderEpoch     int32   `json:"leader_epoch"`
	Replicas        []int32 `json:"replicas"`
	ISR             []int32 `json:"isr"`
	OfflineReplicas []int32 `json:"offline_replicas"`
	StartOffset     int64   `json:"start_offset"`
	EndOffset       int64   `json:"end_offset"`
	Records         int64   `json:"records"`
	SizeBytes       *int64  `json:"size_bytes"`
	Error           string  `json:"error,omitempty"`
}

type topicView struct {
	Name       string          `json:"name"`
	ID         string          `json:"id"`
	Internal   bool            `json:"internal"`
	Partitions []partitionView `json:"partitions"`
	SizeNote   string          `json:"size_note,omitempty"`
}

// describeTopic returns the metadata of one topic, 404 if there is none.
func (c *Console) describeTopic(ctx context.Context, topic string) (kadm.TopicDetail, error) {
	tds, err := c.admin.ListTopicsWithInternal(ctx, topic)
	if err != nil {
		return kadm.TopicDetail{}, err
	}
	td, ok := tds[topic]
	if !ok || errors.Is(td.Err, kerr.UnknownTopicOrPartition) {
		return kadm.TopicDetail{}, errNotFound("topic %q does not exist", topic)
	}
	if td.Err != nil {
		return kadm.TopicDetail{}, td.Err
	}
	return td, nil
}

func (c *Console) getTopic(ctx context.Context, r *http.Request) (any, error) {
	name := r.PathValue("topic")
	td, err := c.describeTopic(ctx, name)
	if err != nil {
		return nil, err
	}
	starts, ends, err := c.offsetsOf(ctx, []string{name})
	if err != nil {
		return nil, err
	}
	v := topicView{Name: name, ID: td.ID.String(), Internal: td.IsInternal, Partitions: []partitionView{}}
	set := kadm.TopicsSet{}
	set.Add(name, td.Partitions.Numbers()...)
	sizes, sizeNote := c.partitionSizes(ctx, set)
	v.SizeNote = sizeNote
	for _, p := range td.Partitions.Sorted() {
		pv := partitionView{
			Partition: p.Partition, Leader: p.Leader, LeaderEpoch: p.LeaderEpoch,
			Replicas: orEmpty(p.Replicas), ISR: orEmpty(p.ISR), OfflineReplicas: orEmpty(p.OfflineReplicas),
			StartOffset: -1, EndOffset: -1,
		}
		if p.Err != nil {
			pv.Error = p.Err.Error()
		}
		if s, ok := starts.Lookup(name, p.Partition); ok && s.Err == nil {
			pv.StartOffset = s.Offset
		}
		if e, ok := ends.Lookup(name, p.Partition); ok && e.Err == nil {
			pv.EndOffset = e.Offset
		}
		pv.Records = spanOf(starts, ends, name, p.Partition)
		if sizes != nil {
			size := sizes[name][p.Partition]
			pv.SizeBytes = &size
		}
		v.Partitions = append(v.Partitions, pv)
	}
	return v, nil
}

func orEmpty(s []int32) []int32 {
	if s == nil {
		return []int32{}
	}
	return slices.Clone(s)
}

type configView struct {
	Name      string  `json:"name"`
	Value     *string `json:"value"`
	Source    string  `json:"source"`
	Sensitive bool    `json:"sensitive"`
}

func (c *Console) getConfigs(ctx context.Context, r *http.Request) (any, error) {
	name := r.PathValue("topic")
	if _, err := c.describeTopic(ctx, name); err != nil {
		return nil, err
	}
	rcs, err := c.admin.DescribeTopicConfigs(ctx, name)
	if err != nil {
		return nil, err
	}
	rc, err := rcs.On(name, nil)
	if err != nil {
		return nil, err
	}
	if rc.Err != nil {
		return nil, withMessage(rc.Err, rc.ErrMessage)
	}
	out := []configView{}
	for _, cfg := range rc.Configs {
		out = append(out, configView{Name: cfg.Key, Value: cfg.Value, Source: cfg.Source.String(), Sensitive: cfg.Sensitive})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return map[string]any{"topic": name, "configs": out}, nil
}

// alterRequest is an incremental change: keys to set and keys to return to
// their default. Incremental, so configs not named keep their values.
type alterRequest struct {
	Set    map[string]string `json:"set"`
	Delete []string          `json:"delete"`
}

func (c *Console) alterConfigs(ctx context.Context, r *http.Request) (any, error) {
	name := r.PathValue("topic")
	var req alterRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	if len(req.Set)+len(req.Delete) == 0 {
		return nil, errBadRequest("nothing to change: give \"set\" or \"delete\"")
	}
	var alters []kadm.AlterConfig
	for k, v := range req.Set {
		if k == "" {
			return nil, errBadRequest("a config name is empty")
		}
		alters = append(alters, kadm.AlterConfig{Op: kadm.SetConfig, Name: k, Value: kadm.StringPtr(v)})
	}
	for _, k := range req.Delete {
		if _, both := req.Set[k]; both {
			return nil, errBadRequest("config %q is both set and deleted", k)
		}
		alters = append(alters, kadm.AlterConfig{Op: kadm.DeleteConfig, Name: k})
	}
	if _, err := c.describeTopic(ctx, name); err != nil {
		return nil, err
	}
	resps, err := c.admin.AlterTopicConfigs(ctx, alters, name)
	if err != nil {
		return nil, err
	}
	resp, err := resps.On(name, nil)
	if err != nil {
		return nil, err
	}
	if resp.Err != nil {
		return nil, withMessage(resp.Err, resp.ErrMessage)
	}
	return c.getConfigs(ctx, r)
}
