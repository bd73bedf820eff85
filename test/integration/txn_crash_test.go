package integration

import (
	"context"
	"fmt"
	"math/rand"
	"strconv"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kerr"
	"github.com/twmb/franz-go/pkg/kgo"
	"github.com/twmb/franz-go/pkg/kmsg"
	"github.com/twmb/franz-go/pkg/kversion"
)

// TestExactlyOnceAcrossBrokerSIGKILL: a franz-go GroupTransactSession
// consume-transform-produce loop over a `ferry serve` process that is
// SIGKILLed several times mid-loop and restarted on the same data dir and
// port:
//
//   - once after a transaction produced its records (durably) but before it
//     ended; the same client reconnects to the restarted broker and ends
//     its transaction (the group lost its members, so it aborts);
//   - once in the same spot, with the client abandoned as well (a full
//     crash): a new client with the same transactional id takes over the
//     open transaction left in __transaction_state;
//   - once at a random moment during EndTxn (the commit decision may be
//     durable with markers or offsets not yet written).
//
// In the end the read_committed view of the output holds every input
// record exactly once; read_uncommitted sees the aborted attempts too.
func TestExactlyOnceAcrossBrokerSIGKILL(t *testing.T) {
	dataDir := t.TempDir()
	flags := []string{
		"--group-initial-rebalance-delay", "100ms",
		"--group-min-session-timeout", "1s",
	}
	proc := startFerry(t, dataDir, flags...)
	addr := proc.addr
	restart := func() {
		t.Helper()
		proc = startFerry(t, dataDir, append(flags, "--kafka-addr", addr)...)
	}
	adm := newAdmin(t, addr)
	in, out := topicName(t), topicName(t)
	createTopic(t, adm, in, 3)
	createTopic(t, adm, out, 3)
	const n = 3000
	var rs []*kgo.Record
	for i := range n {
		rs = append(rs, &kgo.Record{Topic: in, Key: []byte(strconv.Itoa(i)), Value: []byte(strconv.Itoa(i))})
	}
	plain := newClient(t, addr)
	produceSync(t, plain, rs...)
	plain.Close()
	inEnd := endOffsets(t, adm, in)

	group := in + "-g"
	newSession := func() *kgo.GroupTransactSession {
		t.Helper()
		sess, err := kgo.NewGroupTransactSession(append(eosSessionOpts(addr, group, in),
			kgo.SessionTimeout(3*time.Second),
			kgo.HeartbeatInterval(300*time.Millisecond),
			kgo.RebalanceTimeout(5*time.Second),
			kgo.MetadataMinAge(100*time.Millisecond),
			// Retries outlast a broker restart.
			kgo.RetryBackoffFn(func(int) time.Duration { return 100 * time.Millisecond }),
			kgo.RequestRetries(100),
			kgo.RetryTimeout(30*time.Second),
		)...)
		if err != nil {
			t.Fatal(err)
		}
		return sess
	}
	// Abandoned clients are closed in the background (their broker may be
	// down); the test waits for them at the end.
	var closing sync.WaitGroup
	abandon := func(s *kgo.GroupTransactSession) {
		closing.Add(1)
		go func() { defer closing.Done(); s.Close() }()
	}
	killBroker := func() {
		t.Helper()
		if err := proc.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		<-proc.exited
	}
	// groupDone reports whether the group's committed offsets reached the
	// end of the input.
	groupDone := func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		os, err := adm.FetchOffsets(ctx, group)
		if err != nil {
			return false
		}
		for p, end := range inEnd {
			o, ok := os.Lookup(in, p)
			if !ok || o.At != end {
				return false
			}
		}
		return true
	}

	const (
		killKeepClient = iota
		killWithClient
		killDuringEnd
		noMoreKills
	)
	kills := []int{n / 5, 2 * n / 5, 3 * n / 5}
	stage := killKeepClient
	sess := newSession()
	defer func() { sess.Close() }()
	done, commits, aborts, endErrs, sessions := 0, 0, 0, 0, 1
	rng := rand.New(rand.NewSource(time.Now().UnixNano()))
	deadline := time.Now().Add(90 * time.Second)
	for idle := 0; ; {
		if time.Now().After(deadline) {
			t.Fatalf("loop did not finish: %d committed in %d commits, stage %d, group offsets done=%v\n%s", done, commits, stage, groupDone(), proc.log())
		}
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		fs := sess.PollRecords(ctx, 200)
		cancel()
		if fs.NumRecords() == 0 {
			if idle++; idle%3 == 0 && stage == noMoreKills && groupDone() {
				break
			}
			continue
		}
		idle = 0
		if err := sess.Begin(); err != nil {
			t.Fatalf("begin: %v", err)
		}
		ctx, cancel = context.WithTimeout(context.Background(), 30*time.Second)
		perr := produceOut(ctx, sess, out, fs)

		var committed bool
		var err error
		switch {
		case stage < noMoreKills && done >= kills[stage] && perr == nil:
			// The output of this transaction is durable in the log and the
			// transaction is open in __transaction_state.
			t.Logf("stage %d: SIGKILL after %d committed records (%d in the open transaction)", stage, done, fs.NumRecords())
			switch stage {
			case killKeepClient:
				killBroker()
				restart()
				committed, err = sess.End(ctx, kgo.TryCommit)
			case killWithClient:
				killBroker()
				abandon(sess)
				restart()
				sess = newSession()
				sessions++
				cancel()
				stage++
				continue
			case killDuringEnd:
				res := make(chan error, 1)
				go func() {
					var err error
					committed, err = sess.End(ctx, kgo.TryCommit)
					res <- err
				}()
				time.Sleep(time.Duration(rng.Intn(20000)) * time.Microsecond)
				killBroker()
				time.Sleep(300 * time.Millisecond)
				restart()
				err = <-res
			}
			t.Logf("stage %d: end after the restart: committed=%v err=%v", stage, committed, err)
			stage++
		default:
			committed, err = sess.End(ctx, kgo.TransactionEndTry(perr == nil))
		}
		cancel()
		switch {
		case err != nil:
			// The client is in an unknown state: restart it, as an
			// application would.
			t.Logf("end: %v; restarting the client", err)
			endErrs++
			abandon(sess)
			sess = newSession()
			sessions++
		case committed:
			done += fs.NumRecords()
			commits++
		default:
			aborts++
		}
	}
	sess.Close()
	waited := make(chan struct{})
	go func() { closing.Wait(); close(waited) }()
	select {
	case <-waited:
	case <-time.After(30 * time.Second):
		t.Fatalf("abandoned clients did not close within 30s")
	}
	t.Logf("%d commits, %d aborts, %d end errors, %d sessions; %d records counted as committed", commits, aborts, endErrs, sessions, done)

	// Nothing is left open: every output partition's last stable offset
	// is its end.
	lo, err := adm.ListCommittedOffsets(testCtx(t, 15*time.Second), out)
	if err == nil {
		err = lo.Error()
	}
	if err != nil {
		t.Fatal(err)
	}
	ruEnd := endOffsets(t, adm, out)
	for p, e := range ruEnd {
		if o, _ := lo.Lookup(out, p); o.Offset != e {
			t.Errorf("output partition %d: last stable offset %d, end %d", p, o.Offset, e)
		}
	}

	rc := consumeAll(t, addr, out, 3, 2*time.Second, kgo.FetchIsolationLevel(kgo.ReadCommitted()))
	checkExactlyOnce(t, "read_committed", rc, n)
	ru := consumeAll(t, addr, out, 3, 2*time.Second)
	seenRU := map[string]bool{}
	for _, r := range ru {
		seenRU[string(r.Value)] = true
	}
	for i := range n {
		if !seenRU["out-"+strconv.Itoa(i)] {
			t.Fatalf("read_uncommitted misses out-%d", i)
		}
	}
	// At least the transaction abandoned with its client was aborted.
	if len(ru) <= n {
		t.Fatalf("read_uncommitted saw %d records; want more than %d (aborted attempts)", len(ru), n)
	}
	t.Logf("output: read_committed %d records (exact), read_uncommitted %d", len(rc), len(ru))
}

