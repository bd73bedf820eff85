package log

import (
	"os"
	"path/filepath"
	"testing"
)

// A bad entry in the middle of a .txnindex file costs that entry only, and
// is reported so the owner rebuilds it. Before, the file was cut at the bad
// entry: the aborted transactions after it became visible to read_committed
// consumers, and nothing was logged.
func TestOpenTxnIndexKeepsEntriesAfterADamagedOne(t *testing.T) {
	dir := t.TempDir()
	x, err := OpenTxnIndex(dir, 1000)
	if err != nil {
		t.Fatal(err)
	}
	for i := range int64(3) {
		if err := x.Add(0, AbortedTxn{ProducerID: 7 + i, FirstOffset: 10 * i, LastOffset: 10*i + 5}); err != nil {
			t.Fatal(err)
		}
	}
	path := filepath.Join(dir, "00000000000000000000"+txnIndexExt)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[txnEntrySize+3] ^= 0x01 // the producer id of the second entry
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}

	x, err = OpenTxnIndex(dir, 1000)
	if err != nil {
		t.Fatal(err)
	}
	got := x.Aborted(0, 1000)
	if len(got) != 2 || got[0].ProducerID != 7 || got[1].ProducerID != 9 {
		t.Fatalf("entries after reopen: %+v, want producers 7 and 9", got)
	}
	d := x.Damaged()
	if len(d) != 1 || d[0].File != path || d[0].Base != 0 || len(d[0].Positions) != 1 || d[0].Positions[0] != txnEntrySize {
		t.Fatalf("damage reported: %+v", d)
	}
	// The file was rewritten without the bad entry: a rebuilt entry
	// appended to it survives the next open, and the damage is not
	// reported twice.
	if err := x.Add(0, AbortedTxn{ProducerID: 8, FirstOffset: 10, LastOffset: 15}); err != nil {
		t.Fatal(err)
	}
	x, err = OpenTxnIndex(dir, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if got := x.Aborted(0, 1000); len(got) != 3 || len(x.Damaged()) != 0 {
		t.Fatalf("after the rebuild: %+v, damage %+v", got, x.Damaged())
	}
}
