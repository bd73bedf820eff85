package msgindex

import (
	"math"
	"os"
	"path/filepath"
	"testing"
)

// FuzzOpenDamagedFile: whatever bytes an index file holds, Open either
// drops it or opens it, and lookups and appends after that never panic or
// loop (chains are checked to go back).
func FuzzOpenDamagedFile(f *testing.F) {
	dir := f.TempDir()
	x, err := Open(dir, Options{Slots: 4, Capacity: 40})
	if err != nil {
		f.Fatal(err)
	}
	for i := int64(0); i < 10; i++ {
		x.Add(i, i, []string{"k" + string(rune('a'+i%3))})
	}
	x.Close()
	good, err := os.ReadFile(filepath.Join(dir, fileName(0)))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(good, uint16(0), byte(0))
	f.Add(good, uint16(70), byte(0xff))
	f.Add(good, uint16(100), byte(3))
	f.Fuzz(func(t *testing.T, file []byte, at uint16, b byte) {
		if int(at) < len(file) {
			file = append([]byte(nil), file...)
			file[at] = b
		}
		dir := t.TempDir()
		if err := os.WriteFile(filepath.Join(dir, fileName(0)), file, 0o644); err != nil {
			t.Fatal(err)
		}
		x, err := Open(dir, Options{Slots: 4, Capacity: 40})
		if err != nil {
			return
		}
		defer x.Close()
		for _, k := range []string{"ka", "kb", "kc", "zz"} {
			x.Lookup(k, 0, math.MaxInt64, 100)
		}
		if err := x.Add(x.Next(), 1, []string{"ka"}); err != nil {
			return
		}
		x.Lookup("ka", 0, math.MaxInt64, 100)
	})
}