// checkExactlyOnce asserts that rs holds "out-0".."out-<n-1>" once each and
// nothing else.
func checkExactlyOnce(t testing.TB, what string, rs []*kgo.Record, n int) {
	t.Helper()
	seen := map[string]int{}
	for _, r := range rs {
		seen[string(r.Value)]++
	}
	var dups, missing []string
	for i := range n {
		switch c := seen["out-"+strconv.Itoa(i)]; {
		case c == 0:
			missing = append(missing, strconv.Itoa(i))
		case c > 1:
			dups = append(dups, strconv.Itoa(i))
		}
	}
	if len(rs) != n || len(dups) > 0 || len(missing) > 0 {
		t.Fatalf("%s: output has %d records, want %d; duplicated %v; missing %v", what, len(rs), n, head(dups), head(missing))
	}
}

// TestOpenTxnAcrossSegmentsSurvivesSIGKILL: a transaction whose data spans
// many segments is open when the broker is SIGKILLed. After the restart the
// partition still holds its last stable offset at the transaction's first
// record, and when the coordinator aborts the transaction (its timeout
// passes with no producer coming back) the LSO moves to the end and
// read_committed consumers never see the aborted records.
func TestOpenTxnAcrossSegmentsSurvivesSIGKILL(t *testing.T) {
	dataDir := t.TempDir()
	proc := startFerry(t, dataDir)
	addr := proc.addr
	adm := newAdmin(t, addr)
	topic := topicName(t)
	createTopic(t, adm, topic, 1, "segment.bytes=1024")
	txnID := topic + "-txn"
	cl := txnClient(t, addr, txnID, kgo.TransactionTimeout(3*time.Second))
	runTxn(t, cl, topic, 1, true, "c1", "c2", "c3")
	open := endOffsets(t, adm, topic)[0]

	ctx := testCtx(t, 30*time.Second)
	if err := cl.BeginTransaction(); err != nil {
		t.Fatal(err)
	}
	const batches = 40
	for i := range batches {
		// One batch each: the transaction spans many 1 KiB segments.
		r := &kgo.Record{Topic: topic, Value: []byte(fmt.Sprintf("open-%02d-%s", i, pad))}
		if err := cl.ProduceSync(ctx, r).FirstErr(); err != nil {
			t.Fatalf("produce: %v", err)
		}
	}
	end := endOffsets(t, adm, topic)[0]
	if err := proc.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	<-proc.exited
	cl.Close()

	proc = startFerry(t, dataDir, "--kafka-addr", addr)
	lso := func() int64 {
		t.Helper()
		lo, err := adm.ListCommittedOffsets(testCtx(t, 15*time.Second), topic)
		if err == nil {
			err = lo.Error()
		}
		if err != nil {
			t.Fatal(err)
		}
		o, _ := lo.Lookup(topic, 0)
		return o.Offset
	}
	// Right after the restart the open transaction holds the LSO (the
	// coordinator aborts it only after its 3 s timeout).
	if got := lso(); got != open {
		t.Fatalf("after restart: last stable offset %d, want %d (the open transaction's first offset; log end %d)", got, open, end)
	}
	deadline := time.Now().Add(20 * time.Second)
	for lso() <= open {
		if time.Now().After(deadline) {
			t.Fatalf("the transaction open at the crash still holds the LSO at %d after 20 s\n%s", open, proc.log())
		}
		time.Sleep(100 * time.Millisecond)
	}
	if got, end := lso(), endOffsets(t, adm, topic)[0]; got != end {
		t.Fatalf("after the timeout abort: last stable offset %d, log end %d", got, end)
	}
	rc := values(consumeAll(t, addr, topic, 1, time.Second, kgo.FetchIsolationLevel(kgo.ReadCommitted())))
	if fmt.Sprint(rc) != "[c1 c2 c3]" {
		t.Fatalf("read_committed after the abort saw %d records: %.60v", len(rc), rc)
	}
	if ru := consumeAll(t, addr, topic, 1, time.Second); len(ru) != 3+batches {
		t.Fatalf("read_uncommitted saw %d records, want %d", len(ru), 3+batches)
	}
	// The transactional id goes on with a bumped epoch.
	cl = txnClient(t, addr, txnID)
	runTxn(t, cl, topic, 1, true, "c4")
	rc = values(consumeAll(t, addr, topic, 1, time.Second, kgo.FetchIsolationLevel(kgo.ReadCommitted())))
	if fmt.Sprint(rc) != "[c1 c2 c3 c4]" {
		t.Fatalf("read_committed after a new transaction saw %d records: %.60v", len(rc), rc)
	}
}

