package integration

import (
	"encoding/binary"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kadm"
	"github.com/twmb/franz-go/pkg/kgo"
)

// The corruption matrix runs against one data directory built once: a topic
// of several segments holding plain and transactional records (some
// aborted), consumer-group commits spread over several __consumer_offsets
// segments, and transactional ids in __transaction_state. Each row copies it,
// flips one byte and restarts the broker on the copy.

const (
	corruptTopic  = "data"
	corruptLast   = "created-last" // the last metadata record
	corruptGroups = 5
	corruptRounds = 8
	corruptTxnIDs = 3
)

// corruptFixture is what the built data directory holds, as acknowledged to
// the clients that wrote it.
type corruptFixture struct {
	clean, killed string // data dirs: stopped with SIGTERM; then restarted and SIGKILLed

	acked   map[int64]string // offset → value of every record a read_committed consumer must see
	aborted map[string]bool  // values written in aborted transactions
	end     int64            // log end offset of the topic
	commits map[string][]int64
	txns    map[string]kadm.DescribedTransaction
}

func buildCorruptFixture(t *testing.T) *corruptFixture {
	t.Helper()
	fx := &corruptFixture{
		clean:   filepath.Join(t.TempDir(), "clean"),
		acked:   map[int64]string{},
		aborted: map[string]bool{},
		commits: map[string][]int64{},
	}
	// One partition per internal topic: the rows damage partition 0.
	proc := startFerry(t, fx.clean, "--offsets-segment-bytes", "1024", "--offsets-topic-partitions", "1", "--txn-topic-partitions", "1")
	adm := newAdmin(t, proc.addr)
	ctx := testCtx(t, 60*time.Second)
	createTopic(t, adm, corruptTopic, 1, "segment.bytes=8192")

	// Uncompressed, so batch sizes and segment counts are predictable.
	raw := kgo.ProducerBatchCompression(kgo.NoCompression())
	plain := newClient(t, proc.addr, kgo.DefaultProduceTopic(corruptTopic), kgo.RequiredAcks(kgo.AllISRAcks()), kgo.ProducerLinger(0), raw)
	var txs []*kgo.Client
	for i := range corruptTxnIDs {
		txs = append(txs, newClient(t, proc.addr, kgo.DefaultProduceTopic(corruptTopic), kgo.TransactionalID(fmt.Sprintf("tx-%d", i)), raw))
	}
	seq := 0
	// records builds n records of about 200 bytes; the produce that
	// acknowledges them fills in their offsets.
	records := func(kind string, n int) []*kgo.Record {
		var rs []*kgo.Record
		for range n {
			seq++
			v := fmt.Sprintf("%s-%05d-%s", kind, seq, strings.Repeat("x", 180))
			rs = append(rs, &kgo.Record{Key: fmt.Appendf(nil, "k%d", seq%7), Value: []byte(v)})
		}
		return rs
	}
	keep := func(rs []*kgo.Record) {
		for _, r := range rs {
			fx.acked[r.Offset] = string(r.Value)
		}
	}
	for round := range corruptRounds {
		for range 4 {
			rs := records("plain", 8)
			produceSync(t, plain, rs...)
			keep(rs)
		}
		tx := txs[round%corruptTxnIDs]
		for _, commit := range []bool{true, false} {
			if err := tx.BeginTransaction(); err != nil {
				t.Fatal(err)
			}
			kind := "committed"
			if !commit {
				kind = "aborted"
			}
			rs := records(kind, 3)
			produceSync(t, tx, rs...)
			if err := tx.EndTransaction(ctx, kgo.TransactionEndTry(commit)); err != nil {
				t.Fatalf("end transaction: %v", err)
			}
			for _, r := range rs {
				if commit {
					fx.acked[r.Offset] = string(r.Value)
				} else {
					fx.aborted[string(r.Value)] = true
				}
			}
		}
		for g := range corruptGroups {
			group := fmt.Sprintf("g%d", g)
			at := int64(1000*g + round)
			os := kadm.Offsets{}
			os.Add(kadm.Offset{Topic: corruptTopic, Partition: 0, At: at, LeaderEpoch: -1})
			resp, err := adm.CommitOffsets(ctx, group, os)
			if err == nil {
				err = resp.Error()
			}
			if err != nil {
				t.Fatalf("commit %s: %v", group, err)
			}
			fx.commits[group] = append(fx.commits[group], at)
		}
	}
	// The newest batch of the topic is a plain one, so "the tail" is data.
	rs := records("plain", 8)
	produceSync(t, plain, rs...)
	keep(rs)
	fx.end = rs[len(rs)-1].Offset + 1
	fx.txns = describeTxns(t, adm)
	createTopic(t, adm, corruptLast, 1)
	for _, c := range append(txs, plain) {
		c.Close()
	}
	proc.stop()
	// The killed variant: the same bytes, but no clean-shutdown marks, as
	// after a SIGKILL.
	fx.killed = filepath.Join(t.TempDir(), "killed")
	copyTree(t, fx.clean, fx.killed)
	startFerry(t, fx.killed, "--offsets-segment-bytes", "1024").kill()
	return fx
}

