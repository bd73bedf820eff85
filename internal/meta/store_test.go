package meta

import (
	"bytes"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func createTopic(name string, parts int32) func(*Image) ([]Record, error) {
	return func(*Image) ([]Record, error) {
		return []Record{{Topic: &TopicRecord{Name: name, ID: [16]byte{byte(len(name))}, Partitions: parts}}}, nil
	}
}

func TestStoreReplaysAfterReopen(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(createTopic("a", 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(createTopic("b", 2)); err != nil {
		t.Fatal(err)
	}
	v := "os"
	if _, err := s.Update(func(*Image) ([]Record, error) {
		return []Record{
			{Partitions: &PartitionsRecord{Topic: "b", Count: 5}},
			{Config: &ConfigRecord{Topic: "b", Key: "flush.policy", Value: &v}},
			{Remove: &RemoveTopicRecord{Name: "a"}},
			{ProducerID: &ProducerIDBlockRecord{Next: 1000}},
		}, nil
	}); err != nil {
		t.Fatal(err)
	}
	s.Close()

	s, err = Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	img := s.Image()
	if _, ok := img.Topic("a"); ok {
		t.Fatal("removed topic a came back")
	}
	b, ok := img.Topic("b")
	if !ok || b.Partitions != 5 || b.Configs["flush.policy"] != "os" {
		t.Fatalf("topic b = %+v", b)
	}
	if img.NextProducerID != 1000 {
		t.Fatalf("next producer id = %d", img.NextProducerID)
	}
}

func TestStoreRejectsRecordThatDoesNotApply(t *testing.T) {
	s, err := Open(t.TempDir(), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, err := s.Update(createTopic("a", 1)); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Update(createTopic("a", 1)); err == nil {
		t.Fatal("second create of a succeeded")
	}
	if _, err := s.Update(func(*Image) ([]Record, error) {
		return []Record{{Partitions: &PartitionsRecord{Topic: "a", Count: 1}}}, nil
	}); err == nil {
		t.Fatal("partition count that does not grow was accepted")
	}
}

func TestStoreTruncatesTornTail(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	s.Update(createTopic("a", 1))
	s.Update(createTopic("bb", 1))
	crash(s)
	path := filepath.Join(dir, fileName)
	st, _ := os.Stat(path)
	// Cut the last frame in half and add garbage after a good prefix.
	if err := os.Truncate(path, st.Size()-3); err != nil {
		t.Fatal(err)
	}
	var logs bytes.Buffer
	s, err = Open(dir, slog.New(slog.NewTextHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(logs.String(), "level=ERROR") || !strings.Contains(logs.String(), "truncating torn metadata log tail") {
		t.Fatalf("truncation not logged at ERROR:\n%s", logs.String())
	}
	copies, _ := filepath.Glob(filepath.Join(dir, tailCopyPrefix+"*"))
	if len(copies) != 1 {
		t.Fatalf("copies of the torn tail: %v", copies)
	}
	if _, ok := s.Image().Topic("bb"); ok {
		t.Fatal("torn record applied")
	}
	if _, ok := s.Image().Topic("a"); !ok {
		t.Fatal("good record lost")
	}
	// The store appends after the truncation point and replays cleanly.
	if _, err := s.Update(createTopic("c", 1)); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s, err = Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if _, ok := s.Image().Topic("c"); !ok {
		t.Fatal("record after truncation lost")
	}
}

func FuzzDecodeFrame(f *testing.F) {
	good, _ := appendFrame(nil, Record{Topic: &TopicRecord{Name: "x", Partitions: 1}})
	f.Add(good)
	f.Add(good[:5])
	f.Add([]byte{0, 0, 0, 2, 0, 0, 0, 0, '{', '}'})
	f.Fuzz(func(t *testing.T, b []byte) {
		rec, n, ok := decodeFrame(b)
		if ok && (n > len(b) || rec.validate() != nil) {
			t.Fatalf("decodeFrame accepted n=%d of %d", n, len(b))
		}
	})
}