// TestRequireStableOffsetFetch: while a transaction that committed offsets
// for a group (TxnOffsetCommit) has not ended, OffsetFetch with
// require_stable answers UNSTABLE_OFFSET_COMMIT for those partitions (a
// consumer must not start from the offsets the transaction replaces); after
// the commit it returns the new offset. Without require_stable the last
// committed offset is returned at once.
func TestRequireStableOffsetFetch(t *testing.T) {
	srv := startBroker(t)
	topic := topicName(t)
	createTopic(t, newAdmin(t, srv.Addr()), topic, 2)
	cl := newClient(t, srv.Addr())
	ctx := testCtx(t, 30*time.Second)
	id, group := topic+"-txn", topic+"-g"

	initReq := kmsg.NewPtrInitProducerIDRequest()
	initReq.TransactionalID = &id
	initReq.TransactionTimeoutMillis = 20000
	initResp, err := initReq.RequestWith(ctx, cl)
	if err == nil {
		err = kerr.ErrorForCode(initResp.ErrorCode)
	}
	if err != nil {
		t.Fatalf("init producer id: %v", err)
	}
	pid, epoch := initResp.ProducerID, initResp.ProducerEpoch

	addReq := kmsg.NewPtrAddOffsetsToTxnRequest()
	addReq.TransactionalID, addReq.ProducerID, addReq.ProducerEpoch, addReq.Group = id, pid, epoch, group
	addResp, err := addReq.RequestWith(ctx, cl)
	if err == nil {
		err = kerr.ErrorForCode(addResp.ErrorCode)
	}
	if err != nil {
		t.Fatalf("add offsets to txn: %v", err)
	}

	commitReq := kmsg.NewPtrTxnOffsetCommitRequest()
	commitReq.TransactionalID, commitReq.Group, commitReq.ProducerID, commitReq.ProducerEpoch = id, group, pid, epoch
	commitReq.Generation = -1
	rt := kmsg.NewTxnOffsetCommitRequestTopic()
	rt.Topic = topic
	rp := kmsg.NewTxnOffsetCommitRequestTopicPartition()
	rp.Partition, rp.Offset = 0, 5
	rt.Partitions = append(rt.Partitions, rp)
	commitReq.Topics = append(commitReq.Topics, rt)
	commitResp, err := commitReq.RequestWith(ctx, cl)
	if err == nil {
		err = kerr.ErrorForCode(commitResp.Topics[0].Partitions[0].ErrorCode)
	}
	if err != nil {
		t.Fatalf("txn offset commit: %v", err)
	}

	// fetch returns partition 0's and 1's (offset, error) with OffsetFetch
	// at version v.
	fetch := func(v int16, stable bool) [2]string {
		t.Helper()
		req := kmsg.NewPtrOffsetFetchRequest()
		req.Version = v
		req.RequireStable = stable
		if v >= 8 {
			g := kmsg.NewOffsetFetchRequestGroup()
			g.Group = group
			gt := kmsg.NewOffsetFetchRequestGroupTopic()
			gt.Topic, gt.Partitions = topic, []int32{0, 1}
			g.Topics = append(g.Topics, gt)
			req.Groups = append(req.Groups, g)
		} else {
			req.Group = group
			rt := kmsg.NewOffsetFetchRequestTopic()
			rt.Topic, rt.Partitions = topic, []int32{0, 1}
			req.Topics = append(req.Topics, rt)
		}
		vs := kversion.Stable()
		vs.SetMaxKeyVersion(req.Key(), v)
		fcl := newClient(t, srv.Addr(), kgo.MaxVersions(vs))
		defer fcl.Close()
		resp, err := fcl.Request(ctx, req)
		if err != nil {
			t.Fatalf("offset fetch v%d: %v", v, err)
		}
		var out [2]string
		r := resp.(*kmsg.OffsetFetchResponse)
		if v >= 8 {
			for _, p := range r.Groups[0].Topics[0].Partitions {
				out[p.Partition] = fmt.Sprintf("%d/%v", p.Offset, kerr.ErrorForCode(p.ErrorCode))
			}
		} else {
			for _, p := range r.Topics[0].Partitions {
				out[p.Partition] = fmt.Sprintf("%d/%v", p.Offset, kerr.ErrorForCode(p.ErrorCode))
			}
		}
		return out
	}
	unstable := fmt.Sprintf("-1/%v", kerr.UnstableOffsetCommit)
	for _, v := range []int16{7, 8} {
		if got := fetch(v, true); got != [2]string{unstable, "-1/<nil>"} {
			t.Fatalf("v%d require_stable during the transaction: %v", v, got)
		}
		if got := fetch(v, false); got != [2]string{"-1/<nil>", "-1/<nil>"} {
			t.Fatalf("v%d without require_stable during the transaction: %v", v, got)
		}
	}

	endReq := kmsg.NewPtrEndTxnRequest()
	endReq.TransactionalID, endReq.ProducerID, endReq.ProducerEpoch, endReq.Commit = id, pid, epoch, true
	endResp, err := endReq.RequestWith(ctx, cl)
	if err == nil {
		err = kerr.ErrorForCode(endResp.ErrorCode)
	}
	if err != nil {
		t.Fatalf("end txn: %v", err)
	}
	for _, v := range []int16{7, 8} {
		if got := fetch(v, true); got != [2]string{"5/<nil>", "-1/<nil>"} {
			t.Fatalf("v%d require_stable after the commit: %v", v, got)
		}
	}
}
