package broker

import (
	"errors"
	"fmt"

	"github.com/twmb/franz-go/pkg/kerr"

	"github.com/ferry-mq/ferry/internal/controller"
	"github.com/ferry-mq/ferry/internal/meta"
)

// Move is one partition's new replica list; Replicas[0] becomes its
// preferred leader. Nil Replicas cancels the partition's running move.
type Move struct {
	Topic     string
	Partition int32
	Replicas  []int32
}

// Reassignment is one running move as the newest image shows it.
type Reassignment struct {
	Topic     string
	Partition int32
	Replicas  []int32 // the target followed by the replicas it removes
	Adding    []int32
	Removing  []int32
}

// Reassign starts (or, for nil Replicas, cancels) every move in one
// metadata update: all or nothing. It returns once the records are
// committed; the data moves in the background, and each move completes
// when its new replicas have joined the ISR (see controller.StartReassignment).
func (b *Broker) Reassign(moves []Move) error {
	if err := b.checkClustered(); err != nil {
		return err
	}
	_, err := b.meta.Update(func(img *meta.Image) ([]meta.Record, error) {
		var recs []meta.Record
		seen := map[PartitionRef]bool{}
		for _, m := range moves {
			key := PartitionRef{m.Topic, m.Partition}
			if seen[key] {
				return nil, fmt.Errorf("%w: %s-%d is named twice", kerr.InvalidReplicaAssignment, m.Topic, m.Partition)
			}
			seen[key] = true
			rec, err := reassignRecord(img, m)
			if err != nil {
				return nil, fmt.Errorf("%s-%d: %w", m.Topic, m.Partition, err)
			}
			if rec != nil {
				recs = append(recs, *rec)
			}
		}
		if len(recs) == 0 {
			return nil, meta.ErrNoChange
		}
		return recs, nil
	})
	return err
}

// ReassignEach is Reassign with one result per move (nil: started or
// cancelled): a move that fails does not stop the others, which are
// committed together in one metadata update. A failure of the update
// itself (no controller) is every move's result.
func (b *Broker) ReassignEach(moves []Move) []error {
	errs := make([]error, len(moves))
	if err := b.checkClustered(); err != nil {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	_, err := b.meta.Update(func(img *meta.Image) ([]meta.Record, error) {
		var recs []meta.Record
		seen := map[PartitionRef]bool{}
		for i, m := range moves {
			key := PartitionRef{m.Topic, m.Partition}
			if seen[key] {
				errs[i] = fmt.Errorf("%w: %s-%d is named twice", kerr.InvalidReplicaAssignment, m.Topic, m.Partition)
				continue
			}
			seen[key] = true
			rec, err := reassignRecord(img, m)
			errs[i] = err
			if rec != nil {
				recs = append(recs, *rec)
			}
		}
		if len(recs) == 0 {
			return nil, meta.ErrNoChange
		}
		return recs, nil
	})
	if err != nil {
		for i := range errs {
			if errs[i] == nil {
				errs[i] = err
			}
		}
	}
	return errs
}

// reassignRecord returns the record that starts or cancels m, or nil when
// m changes nothing.
func reassignRecord(img *meta.Image, m Move) (*meta.Record, error) {
	t, ok := img.Topic(m.Topic)
	if !ok {
		return nil, fmt.Errorf("%w: topic %q does not exist", kerr.UnknownTopicOrPartition, m.Topic)
	}
	if m.Partition < 0 || m.Partition >= t.Partitions || int(m.Partition) >= len(t.Placement) {
		return nil, fmt.Errorf("%w: topic %q has partitions 0-%d", kerr.UnknownTopicOrPartition, m.Topic, len(t.Placement)-1)
	}
	cur := t.Placement[m.Partition]
	var next meta.Placement
	if m.Replicas == nil {
		var err error
		if next, err = controller.CancelReassignment(img, cur); err != nil {
			return nil, err
		}
	} else {
		var changed bool
		var err error
		if next, changed, err = controller.StartReassignment(img, cur, m.Replicas); err != nil || !changed {
			return nil, err
		}
	}
	return &meta.Record{Placement: &meta.PlacementRecord{Topic: m.Topic, Partition: m.Partition, Placement: next}}, nil
}

// Reassignments lists the running moves, sorted by topic and partition.
func (b *Broker) Reassignments() []Reassignment {
	var out []Reassignment
	for _, t := range b.Image().Topics() {
		for i, p := range t.Placement {
			if p.Reassigning() {
				out = append(out, Reassignment{Topic: t.Name, Partition: int32(i), Replicas: p.Replicas, Adding: p.Adding, Removing: p.Removing})
			}
		}
	}
	return out
}

// checkClustered refuses reassignment and elections on a single node,
// whose partitions all live here whatever the metadata says.
func (b *Broker) checkClustered() error {
	if !b.Clustered() {
		return fmt.Errorf("%w: a single node has no other broker to move replicas or leadership to", kerr.InvalidRequest)
	}
	return nil
}

// ElectionType is ElectLeaders' election type.
type ElectionType int8

const (
	ElectPreferred ElectionType = 0 // the preferred replica, if in sync
	ElectUnclean   ElectionType = 1 // any live replica of an offline partition
)

// PartitionRef names one partition.
type PartitionRef struct {
	Topic     string
	Partition int32
}

// ElectLeaders elects leaders of parts (nil: every partition) and returns
// one result per partition it considered, nil for an election made; the
// elections are one metadata update. With parts nil, partitions whose
// election is not needed are left out of the result. The error is the
// update's (no controller).
func (b *Broker) ElectLeaders(typ ElectionType, parts []PartitionRef) (map[PartitionRef]error, error) {
	if err := b.checkClustered(); err != nil {
		return nil, err
	}
	all := parts == nil
	if all {
		for _, t := range b.Image().Topics() {
			for i := range t.Placement {
				parts = append(parts, PartitionRef{t.Name, int32(i)})
			}
		}
	}
	var out map[PartitionRef]error
	_, err := b.meta.Update(func(img *meta.Image) ([]meta.Record, error) {
		out = make(map[PartitionRef]error, len(parts))
		var recs []meta.Record
		for _, ref := range parts {
			if _, dup := out[ref]; dup {
				continue
			}
			next, err := electRecord(img, typ, ref)
			if all && errors.Is(err, kerr.ElectionNotNeeded) {
				continue
			}
			out[ref] = err
			if err == nil {
				recs = append(recs, meta.Record{Placement: &meta.PlacementRecord{Topic: ref.Topic, Partition: ref.Partition, Placement: next}})
			}
		}
		if len(recs) == 0 {
			return nil, meta.ErrNoChange
		}
		return recs, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// electRecord returns the placement of ref after an election of typ.
func electRecord(img *meta.Image, typ ElectionType, ref PartitionRef) (meta.Placement, error) {
	t, ok := img.Topic(ref.Topic)
	if !ok || ref.Partition < 0 || int(ref.Partition) >= len(t.Placement) {
		return meta.Placement{}, kerr.UnknownTopicOrPartition
	}
	if typ == ElectUnclean {
		return controller.ElectUnclean(img, t.Placement[ref.Partition])
	}
	return controller.ElectPreferred(img, t.Placement[ref.Partition])
}
