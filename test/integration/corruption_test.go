package integration

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// damage is what a row did to the data directory.
type damage struct {
	file string // path of the damaged file
	pos  int64  // the flipped byte
	// batch is the topic batch (or coordinator batch) the byte lies in;
	// nil when the file is not a segment of the data topic.
	batch  *batchAt
	onData bool // the batch is one of the data topic's
	// indexed is the offset an .index entry named before the flip, where
	// a consumer starts reading too (the index is only used at the
	// start of a read); -1 if none.
	indexed int64
	// coordinator is the internal topic damaged, if any; raw its damaged
	// batch before the flip, to tell which groups or transactional ids
	// it held.
	coordinator string
	raw         []byte
}

// corruptRow is one row of the matrix: a kind of file, a place in it, how the
// broker was stopped, and what must happen at the next start.
type corruptRow struct {
	kind, place string
	kill        bool
	stop        string // how the row says it stopped, if not by kill
	flip        func(t *testing.T, dir string) damage
	refuses     bool           // the broker must refuse to start
	wantLog     *regexp.Regexp // a WARN or ERROR line the broker must log (nil: none required)
	needs       string         // unmerged work the row depends on: skipped until it lands
	lostTopic   string         // a topic whose creation the damage cost
}

func (r corruptRow) name() string {
	stop := "sigterm"
	if r.kill {
		stop = "sigkill"
	}
	if r.stop != "" {
		stop = r.stop
	}
	return fmt.Sprintf("%s/%s/%s", r.kind, r.place, stop)
}

// TestCorruptionMatrix flips one byte in each kind of file the broker keeps,
// at the tail and in the middle (a sealed segment where the file has
// segments), restarts the broker and checks what it logs, what a consumer
// sees, and that no acknowledged record outside the damaged bytes is lost.
func TestCorruptionMatrix(t *testing.T) {
	fx := buildCorruptFixture(t)
	rows := corruptRows()
	var table []string
	for _, row := range rows {
		t.Run(strings.ReplaceAll(row.name(), "/", "-"), func(t *testing.T) {
			if row.needs != "" {
				short, _, _ := strings.Cut(row.needs, ",")
				table = append(table, fmt.Sprintf("%-36s skipped: needs %s", row.name(), short))
				t.Skip("needs " + row.needs)
			}
			res := runCorruptRow(t, fx, row)
			table = append(table, fmt.Sprintf("%-36s %s", row.name(), res))
		})
	}
	t.Logf("corruption matrix (file/place/stop: outcome):\n%s", strings.Join(table, "\n"))
}

var (
	consumerOffsetsSkipped  = regexp.MustCompile(`level=ERROR.*__consumer_offsets-0`)
	transactionStateSkipped = regexp.MustCompile(`level=ERROR.*__transaction_state-0`)
)

