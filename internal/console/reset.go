package console

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"slices"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kerr"
)

// flexTime is a time given as milliseconds (a JSON number) or as a string
// (milliseconds or RFC 3339).
type flexTime string

func (t *flexTime) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*t = flexTime(s)
		return nil
	}
	var n json.Number
	if err := json.Unmarshal(b, &n); err != nil {
		return fmt.Errorf("time is neither a number nor a string: %s", b)
	}
	*t = flexTime(n.String())
	return nil
}

// resetRequest asks to move a group's committed offsets on one topic.
type resetRequest struct {
	Topic      string   `json:"topic"`
	Partitions []int32  `json:"partitions"` // empty: every partition
	To         string   `json:"to"`         // earliest, latest, offset, time
	Offset     *int64   `json:"offset"`     // with to=offset
	Time       flexTime `json:"time"`       // with to=time
	DryRun     bool     `json:"dry_run"`
}

type resetStep struct {
	Partition int32 `json:"partition"`
	// Current is the committed offset now, -1 if none.
	Current int64  `json:"current"`
	Target  int64  `json:"target"`
	Start   int64  `json:"start_offset"`
	End     int64  `json:"end_offset"`
	Note    string `json:"note,omitempty"`
}

type resetView struct {
	Group    string      `json:"group"`
	Topic    string      `json:"topic"`
	To       string      `json:"to"`
	DryRun   bool        `json:"dry_run"`
	Applied  bool        `json:"applied"`
	State    string      `json:"group_state"`
	CanApply bool        `json:"can_apply"`
	Reason   string      `json:"reason,omitempty"`
	Plan     []resetStep `json:"plan"`
}

// resetOffsets plans a reset of a group's offsets on a topic and, unless
// dry_run, commits it. Like kafka-consumer-groups.sh it refuses a group
// with members: their next commit would overwrite the reset, and a
// coordinator refuses commits from outside a live generation anyway.
func (c *Console) resetOffsets(ctx context.Context, r *http.Request) (any, error) {
	group := r.PathValue("group")
	var req resetRequest
	if err := decodeBody(r, &req); err != nil {
		return nil, err
	}
	if req.Topic == "" {
		return nil, errBadRequest("give the topic whose offsets to reset: \"topic\"")
	}
	var atMilli int64
	switch req.To {
	case "earliest", "latest":
	case "offset":
		if req.Offset == nil || *req.Offset < 0 {
			return nil, errBadRequest("to=offset needs \"offset\": a whole number >= 0")
		}
	case "time":
		if req.Time == "" {
			return nil, errBadRequest("to=time needs \"time\": milliseconds since 1970 or an RFC 3339 time")
		}
		var err error
		if atMilli, err = timeParam("time", string(req.Time)); err != nil {
			return nil, err
		}
	default:
		return nil, errBadRequest("to=%q is not one of earliest, latest, offset, time", req.To)
	}
	td, err := c.describeTopic(ctx, req.Topic)
	if err != nil {
		return nil, err
	}
	parts := req.Partitions
	if len(parts) == 0 {
		parts = td.Partitions.Numbers()
	}
	slices.Sort(parts)
	parts = slices.Compact(parts)
	for _, p := range parts {
		if _, ok := td.Partitions[p]; !ok {
			return nil, errBadRequest("topic %q has no partition %d", req.Topic, p)
		}
	}

	state, members, err := c.groupState(ctx, group)
	if err != nil {
		return nil, err
	}
	v := resetView{Group: group, Topic: req.Topic, To: req.To, DryRun: req.DryRun, State: state, Plan: []resetStep{}}
	v.CanApply = members == 0
	if !v.CanApply {
		v.Reason = fmt.Sprintf("group %q has %d active members: stop its consumers first (their next commit would overwrite the reset)", group, members)
	}

	starts, ends, err := c.offsetsOf(ctx, []string{req.Topic})
	if err != nil {
		return nil, err
	}
	var byTime kadm.ListedOffsets
	if req.To == "time" {
		if byTime, err = c.admin.ListOffsetsAfterMilli(ctx, atMilli, req.Topic); err != nil && !isShardErr(err) {
			return nil, err
		}
	}
	committed, err := c.admin.FetchOffsetsForTopics(ctx, group, req.Topic)
	if err != nil && !errors.Is(err, kerr.GroupIDNotFound) {
		return nil, err
	}
	commits := kadm.Offsets{}
	for _, p := range parts {
		s, _ := starts.Lookup(req.Topic, p)
		e, _ := ends.Lookup(req.Topic, p)
		if s.Err != nil || e.Err != nil {
			return nil, fmt.Errorf("offsets of partition %d: %w", p, errors.Join(s.Err, e.Err))
		}
		if s.Offset < 0 || e.Offset < 0 {
			return nil, fmt.Errorf("the broker listed no start or end offset for partition %d", p)
		}
		step := resetStep{Partition: p, Current: -1, Start: s.Offset, End: e.Offset}
		if o, ok := committed.Lookup(req.Topic, p); ok && o.Err == nil {
			step.Current = o.At
		}
		switch req.To {
		case "earliest":
			step.Target = s.Offset
		case "latest":
			step.Target = e.Offset
		case "offset":
			step.Target = *req.Offset
		case "time":
			lo, ok := byTime.Lookup(req.Topic, p)
			if !ok {
				return nil, fmt.Errorf("the broker listed no offset by time for partition %d", p)
			}
			if lo.Err != nil {
				return nil, fmt.Errorf("offset by time of partition %d: %w", p, lo.Err)
			}
			step.Target = lo.Offset
		}
		if step.Target < s.Offset || step.Target > e.Offset {
			step.Note = fmt.Sprintf("%d is outside [%d, %d]; clamped", step.Target, s.Offset, e.Offset)
			step.Target = min(max(step.Target, s.Offset), e.Offset)
		}
		v.Plan = append(v.Plan, step)
		commits.Add(kadm.Offset{Topic: req.Topic, Partition: p, At: step.Target, LeaderEpoch: -1})
	}
	if req.DryRun {
		return v, nil
	}
	if !v.CanApply {
		return nil, &apiError{status: http.StatusConflict, msg: v.Reason}
	}
	resps, err := c.admin.CommitOffsets(ctx, group, commits)
	if err != nil {
		return nil, err
	}
	if err := resps.Error(); err != nil {
		return nil, err
	}
	v.Applied = true
	return v, nil
}

// groupState returns a group's state and member count; a group the broker
// does not know yet is "Dead" with no members (a reset creates it).
func (c *Console) groupState(ctx context.Context, group string) (string, int, error) {
	dg, err := c.admin.DescribeGroups(ctx, group)
	if err != nil && !isShardErr(err) {
		return "", 0, err
	}
	g, ok := dg[group]
	if !ok || errors.Is(g.Err, kerr.GroupIDNotFound) {
		return "Dead", 0, nil
	}
	if g.Err != nil {
		return "", 0, withMessage(g.Err, g.ErrMessage)
	}
	return g.State, len(g.Members), nil
}
