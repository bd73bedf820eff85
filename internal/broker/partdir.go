package broker

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Partition directories: naming and the topic-id file (format in doc.go).

const (
	// partitionMetaFile names the topic incarnation a partition directory
	// belongs to, like Kafka's file of the same name.
	partitionMetaFile = "partition.metadata"
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

// errNoPartitionID: the directory has no partition.metadata (written by a
// version of Ferry before topic ids were recorded, or a create that crashed
// between mkdir and writing the file).
var errNoPartitionID = errors.New("no " + partitionMetaFile)

// readPartitionID returns the topic id recorded in dir. A missing file is
// errNoPartitionID; a file that does not parse is another error.
func readPartitionID(dir string) ([16]byte, error) {
	var id [16]byte
	b, err := os.ReadFile(filepath.Join(dir, partitionMetaFile))
	if errors.Is(err, fs.ErrNotExist) {
		return id, errNoPartitionID
	}
	if err != nil {
		return id, err
	}
	version, topicID := "", ""
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		switch strings.TrimSpace(k) {
		case "version":
			version = strings.TrimSpace(v)
		case "topic_id":
			topicID = strings.TrimSpace(v)
		}
	}
	if version != "0" {
		return id, fmt.Errorf("%s: version %q, want 0", partitionMetaFile, version)
	}
	raw, err := base64.RawURLEncoding.DecodeString(topicID)
	if err != nil || len(raw) != len(id) {
		return id, fmt.Errorf("%s: topic_id %q is not a base64 topic id", partitionMetaFile, topicID)
	}
	copy(id[:], raw)
	return id, nil
}

// writePartitionID records id in dir: written to a temporary file, fsynced
// and renamed into place, so the file is whole or absent. The rename is made
// durable by the caller's fsync of dir (the log's Open does one).
func writePartitionID(dir string, id [16]byte) error {
	content := "version: 0\ntopic_id: " + formatTopicID(id) + "\n"
	tmp := filepath.Join(dir, partitionMetaFile+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	_, err = f.WriteString(content)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, filepath.Join(dir, partitionMetaFile))
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write %s in %s: %w", partitionMetaFile, dir, err)
	}
	return nil
}

// syncDir fsyncs a directory, making creates, renames and removals of its
// entries durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = d.Sync()
	if cerr := d.Close(); err == nil {
		err = cerr
	}
	if err != nil {
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