func corruptRows() []corruptRow {
	var rows []corruptRow
	for _, kill := range []bool{false, true} {
		rows = append(rows,
			corruptRow{kind: "log", place: "middle", kill: kill, flip: flipDataLog(middleSegment, middleBatch)},
			// The low byte of a position: the entry still looks sane.
			corruptRow{kind: "index", place: "middle", kill: kill, flip: flipIndex(".index", middleSegment, 8, 7)},
			// The low byte of a timestamp: the entry may still look sane
			// and send ListOffsets by time to a later batch.
			corruptRow{kind: "timeindex", place: "middle", kill: kill, flip: flipIndex(".timeindex", middleSegment, 12, 7)},
			corruptRow{kind: "txnindex", place: "middle", kill: kill, flip: flipIndex(".txnindex", middleSegment, 28, 15),
				wantLog: regexp.MustCompile(`level=ERROR.*aborted-transaction index damaged.*txnindex`)},
			// The fixture's backup of metadata.log: empty for the
			// SIGTERM copy (taken at its first start), the whole log
			// for the SIGKILL copy (taken at its restart).
			corruptRow{kind: "metadata.log", place: "middle", kill: kill, flip: flipMetadata(false), refuses: !kill,
				wantLog: metadataLogLine(kill)},
			corruptRow{kind: "consumer_offsets", place: "middle", kill: kill, flip: flipCoordinator("__consumer_offsets", middleSegment, middleBatch),
				wantLog: consumerOffsetsSkipped},
			corruptRow{kind: "transaction_state", place: "middle", kill: kill, flip: flipCoordinator("__transaction_state", lastSegment, middleBatch),
				wantLog: transactionStateSkipped},

			corruptRow{kind: "log", place: "tail", kill: kill, flip: flipDataLog(lastSegment, lastBatch)},
			corruptRow{kind: "index", place: "tail", kill: kill, flip: flipIndex(".index", lastSegment, 8, -1)},
			corruptRow{kind: "timeindex", place: "tail", kill: kill, flip: flipIndex(".timeindex", lastSegment, 12, -1)},
			corruptRow{kind: "txnindex", place: "tail", kill: kill, flip: flipIndex(".txnindex", lastTxnIndex, 28, -1),
				wantLog: regexp.MustCompile(`level=ERROR.*aborted-transaction index damaged.*txnindex`)},
			corruptRow{kind: "metadata.log", place: "tail", kill: kill, flip: flipMetadata(true), refuses: !kill,
				wantLog: metadataLogLine(kill)},
			corruptRow{kind: "consumer_offsets", place: "tail", kill: kill, flip: flipCoordinator("__consumer_offsets", lastSegment, lastBatch),
				wantLog: consumerOffsetsSkipped},
			corruptRow{kind: "transaction_state", place: "tail", kill: kill, flip: flipCoordinator("__transaction_state", lastSegment, lastBatch),
				wantLog: transactionStateSkipped},
		)
	}
	// A crash right after the last metadata write (the SIGTERM copy without
	// its clean-shutdown mark): its frame is past the backup, a torn write.
	rows = append(rows, corruptRow{kind: "metadata.log", place: "tail", stop: "crash-after-write", flip: flipUnsyncedMetadataTail,
		wantLog: regexp.MustCompile(`level=ERROR.*truncating torn metadata log tail`), lostTopic: corruptLast})
	return rows
}

// metadataLogLine is what the broker logs for a damaged metadata.log that
// its backup covers (repaired) or does not (refused).
func metadataLogLine(inBackup bool) *regexp.Regexp {
	if inBackup {
		return regexp.MustCompile(`level=ERROR.*repaired it from its backup copy`)
	}
	return regexp.MustCompile(`level=ERROR.*metadata log is corrupt`)
}

func flipUnsyncedMetadataTail(t *testing.T, dir string) damage {
	if err := os.Remove(filepath.Join(dir, "__meta", "clean-shutdown")); err != nil {
		t.Fatal(err)
	}
	return flipMetadata(true)(t, dir)
}

// Places in a list of segments or batches.
func middleSegment(n int) int { return (n - 1) / 2 }
func lastSegment(n int) int   { return n - 1 }
func middleBatch(n int) int   { return n / 2 }
func lastBatch(n int) int     { return n - 1 }

// lastTxnIndex picks the last .txnindex file (the list is of those files).
func lastTxnIndex(n int) int { return n - 1 }

func flipDataLog(seg, batch func(int) int) func(*testing.T, string) damage {
	return func(t *testing.T, dir string) damage {
		segs := segmentFiles(t, partitionDir(t, dir, corruptTopic), ".log")
		if len(segs) < 3 {
			t.Fatalf("data topic has %d segments, want several", len(segs))
		}
		path := segs[seg(len(segs))]
		var bs []batchAt
		for _, b := range batchesOf(t, path) {
			if !b.control {
				bs = append(bs, b)
			}
		}
		b := bs[batch(len(bs))]
		d := damage{file: path, pos: b.pos + b.size - 10, batch: &b, onData: true, indexed: -1} // inside the records
		flipByteAt(t, path, d.pos)
		return d
	}
}