func describeTxns(t *testing.T, adm *kadm.Client) map[string]kadm.DescribedTransaction {
	t.Helper()
	var ids []string
	for i := range corruptTxnIDs {
		ids = append(ids, fmt.Sprintf("tx-%d", i))
	}
	ds, err := adm.DescribeTransactions(testCtx(t, 15*time.Second), ids...)
	if err != nil {
		t.Fatalf("describe transactions: %v", err)
	}
	out := map[string]kadm.DescribedTransaction{}
	for id, d := range ds {
		if d.Err != nil {
			t.Fatalf("describe transaction %s: %v", id, d.Err)
		}
		out[id] = d
	}
	return out
}

// copyTree copies the regular files of src into dst.
func copyTree(t *testing.T, src, dst string) {
	t.Helper()
	err := filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, b, 0o644)
	})
	if err != nil {
		t.Fatalf("copy %s: %v", src, err)
	}
}

// partitionDir finds the directory of partition 0 of topic in dataDir,
// whatever suffix it carries.
func partitionDir(t *testing.T, dataDir, topic string) string {
	t.Helper()
	cands, _ := filepath.Glob(filepath.Join(dataDir, topic+"-0*"))
	for _, c := range cands {
		if st, err := os.Stat(c); err == nil && st.IsDir() && !strings.HasSuffix(c, "-delete") {
			return c
		}
	}
	t.Fatalf("no directory for %s-0 in %s (%v)", topic, dataDir, cands)
	return ""
}

// segmentFiles returns the files of dir with extension ext, in base offset order.
func segmentFiles(t *testing.T, dir, ext string) []string {
	t.Helper()
	fs, _ := filepath.Glob(filepath.Join(dir, "*"+ext))
	var out []string
	for _, f := range fs {
		if st, err := os.Stat(f); err == nil && st.Size() > 0 {
			out = append(out, f)
		}
	}
	slices.Sort(out)
	return out
}

// batchAt describes the batch of a segment a flip lands in.
type batchAt struct {
	pos         int64 // file position of the batch
	size        int64
	first, last int64 // its offsets
	control     bool  // a transaction marker
}

// batchesOf returns the batches of a segment file.
func batchesOf(t *testing.T, path string) []batchAt {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	starts, _ := batchStarts(t, path)
	var out []batchAt
	for _, p := range starts {
		base := int64(binary.BigEndian.Uint64(b[p:]))
		delta := int64(binary.BigEndian.Uint32(b[p+23:]))
		size := 12 + int64(binary.BigEndian.Uint32(b[p+8:]))
		control := binary.BigEndian.Uint16(b[p+21:])&0x20 != 0
		out = append(out, batchAt{p, size, base, base + delta, control})
	}
	return out
}

// flipByte flips the bits of one byte of path.
func flipByteAt(t *testing.T, path string, pos int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if pos < 0 || pos >= int64(len(b)) {
		t.Fatalf("flip at %d of %s (%d bytes)", pos, path, len(b))
	}
	b[pos] ^= 0xff
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
