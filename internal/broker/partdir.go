package broker

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/ferry-mq/ferry/internal/vfs"
)

// Partition directories: naming and the topic-id file (format in doc.go).

const (
	// topicIDFilePrefix starts the name of the empty file
	// "topic-id.<32 hex digits>" that records which topic incarnation a
	// partition directory belongs to (Kafka's partition.metadata plays
	// this part).
	topicIDFilePrefix = "topic-id."
	// deleteSuffix ends the name a partition directory is renamed to when
	// its topic is deleted; such directories are only ever removed.
	deleteSuffix = "-delete"
	// quarantineDir holds directories that the broker will neither open
	// nor delete on its own (see sweep.go).
	quarantineDir = "__quarantine"
)

// partitionDirName is "TOPIC-N", Kafka's layout.
func partitionDirName(topic string, index int32) string {
	return topic + "-" + strconv.Itoa(int(index))
}

// parsePartitionDirName splits "TOPIC-N" at the last '-' (topic names may
// contain '-', partition numbers may not).
func parsePartitionDirName(name string) (topic string, index int32, ok bool) {
	i := strings.LastIndexByte(name, '-')
	if i <= 0 || i == len(name)-1 {
		return "", 0, false
	}
	digits := name[i+1:]
	if len(digits) > 1 && digits[0] == '0' {
		return "", 0, false // the broker never writes "t-01"
	}
	n, err := strconv.ParseInt(digits, 10, 32)
	if err != nil || n < 0 || digits[0] == '+' {
		return "", 0, false
	}
	topic = name[:i]
	if ValidateTopicName(topic) != nil {
		return "", 0, false
	}
	return topic, int32(n), true
}

// deletedDirName is the name a partition directory of topic incarnation id
// is renamed to when it is deleted: "TOPIC-N.<id as 32 hex digits>-delete".
func deletedDirName(name string, id [16]byte) string {
	return fmt.Sprintf("%s.%x%s", name, id, deleteSuffix)
}

// formatTopicID prints a topic id as Kafka does: unpadded URL-safe base64.
func formatTopicID(id [16]byte) string { return base64.RawURLEncoding.EncodeToString(id[:]) }

// topicIDFileName is the empty file that records id in a partition
// directory.
func topicIDFileName(id [16]byte) string { return topicIDFilePrefix + hex.EncodeToString(id[:]) }

// errNoPartitionID: the directory has no topic-id file (written by a version
// of Ferry before topic ids were recorded, or a create that crashed between
// mkdir and recording the id), or does not exist.
var errNoPartitionID = errors.New("no " + topicIDFilePrefix + "* file")

// readPartitionID returns the topic id recorded in dir: errNoPartitionID if
// none is, another error if the record is not one valid id.
func readPartitionID(dir string) ([16]byte, error) {
	var id [16]byte
	entries, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return id, errNoPartitionID
	}
	if err != nil {
		return id, err
	}
	var names []string
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), topicIDFilePrefix) {
			names = append(names, e.Name())
		}
	}
	switch len(names) {
	case 0:
		return id, errNoPartitionID
	case 1:
	default:
		return id, fmt.Errorf("%d topic-id files (%s): a partition belongs to one topic", len(names), strings.Join(names, ", "))
	}
	raw, err := hex.DecodeString(strings.TrimPrefix(names[0], topicIDFilePrefix))
	if err != nil || len(raw) != len(id) {
		return id, fmt.Errorf("%s does not name a topic id (32 hex digits)", names[0])
	}
	copy(id[:], raw)
	return id, nil
}

// writePartitionID records id in dir. The file is empty: the id is in its
// name, so the fsync of dir that makes the log's new files durable (the
// log's Open does one) makes the id durable as well, and recording it costs
// no fsync of its own.
func writePartitionID(dir string, id [16]byte) error {
	f, err := os.OpenFile(filepath.Join(dir, topicIDFileName(id)), os.O_WRONLY|os.O_CREATE, 0o644)
	if err == nil {
		err = f.Close()
	}
	if err != nil {
		return fmt.Errorf("record topic id in %s: %w", dir, err)
	}
	return nil
}

// syncDir fsyncs a directory, making creates, renames and removals of its
// entries durable.
func syncDir(dir string) error {
	if err := vfs.Default.SyncDir(dir); err != nil {
		return fmt.Errorf("fsync dir %s: %w", dir, err)
	}
	return nil
}

// dirOps is the seam through which the broker moves and removes partition
// directories, so tests can make a removal or rename fail.
type dirOps struct {
	rename    func(oldpath, newpath string) error
	removeAll func(path string) error
}

func osDirOps() dirOps { return dirOps{rename: os.Rename, removeAll: os.RemoveAll} }

// moveAside renames dir (a partition directory that must not be opened)
// out of the way to deletedDirName(dir, id) in the same parent, and returns
// the new path. If that name is taken (the same incarnation was moved once
// before and is still being removed), a random id takes the place of id.
func (b *Broker) moveAside(dir string, id [16]byte) (string, error) {
	to := filepath.Join(filepath.Dir(dir), deletedDirName(filepath.Base(dir), id))
	if _, err := os.Lstat(to); err == nil {
		var nonce [16]byte
		rand.Read(nonce[:])
		to = filepath.Join(filepath.Dir(dir), deletedDirName(filepath.Base(dir), nonce))
	}
	if err := b.dirs.rename(dir, to); err != nil {
		return "", err
	}
	return to, nil
}
