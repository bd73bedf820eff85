package meta

import (
	"bytes"
	"testing"
)

func scramRec(user string) *ScramRecord {
	return &ScramRecord{User: user, Mechanism: ScramSHA256, Salt: []byte("salt"), Iterations: 4096,
		StoredKey: bytes.Repeat([]byte{1}, 32), ServerKey: bytes.Repeat([]byte{2}, 32)}
}

func TestScramCredentialsReplayAndSnapshot(t *testing.T) {
	dir := t.TempDir()
	s, err := Open(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range []string{"alice", "bob"} {
		if _, err := s.Update(func(*Image) ([]Record, error) { return []Record{{Scram: scramRec(u)}}, nil }); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Update(func(*Image) ([]Record, error) {
		return []Record{{Scram: &ScramRecord{User: "bob", Mechanism: ScramSHA256, Delete: true}}}, nil
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
	if _, ok := img.ScramCredential("bob", ScramSHA256); ok {
		t.Fatal("deleted credential came back on replay")
	}
	c, ok := img.ScramCredential("alice", ScramSHA256)
	if !ok || c.Iterations != 4096 || !bytes.Equal(c.StoredKey, scramRec("").StoredKey) {
		t.Fatalf("alice after replay = %+v, %v", c, ok)
	}
	snap, err := EncodeImage(img)
	if err != nil {
		t.Fatal(err)
	}
	back, err := DecodeImage(snap, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := back.ScramCredentials(); len(got) != 1 || got[0].User != "alice" || !bytes.Equal(got[0].ServerKey, c.ServerKey) {
		t.Fatalf("credentials after snapshot = %+v", got)
	}
}

func TestScramRecordRefusesMalformed(t *testing.T) {
	for name, r := range map[string]*ScramRecord{
		"few iterations": func() *ScramRecord { r := scramRec("a"); r.Iterations = 1000; return r }(),
		"short key":      func() *ScramRecord { r := scramRec("a"); r.StoredKey = r.StoredKey[:16]; return r }(),
		"mechanism":      func() *ScramRecord { r := scramRec("a"); r.Mechanism = "PLAIN"; return r }(),
		"no user":        scramRec(""),
		"delete unknown": {User: "x", Mechanism: ScramSHA512, Delete: true},
	} {
		if _, err := NewImage(0).Apply([]Record{{Scram: r}}); err == nil {
			t.Errorf("%s: applied", name)
		}
	}
}
