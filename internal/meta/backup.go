package meta

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
)

// backupFile is a copy of metadata.log as Open last found it whole. The log
// only ever grows at its end, so the copy is a byte-for-byte prefix of it:
// damage inside that prefix is repaired from the copy, each frame still
// checked by its CRC; nothing is guessed.
const backupFile = fileName + ".bak"

// damagedCopyPrefix names the copy of a log kept before its repair.
const damagedCopyPrefix = fileName + ".damaged-at-"

// refreshBackup makes the backup hold valid, the log's bytes once replayed
// whole, unless it already does (the log has not grown since).
func refreshBackup(dir string, valid []byte) error {
	path := filepath.Join(dir, backupFile)
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, valid) {
		return nil
	}
	return writeAtomic(path, valid)
}

// repairFromBackup returns data with its first bytes replaced by the
// backup's, when the bad frame at bad lies inside the backup, the two agree
// on everything before it, the backup replays whole, and the result replays
// past the damage. Otherwise it returns false.
func repairFromBackup(dir string, data []byte, bad int64) ([]byte, bool) {
	b, err := os.ReadFile(filepath.Join(dir, backupFile))
	if err != nil || int64(len(b)) <= bad || len(b) > len(data) || !bytes.Equal(b[:bad], data[:bad]) {
		return nil, false
	}
	if _, good, err := replay(NewImage(0), b); err != nil || good != int64(len(b)) {
		return nil, false
	}
	fixed := append(append([]byte(nil), b...), data[len(b):]...)
	if _, good, err := replay(NewImage(0), fixed); err != nil || good < int64(len(b)) {
		return nil, false
	}
	return fixed, true
}

// repair replaces the log at path with fixed, keeping the damaged bytes in a
// copy beside it, and returns the copy's path.
func repair(dir, path string, damaged, fixed []byte, bad int64) (string, error) {
	keep := filepath.Join(dir, fmt.Sprintf("%s%d", damagedCopyPrefix, bad))
	if err := writeSynced(keep, damaged); err != nil {
		return "", fmt.Errorf("keep damaged metadata log: %w", err)
	}
	if err := writeAtomic(path, fixed); err != nil {
		return "", fmt.Errorf("write repaired metadata log: %w", err)
	}
	return keep, nil
}

// writeAtomic replaces path with data: a synced temporary file renamed over
// it, and the directory synced.
func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := writeSynced(tmp, data); err != nil {
		os.Remove(tmp)
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return err
	}
	return syncDir(filepath.Dir(path))
}
