package log

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/ferry-mq/ferry/internal/vfs"
)

const (
	recoveryPointFile = "recovery-point"
	cleanMarkerFile   = ".clean-shutdown"
)

// checkpointEvery is how often the group commit may record its progress in
// the recovery-point file (see checkpointAfterSync).
const checkpointEvery = time.Second

// recoveryPoint says that every offset below offset is durable. When segment
// is >= 0, position is where that offset begins in segment's .log file (the
// data end when offset is the log end): recovery trusts the bytes before it
// and re-validates only what follows. See "Durability and recovery" in doc.go.
type recoveryPoint struct {
	offset   int64
	segment  int64 // -1: unknown (a file in the old, offset-only format)
	position int64
}

func (rp recoveryPoint) encode() []byte {
	return []byte(fmt.Sprintf("%d %d %d\n", rp.offset, rp.segment, rp.position))
}

// parseRecoveryPoint reads either format: "offset segment position" or the
// older bare "offset".
func parseRecoveryPoint(b []byte) (recoveryPoint, error) {
	fields := strings.Fields(string(b))
	var nums []int64
	for _, f := range fields {
		n, err := strconv.ParseInt(f, 10, 64)
		if err != nil || n < 0 {
			return recoveryPoint{}, fmt.Errorf("recovery point %q: bad number %q", b, f)
		}
		nums = append(nums, n)
	}
	switch len(nums) {
	case 1:
		return recoveryPoint{offset: nums[0], segment: -1}, nil
	case 3:
		if nums[1] > nums[0] {
			return recoveryPoint{}, fmt.Errorf("recovery point %q: segment after offset", b)
		}
		return recoveryPoint{offset: nums[0], segment: nums[1], position: nums[2]}, nil
	}
	return recoveryPoint{}, fmt.Errorf("recovery point %q: want 1 or 3 numbers", b)
}

// readRecoveryPoint returns the recorded recovery point. A missing file gives
// offset 0 (scan everything) and no error; an unreadable one gives offset 0
// and the reason.
func readRecoveryPoint(fs vfs.FS, dir string) (recoveryPoint, error) {
	b, err := vfs.ReadFile(fs, filepath.Join(dir, recoveryPointFile))
	if err != nil {
		if os.IsNotExist(err) {
			return recoveryPoint{segment: -1}, nil
		}
		return recoveryPoint{segment: -1}, err
	}
	rp, err := parseRecoveryPoint(b)
	if err != nil {
		return recoveryPoint{segment: -1}, err
	}
	return rp, nil
}

// checkpoint records rp in the recovery-point file (atomically: temp file,
// fsync, rename, dir fsync) unless a later one was already recorded, so
// concurrent writers (roll, the group commit, Close) never move it back.
func (l *Log) checkpoint(rp recoveryPoint) error {
	l.rpMu.Lock()
	defer l.rpMu.Unlock()
	w := l.rpWritten
	if rp.offset < w.offset || rp.offset == w.offset && rp.segment <= w.segment && rp.position <= w.position {
		return nil // not newer (a group-commit snapshot taken before a roll)
	}
	if err := writeFileAtomic(l.fs, l.dir, recoveryPointFile, rp.encode()); err != nil {
		return err
	}
	l.rpWritten = rp
	return nil
}

// checkpointAfterSync is called by the group-commit leader after a good fsync
// that made everything below rp.offset durable. At most once per
// checkpointEvery it records rp in the background, so that recovery after a
// crash re-validates only the bytes written since (restart time bounded by the
// unflushed tail), while the fsync path never waits for the file write.
// REQUIRES: syncMu held, syncStop false (Close waits for checkpointWG after
// setting syncStop).
func (l *Log) checkpointAfterSync(rp recoveryPoint) {
	now := l.now().UnixNano()
	if now-l.lastCheckpoint.Load() < int64(checkpointEvery) || !l.checkpointing.CompareAndSwap(false, true) {
		return
	}
	l.lastCheckpoint.Store(now)
	l.checkpointWG.Add(1)
	go func() {
		defer l.checkpointWG.Done()
		defer l.checkpointing.Store(false)
		if err := l.checkpoint(rp); err != nil {
			l.logger.Warn("cannot record recovery point; a crash now means a longer scan", "err", err)
		}
	}()
}

func writeCleanMarker(fs vfs.FS, dir string) error {
	return writeFileAtomic(fs, dir, cleanMarkerFile, nil)
}

// writeFileAtomic replaces dir/name with data: temp file, fsync, rename, dir
// fsync.
func writeFileAtomic(fs vfs.FS, dir, name string, data []byte) error {
	tmp := filepath.Join(dir, name+".tmp")
	f, err := fs.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("log: write %s: %w", name, err)
	}
	_, err = f.WriteAt(data, 0)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = fs.Rename(tmp, filepath.Join(dir, name))
	}
	if err == nil {
		err = fs.SyncDir(dir)
	}
	if err != nil {
		fs.Remove(tmp)
		return fmt.Errorf("log: write %s: %w", name, err)
	}
	return nil
}

// syncDir fsyncs a directory so that creates, renames and unlinks in it are durable.
func syncDir(fs vfs.FS, dir string) error {
	if err := fs.SyncDir(dir); err != nil {
		return fmt.Errorf("log: fsync dir %s: %w", dir, err)
	}
	return nil
}
