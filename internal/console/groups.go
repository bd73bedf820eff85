package console

import (
	"context"
	"errors"
	"net/http"
	"sort"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

type groupSummary struct {
	Group        string `json:"group"`
	State        string `json:"state"`
	ProtocolType string `json:"protocol_type"`
	Members      int    `json:"members"`
	Coordinator  int32  `json:"coordinator"`
	// TotalLag sums the lag over the partitions of every topic the group
	// committed on (a partition without its own commit counts from the log
	// start, as a new consumer reading from the earliest would); -1 when
	// no partition's lag is known.
	TotalLag int64  `json:"total_lag"`
	Error    string `json:"error,omitempty"`
}

func (c *Console) listGroups(ctx context.Context, _ *http.Request) (any, error) {
	listed, err := c.admin.ListGroups(ctx)
	if err != nil && !isShardErr(err) {
		return nil, err
	}
	out := []groupSummary{}
	if len(listed) == 0 {
		return map[string]any{"groups": out}, nil
	}
	lags, err := c.admin.Lag(ctx, listed.Groups()...)
	if err != nil && !isShardErr(err) {
		return nil, err
	}
	for _, name := range listed.Groups() {
		l, ok := lags[name]
		s := groupSummary{Group: name, State: listed[name].State, ProtocolType: listed[name].ProtocolType, TotalLag: -1}
		if ok {
			s.State, s.Members, s.Coordinator = l.State, len(l.Members), l.Coordinator.NodeID
			if err := l.Error(); err != nil {
				s.Error = err.Error()
			}
			for _, ml := range l.Lag.Sorted() {
				if ml.Err == nil && ml.Lag >= 0 {
					s.TotalLag = max(s.TotalLag, 0) + ml.Lag
				}
			}
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Group < out[j].Group })
	return map[string]any{"groups": out}, nil
}

type memberView struct {
	MemberID   string             `json:"member_id"`
	InstanceID *string            `json:"instance_id,omitempty"`
	ClientID   string             `json:"client_id"`
	ClientHost string             `json:"client_host"`
	Assigned   map[string][]int32 `json:"assigned"`
	Raw        bool               `json:"raw_assignment,omitempty"`
}

type lagView struct {
	Topic     string `json:"topic"`
	Partition int32  `json:"partition"`
	// Committed is -1 where the group has no commit for the partition.
	Committed int64  `json:"committed"`
	Start     int64  `json:"start_offset"`
	End       int64  `json:"end_offset"`
	Lag       int64  `json:"lag"`
	Member    string `json:"member,omitempty"`
	ClientID  string `json:"client_id,omitempty"`
	Error     string `json:"error,omitempty"`
}

type groupView struct {
	Group        string       `json:"group"`
	State        string       `json:"state"`
	ProtocolType string       `json:"protocol_type"`
	Protocol     string       `json:"protocol"`
	Coordinator  int32        `json:"coordinator"`
	Members      []memberView `json:"members"`
	Lag          []lagView    `json:"lag"`
	TotalLag     int64        `json:"total_lag"`
}

// groupLag describes one group with its lag, 404 if the broker knows no
// such group (no members and no commits).
func (c *Console) groupLag(ctx context.Context, group string) (kadm.DescribedGroupLag, error) {
	lags, err := c.admin.Lag(ctx, group)
	if err != nil && !isShardErr(err) {
		return kadm.DescribedGroupLag{}, err
	}
	l, ok := lags[group]
	if !ok || errors.Is(l.DescribeErr, kerr.GroupIDNotFound) || l.State == "Dead" && len(l.Lag) == 0 {
		return kadm.DescribedGroupLag{}, errNotFound("group %q does not exist", group)
	}
	if err := l.Error(); err != nil {
		return kadm.DescribedGroupLag{}, err
	}
	return l, nil
}

func (c *Console) getGroup(ctx context.Context, r *http.Request) (any, error) {
	name := r.PathValue("group")
	l, err := c.groupLag(ctx, name)
	if err != nil {
		return nil, err
	}
	v := groupView{Group: name, State: l.State, ProtocolType: l.ProtocolType, Protocol: l.Protocol,
		Coordinator: l.Coordinator.NodeID, Members: []memberView{}, Lag: []lagView{}}
	for _, m := range l.Members {
		mv := memberView{MemberID: m.MemberID, InstanceID: m.InstanceID, ClientID: m.ClientID, ClientHost: m.ClientHost, Assigned: map[string][]int32{}}
		if a, ok := m.Assigned.AsConsumer(); ok {
			for _, t := range a.Topics {
				mv.Assigned[t.Topic] = append(mv.Assigned[t.Topic], t.Partitions...)
			}
		} else {
			mv.Raw = true
		}
		v.Members = append(v.Members, mv)
	}
	for _, ml := range l.Lag.Sorted() {
		lv := lagView{Topic: ml.Topic, Partition: ml.Partition, Committed: ml.Commit.At, Start: ml.Start.Offset, End: ml.End.Offset, Lag: ml.Lag}
		if ml.Member != nil {
			lv.Member, lv.ClientID = ml.Member.MemberID, ml.Member.ClientID
		}
		if ml.Err != nil {
			lv.Error = ml.Err.Error()
		}
		if ml.Lag > 0 {
			v.TotalLag += ml.Lag
		}
		v.Lag = append(v.Lag, lv)
	}
	return v, nil
}
