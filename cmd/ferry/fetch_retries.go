package main

import (
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
)

// fetchRetries decides when a partition whose fetches keep failing with an
// error the client retries (KAFKA_STORAGE_ERROR on a failing disk,
// NOT_LEADER_OR_FOLLOWER while a leader moves) stops the read: once the
// error has lasted --timeout. Clients built with kgo.KeepRetryableFetchErrors
// report such errors, which franz-go otherwise retries silently forever.
type fetchRetries struct {
	timeout time.Duration
	now     func() time.Time
	runs    map[int32]errorRun
}

// errorRun is a partition's unbroken run of failed fetches.
type errorRun struct{ first, last time.Time }

func newFetchRetries(timeout time.Duration) *fetchRetries {
	return &fetchRetries{timeout: timeout, now: time.Now, runs: map[int32]errorRun{}}
}

// failed returns the error that ends the read for a fetch error, or nil
// while a retriable one has lasted less than the timeout. A pause of more
// than the timeout between errors starts a new run.
func (f *fetchRetries) failed(fe kgo.FetchError) error {
	if !kerr.IsRetriable(fe.Err) {
		return fe.Err
	}
	t := f.now()
	run, ok := f.runs[fe.Partition]
	if !ok || t.Sub(run.last) > f.timeout {
		run.first = t
	}
	run.last = t
	f.runs[fe.Partition] = run
	if t.Sub(run.first) >= f.timeout {
		return fmt.Errorf("%w (the broker kept answering this for --timeout %v)", fe.Err, f.timeout)
	}
	return nil
}

// progressed ends partition's run of errors: it returned records.
func (f *fetchRetries) progressed(partition int32) { delete(f.runs, partition) }
