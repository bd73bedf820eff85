package meta

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// crash closes s the way a killed process leaves it: no clean-shutdown mark.
func crash(s *FileStore) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.f.Close()
	s.f = nil
}

// threeTopics writes topics a, b and c, one frame each, stops the store
// (cleanly or not) and returns the path and the frame start positions.
func threeTopics(t *testing.T, dir string, clean bool) (string, []int64) {
	t.Helper()
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, fileName)
	var starts []int64
	for _, name := range []string{"a", "b", "c"} {
		st, _ := os.Stat(path)
		starts = append(starts, st.Size())
		if _, err := s.Update(createTopic(name, 1)); err != nil {
			t.Fatal(err)
		}
	}
	if clean {
		if err := s.Close(); err != nil {
			t.Fatal(err)
		}
	} else {
		crash(s)
	}
	return path, starts
}

func flipByte(t *testing.T, path string, pos int64) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	b[pos] ^= 0x40
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// A damaged frame followed by valid ones is not a torn tail: before the fix,
// Open truncated the log there and topics b and c were silently gone.
func TestStoreRefusesCorruptionInTheMiddle(t *testing.T) {
	for _, tc := range []struct {
		name  string
		clean bool
		at    func(starts []int64) int64
	}{
		{"payload after clean stop", true, func(s []int64) int64 { return s[1] + frameHeader + 5 }},
		{"payload after crash", false, func(s []int64) int64 { return s[1] + frameHeader + 5 }},
		{"crc after crash", false, func(s []int64) int64 { return s[1] + 5 }},
		{"length after crash", false, func(s []int64) int64 { return s[1] + 2 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			path, starts := threeTopics(t, dir, tc.clean)
			flipByte(t, path, tc.at(starts))
			before, _ := os.ReadFile(path)

			var logs bytes.Buffer
			s, err := Open(dir, slog.New(slog.NewTextHandler(&logs, nil)))
			if err == nil {
				img := s.Image()
				s.Close()
				t.Fatalf("Open succeeded on a corrupt log; topics: %d", len(img.Topics()))
			}
			if !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error %v does not wrap ErrCorrupt", err)
			}
			for _, want := range []string{path, fmt.Sprintf("byte %d", starts[1]), "backup", "truncate -s"} {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error does not say %q: %v", want, err)
				}
			}
			if !strings.Contains(logs.String(), "level=ERROR") {
				t.Errorf("no ERROR logged:\n%s", logs.String())
			}
			after, _ := os.ReadFile(path)
			if !bytes.Equal(before, after) {
				t.Fatalf("Open changed the corrupt log: %d bytes, was %d", len(after), len(before))
			}
		})
	}
}

// After a clean Close the last frame was fsynced: damage to it is not a torn
// write and must not be cut away silently.
func TestStoreRefusesBadLastFrameAfterCleanClose(t *testing.T) {
	dir := t.TempDir()
	path, starts := threeTopics(t, dir, true)
	flipByte(t, path, starts[2]+frameHeader+5)
	_, err := Open(dir, nil)
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), "stopped cleanly") {
		t.Fatalf("Open = %v, want ErrCorrupt naming the clean stop", err)
	}
	// A retry (a service manager restarting the broker) refuses again
	// rather than taking the frame for a torn tail.
	if _, err := Open(dir, nil); !errors.Is(err, ErrCorrupt) {
		t.Fatalf("second Open = %v, want ErrCorrupt", err)
	}
	// Restoring the file lets the broker start with every topic.
	b, _ := os.ReadFile(path)
	b[starts[2]+frameHeader+5] ^= 0x40
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(s.Image().Topics()); n != 3 {
		t.Fatalf("topics after restore = %d, want 3", n)
	}
	if _, err := os.Stat(filepath.Join(dir, cleanFile)); !os.IsNotExist(err) {
		t.Fatalf("clean-shutdown mark still there while the log is open: %v", err)
	}
	s.Close()
}

// A bad last frame after a crash is a torn tail: cut, kept in a copy, and
// logged at ERROR; every earlier topic survives.
func TestStoreTruncatesDamagedLastFrameAfterCrash(t *testing.T) {
	dir := t.TempDir()
	path, starts := threeTopics(t, dir, false)
	flipByte(t, path, starts[2]+frameHeader+5)
	var logs bytes.Buffer
	s, err := Open(dir, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, ok := s.Image().Topic("b"); !ok {
		t.Fatal("topic b lost")
	}
	if _, ok := s.Image().Topic("c"); ok {
		t.Fatal("damaged frame applied")
	}
	if st, _ := os.Stat(path); st.Size() != starts[2] {
		t.Fatalf("log is %d bytes, want %d", st.Size(), starts[2])
	}
	if !strings.Contains(logs.String(), "level=ERROR") {
		t.Fatalf("truncation not logged at ERROR:\n%s", logs.String())
	}
	if _, err := os.Stat(filepath.Join(dir, fmt.Sprintf("%s%d", tailCopyPrefix, starts[2]))); err != nil {
		t.Fatalf("torn tail not kept: %v", err)
	}
}

// Damage inside what the backup copy (taken at the last Open) covers is
// repaired from it: every topic survives, the damaged bytes are kept aside.
// Damage in frames written since is still refused.
func TestStoreRepairsFromBackup(t *testing.T) {
	dir := t.TempDir()
	path, starts := threeTopics(t, dir, true) // a, b, c
	s, err := Open(dir, nil)                  // the backup now holds a, b, c
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"d", "e"} {
		if _, err := s.Update(createTopic(name, 1)); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	whole, _ := os.ReadFile(path)
	dStart := int64(len(mustRead(t, filepath.Join(dir, backupFile))))

	t.Run("inside the backup", func(t *testing.T) {
		flipByte(t, path, starts[1]+frameHeader+5)
		var logs bytes.Buffer
		s, err := Open(dir, slog.New(slog.NewTextHandler(&logs, nil)))
		if err != nil {
			t.Fatalf("Open: %v", err)
		}
		defer s.Close()
		if n := len(s.Image().Topics()); n != 5 {
			t.Fatalf("%d topics after the repair, want 5", n)
		}
		if !bytes.Equal(mustRead(t, path), whole) {
			t.Fatal("repaired log differs from the original")
		}
		if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "repaired it from its backup") {
			t.Fatalf("repair not logged at ERROR:\n%s", logs.String())
		}
		if _, err := os.Stat(filepath.Join(dir, fmt.Sprintf("%s%d", damagedCopyPrefix, starts[1]))); err != nil {
			t.Fatalf("damaged bytes not kept: %v", err)
		}
	})
	t.Run("past the backup", func(t *testing.T) {
		// Open above refreshed the backup to all five frames; take it
		// back to three so d is past it.
		if err := os.WriteFile(filepath.Join(dir, backupFile), whole[:dStart], 0o644); err != nil {
			t.Fatal(err)
		}
		flipByte(t, path, dStart+frameHeader+5)
		_, err := Open(dir, nil)
		if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), backupFile) {
			t.Fatalf("Open = %v, want ErrCorrupt naming the backup", err)
		}
	})
}

func mustRead(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
