package broker

import "testing"

// FuzzParsePartitionDirName: start-up decides from a directory's name whether
// it is a partition of a live topic, so the parser must never panic and must
// accept exactly the names the broker writes.
func FuzzParsePartitionDirName(f *testing.F) {
	for _, s := range []string{"orders-0", "a-b-c-12", "t-01", "t--1", "-3", "t-", "t-+1", "x-2147483648", "__consumer_offsets-7"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		topic, index, ok := parsePartitionDirName(name)
		if !ok {
			return
		}
		if index < 0 {
			t.Fatalf("%q: negative partition %d", name, index)
		}
		if got := partitionDirName(topic, index); got != name {
			t.Fatalf("%q parsed as (%q, %d), which the broker writes as %q", name, topic, index, got)
		}
	})
}