// flipIndex flips byte at of entry entry-middle (at < 0: the last byte of
// the last entry) of an index file of the data topic.
func flipIndex(ext string, seg func(int) int, entrySize int64, at int64) func(*testing.T, string) damage {
	return func(t *testing.T, dir string) damage {
		files := segmentFiles(t, partitionDir(t, dir, corruptTopic), ext)
		if len(files) == 0 {
			t.Fatalf("no %s file", ext)
		}
		path := files[seg(len(files))]
		st, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		n := st.Size() / entrySize
		pos := st.Size() - 1
		if at >= 0 {
			pos = n/2*entrySize + at
		}
		d := damage{file: path, pos: pos, indexed: -1}
		if ext == ".index" {
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			entry := pos / entrySize * entrySize
			base, err := strconv.ParseInt(strings.TrimSuffix(filepath.Base(path), ext), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			d.indexed = base + int64(binary.BigEndian.Uint32(b[entry:]))
		}
		flipByteAt(t, path, pos)
		return d
	}
}

// flipMetadata flips a byte in the payload of the last frame of
// metadata.log, or of the middle one.
func flipMetadata(last bool) func(*testing.T, string) damage {
	return func(t *testing.T, dir string) damage {
		path := filepath.Join(dir, "__meta", "metadata.log")
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		var starts []int64
		for pos := int64(0); pos+8 <= int64(len(b)); pos += 8 + int64(binary.BigEndian.Uint32(b[pos:])) {
			starts = append(starts, pos)
		}
		i := len(starts) / 2
		if last {
			i = len(starts) - 1
		}
		d := damage{file: path, pos: starts[i] + 8 + 3, indexed: -1}
		flipByteAt(t, path, d.pos)
		return d
	}
}

func flipCoordinator(topic string, seg, batch func(int) int) func(*testing.T, string) damage {
	return func(t *testing.T, dir string) damage {
		segs := segmentFiles(t, partitionDir(t, dir, topic), ".log")
		path := segs[seg(len(segs))]
		bs := batchesOf(t, path)
		if len(bs) < 2 {
			t.Fatalf("%s holds %d batches", path, len(bs))
		}
		b := bs[batch(len(bs))]
		raw, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		d := damage{file: path, pos: b.pos + b.size - 4, batch: &b, coordinator: topic, raw: raw[b.pos : b.pos+b.size], indexed: -1}
		flipByteAt(t, path, d.pos)
		return d
	}
}

var problemLine = regexp.MustCompile(`(?m)^.*level=(WARN|ERROR).*$`)

// runCorruptRow runs one row on a copy of the fixture and returns its line
// of the table.
func runCorruptRow(t *testing.T, fx *corruptFixture, row corruptRow) string {
	src := fx.clean
	if row.kill {
		src = fx.killed
	}
	dir := filepath.Join(t.TempDir(), "data")
	copyTree(t, src, dir)
	d := row.flip(t, dir)
	rel, _ := filepath.Rel(dir, d.file)
	before, _ := os.ReadFile(d.file)

	proc, err := tryStartFerry(t, dir, "--offsets-segment-bytes", "1024")
	var logs string
	if err != nil {
		logs = err.Error()
	} else {
		logs = proc.log()
	}
	if row.wantLog != nil && !row.wantLog.MatchString(logs) {
		t.Errorf("broker log has no line matching %q:\n%s", row.wantLog, logs)
	}
	problems := problemLine.FindAllString(logs, -1)
	summary := fmt.Sprintf("flip %s@%d; ", rel, d.pos)
	if row.refuses {
		if err == nil {
			t.Fatalf("broker started on a corrupt %s", rel)
		}
		for _, want := range []string{d.file, "backup"} {
			if !strings.Contains(logs, want) {
				t.Errorf("refusal does not name %q:\n%s", want, logs)
			}
		}
		if after, _ := os.ReadFile(d.file); !bytes.Equal(before, after) {
			t.Errorf("refusing broker changed %s", rel)
		}
		return summary + "refused to start: " + firstLine(problems)
	}
	if err != nil {
		t.Fatalf("broker did not start: %v", err)
	}
	read, readErr := checkDataTopic(t, proc.addr, fx, d)
	checkTopics(t, proc.addr, row.lostTopic)
	checkGroups(t, proc.addr, fx, d)
	checkTxns(t, proc.addr, fx, d)
	if strings.HasSuffix(d.file, ".timeindex") {
		checkTimeLookups(t, proc.addr, dir, d)
	}
	if len(problems) == 0 {
		problems = []string{"nothing logged"}
	}
	summary += fmt.Sprintf("served; %d records read", read)
	if readErr != nil {
		summary += fmt.Sprintf(", error at the damage (%.60s)", readErr)
	}
	return summary + "; log: " + firstLine(problems)
}

func firstLine(lines []string) string {
	if len(lines) == 0 {
		return "-"
	}
	l := lines[0]
	if i := strings.Index(l, "msg="); i >= 0 {
		l = l[i:]
	}
	if len(l) > 140 {
		l = l[:140] + "…"
	}
	if len(lines) > 1 {
		l += fmt.Sprintf(" (+%d more)", len(lines)-1)
	}
	return l
}

// checkDataTopic reads the data topic read_committed around the damage and
// checks every acknowledged record outside the damaged batch is there at
// its offset, no aborted record shows, and the damaged batch gives an error,
// not a silent skip. It returns how many records it read and the error the
// damaged batch gave.
func checkDataTopic(t *testing.T, addr string, fx *corruptFixture, d damage) (int, error) {
	t.Helper()
	onData := d.onData
	end := endOffsets(t, newAdmin(t, addr), corruptTopic)[0]
	wantEnd := fx.end
	// A transaction whose completion was lost is completed again at
	// start-up: its markers may follow the old end.
	if end != wantEnd && (onData || end < wantEnd) {
		t.Errorf("log end %d, want %d", end, wantEnd)
	}
	lastBefore := func(limit int64) int64 { // highest acknowledged offset below limit
		best := int64(-1)
		for o := range fx.acked {
			if o < limit && o > best {
				best = o
			}
		}
		return best
	}
	var got []*kgo.Record
	var damageErr error
	if onData {
		rs, err := readTopic(t, addr, 0, lastBefore(d.batch.first), true)
		got = append(got, rs...)
		if err == nil {
			t.Errorf("reading through the damaged batch [%d, %d] gave no error", d.batch.first, d.batch.last)
		}
		damageErr = err
		rs, err = readTopic(t, addr, d.batch.last+1, lastBefore(end), false)
		if err != nil {
			t.Errorf("reading after the damaged batch: %v", err)
		}
		got = append(got, rs...)
	} else {
		rs, err := readTopic(t, addr, 0, lastBefore(end), false)
		if err != nil {
			t.Errorf("read: %v", err)
		}
		got = rs
	}
	if d.indexed >= 0 {
		rs, err := readTopic(t, addr, d.indexed, lastBefore(end), false)
		if err != nil {
			t.Errorf("read from %d, an offset the damaged index named: %v", d.indexed, err)
		}
		got = append(got, rs...)
	}
	seen := map[int64]bool{}
	for _, r := range got {
		want, ok := fx.acked[r.Offset]
		switch {
		case fx.aborted[string(r.Value)]:
			t.Errorf("aborted record %.20q visible read_committed at %d", r.Value, r.Offset)
		case !ok || want != string(r.Value):
			t.Errorf("offset %d holds %.20q, acknowledged there: %.20q", r.Offset, r.Value, want)
		}
		seen[r.Offset] = true
	}
	lost := 0
	for o := range fx.acked {
		inDamage := onData && o >= d.batch.first && o <= d.batch.last
		if !seen[o] && !inDamage {
			if lost < 5 {
				t.Errorf("acknowledged record at %d lost", o)
			}
			lost++
		}
	}
	if lost > 0 {
		t.Errorf("%d acknowledged records outside the damaged bytes lost", lost)
	}
	return len(got), damageErr
}

// readTopic consumes the data topic read_committed from offset from until
// the record at offset last arrives, or until a fetch error when wantErr
// (then it polls a little more, for records the failed response held back).
func readTopic(t *testing.T, addr string, from, last int64, wantErr bool) ([]*kgo.Record, error) {
	t.Helper()
	if last < from && !wantErr {
		return nil, nil
	}
	cl := newClient(t, addr,
		kgo.ConsumePartitions(map[string]map[int32]kgo.Offset{corruptTopic: {0: kgo.NewOffset().At(from)}}),
		kgo.FetchIsolationLevel(kgo.ReadCommitted()),
		kgo.FetchMaxWait(100*time.Millisecond),
		kgo.FetchMaxPartitionBytes(8<<10),
	)
	defer cl.Close()
	var got []*kgo.Record
	var ferr error
	deadline := time.Now().Add(15 * time.Second)
	for extra := 0; time.Now().Before(deadline) && extra < 3; {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		fs := cl.PollFetches(ctx)
		cancel()
		fs.EachError(func(_ string, _ int32, err error) {
			if !errors.Is(err, context.DeadlineExceeded) && ferr == nil {
				ferr = err
			}
		})
		got = append(got, fs.Records()...)
		if n := len(got); !wantErr && n > 0 && got[n-1].Offset >= last {
			return got, ferr
		}
		if ferr != nil {
			if !wantErr {
				return got, ferr
			}
			extra++
		}
	}
	if !wantErr {
		return got, fmt.Errorf("no record at offset %d within 15s (read %d)", last, len(got))
	}
	return got, ferr
}

// checkTopics checks the topics the fixture created are all there, but lost.
func checkTopics(t *testing.T, addr, lost string) {
	t.Helper()
	tds, err := newAdmin(t, addr).ListTopics(testCtx(t, 15*time.Second))
	if err != nil {
		t.Fatalf("list topics: %v", err)
	}
	for _, name := range []string{corruptTopic, corruptLast} {
		if has := tds.Has(name); has != (name != lost) {
			t.Errorf("topic %s listed: %v", name, has)
		}
	}
}

// checkGroups checks every group's committed offset: the last one committed
// unless the damaged coordinator batch held it, and then an earlier commit
// or none, never a value that was not committed.
func checkGroups(t *testing.T, addr string, fx *corruptFixture, d damage) {
	t.Helper()
	adm := newAdmin(t, addr)
	for g, history := range fx.commits {
		final := history[len(history)-1]
		resp, err := adm.FetchOffsets(testCtx(t, 15*time.Second), g)
		if err != nil {
			t.Errorf("fetch offsets of %s: %v", g, err)
			continue
		}
		o, ok := resp.Lookup(corruptTopic, 0)
		heldFinal := d.coordinator == "__consumer_offsets" && bytes.Contains(d.raw, binary.BigEndian.AppendUint64(nil, uint64(final)))
		switch {
		case !heldFinal && (!ok || o.At != final):
			t.Errorf("group %s at %v (found %v), want its last commit %d", g, o.At, ok, final)
		case heldFinal && ok && o.At >= 0 && !containsOffset(history, o.At):
			t.Errorf("group %s at %d, never committed (commits %v)", g, o.At, history)
		}
	}
}

func containsOffset(xs []int64, x int64) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// checkTxns checks the transactional ids keep their producer id, epoch and
// state, except one whose record the damage hit, which may fall back.
func checkTxns(t *testing.T, addr string, fx *corruptFixture, d damage) {
	t.Helper()
	got := describeTxns(t, newAdmin(t, addr))
	for id, want := range fx.txns {
		hit := d.coordinator == "__transaction_state" && bytes.Contains(d.raw, []byte(id))
		g := got[id]
		same := g.State == want.State && g.ProducerID == want.ProducerID && g.ProducerEpoch == want.ProducerEpoch
		if !same && !(hit && g.ProducerID == want.ProducerID) {
			t.Errorf("transactional id %s: %s pid %d epoch %d, want %s pid %d epoch %d",
				id, g.State, g.ProducerID, g.ProducerEpoch, want.State, want.ProducerID, want.ProducerEpoch)
		}
	}
}

// checkTimeLookups asks ListOffsets by time for the first timestamp of each
// batch of the segment whose time index was damaged, where every earlier
// batch is older: the answer is that batch's first offset.
func checkTimeLookups(t *testing.T, addr, dir string, d damage) {
	t.Helper()
	adm := newAdmin(t, addr)
	var prevMax int64 = -1
	for _, seg := range segmentFiles(t, partitionDir(t, dir, corruptTopic), ".log") {
		raw, err := os.ReadFile(seg)
		if err != nil {
			t.Fatal(err)
		}
		mine := strings.TrimSuffix(seg, ".log") == strings.TrimSuffix(d.file, ".timeindex")
		for _, b := range batchesOf(t, seg) {
			first := int64(binary.BigEndian.Uint64(raw[b.pos+27:]))
			maxTs := int64(binary.BigEndian.Uint64(raw[b.pos+35:]))
			if mine && first > prevMax {
				lo, err := adm.ListOffsetsAfterMilli(testCtx(t, 15*time.Second), first, corruptTopic)
				if err == nil {
					err = lo.Error()
				}
				if err != nil {
					t.Errorf("list offsets after %d: %v", first, err)
				} else if o, _ := lo.Lookup(corruptTopic, 0); o.Offset != b.first {
					t.Errorf("list offsets after %d: %d, want %d", first, o.Offset, b.first)
				}
			}
			prevMax = max(prevMax, maxTs)
		}
	}
}
