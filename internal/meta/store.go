package meta

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
)

const (
	fileName      = "metadata.log"
	frameHeader   = 8
	maxFrameBytes = 16 << 20
	// cleanFile marks a clean Close: the log's last frame was fsynced, so a
	// bad frame at its end is damage, not a write the crash interrupted.
	cleanFile = "clean-shutdown"
	// tailCopyPrefix names the file a truncated tail's bytes are kept in.
	tailCopyPrefix = fileName + ".torn-at-"
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrCorrupt is wrapped by the error Open returns when metadata.log holds a
// bad frame it must not truncate: valid frames follow it, or the broker
// stopped cleanly before. Replaying past it or dropping what follows would
// silently lose topics, so the broker refuses to start.
var ErrCorrupt = errors.New("metadata log is corrupt")

// FileStore is the single-node Store: the durable metadata log and its current image.
type FileStore struct {
	mu    sync.Mutex // serializes Update; guards f
	f     *os.File
	dir   string
	image atomicImage
	log   *slog.Logger
	node  int32 // leads partitions whose records carry no placement
}

// Open replays DIR/metadata.log and returns the store positioned to append.
// A bad frame is repaired from the backup copy when the copy covers it, and
// otherwise cut off only when it is a torn tail: nothing valid follows it
// and the last Close was not clean. Otherwise Open fails with ErrCorrupt.
func Open(dir string, logger *slog.Logger) (*FileStore, error) {
	return OpenAs(dir, 0, logger)
}

// OpenAs is Open for the node with id node: the node old records (written
// before partitions had a placement) place their partitions on.
func OpenAs(dir string, node int32, logger *slog.Logger) (*FileStore, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create metadata dir: %w", err)
	}
	clean, err := fileExists(filepath.Join(dir, cleanFile))
	if err != nil {
		return nil, err
	}
	path := filepath.Join(dir, fileName)
	s := &FileStore{dir: dir, log: logger, node: node}
	valid, err := s.load(path, clean)
	if err == nil && clean {
		// Only now, with the log found whole: a refusal above leaves the
		// mark, so a retry refuses again instead of truncating.
		err = removeCleanMarker(dir)
	}
	if err != nil {
		return nil, err
	}
	if err := refreshBackup(dir, valid); err != nil {
		// The log itself is fine; only a later repair would miss it.
		logger.Warn("cannot refresh the metadata log backup", "path", filepath.Join(dir, backupFile), "err", err)
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open metadata log: %w", err)
	}
	if _, err := f.Seek(int64(len(valid)), io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	s.f = f
	return s, nil
}

// load replays the log into s.image, repairs it from the backup or
// truncates a torn tail, and returns the valid bytes.
func (s *FileStore) load(path string, clean bool) ([]byte, error) {
	data, err := os.ReadFile(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, fmt.Errorf("read metadata log: %w", err)
	}
	img, good, err := replay(NewImage(s.node), data)
	if err != nil {
		return nil, err
	}
	if good < int64(len(data)) {
		if fixed, ok := repairFromBackup(s.dir, data, good); ok {
			keep, err := repair(s.dir, path, data, fixed, good)
			if err != nil {
				return nil, err
			}
			s.log.Error("metadata log was damaged; repaired it from its backup copy, no record lost",
				"path", path, "position", good, "backup", filepath.Join(s.dir, backupFile), "damaged_copy", keep)
			data = fixed
			if img, good, err = replay(NewImage(s.node), data); err != nil {
				return nil, err
			}
		}
	}
	s.image.store(img)
	if good == int64(len(data)) {
		return data, nil
	}
	if next := nextValidFrame(data, good+1); next >= 0 || clean {
		why := fmt.Sprintf("a valid frame follows at byte %d", next)
		if next < 0 {
			why = "the broker was stopped cleanly, so no write was interrupted"
		}
		err := fmt.Errorf("%w: %s: bad frame at byte %d of %d (%s), past what its backup %s covers; "+
			"refusing to start rather than lose the metadata records after it. "+
			"Restore %s from a backup copy of your own; or, accepting the loss of every record from byte %d on (topics created or changed since), "+
			"cut it with `truncate -s %d %s` and start again",
			ErrCorrupt, path, good, len(data), why, backupFile, fileName, good, good, path)
		s.log.Error("metadata log is corrupt", "path", path, "position", good, "file_bytes", len(data), "reason", why)
		return nil, err
	}
	// A torn tail: an Update whose fsync did not complete was never
	// acknowledged. Keep its bytes beside the log all the same, since
	// damage to the last acknowledged frame looks the same after a crash.
	torn := data[good:]
	keep := filepath.Join(s.dir, fmt.Sprintf("%s%d", tailCopyPrefix, good))
	if err := writeSynced(keep, torn); err != nil {
		return nil, fmt.Errorf("keep torn metadata log tail: %w", err)
	}
	s.log.Error("truncating torn metadata log tail after an unclean shutdown; its bytes are kept in a copy",
		"path", path, "position", good, "bytes_removed", len(torn), "copy", keep)
	if err := truncateSynced(path, good); err != nil {
		return nil, err
	}
	return data[:good], nil
}

func truncateSynced(path string, size int64) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("truncate metadata log: %w", err)
	}
	defer f.Close()
	if err := f.Truncate(size); err != nil {
		return fmt.Errorf("truncate metadata log: %w", err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("sync metadata log: %w", err)
	}
	return nil
}

// replay applies every frame of the valid prefix of data and returns the
// image and the length of that prefix.
func replay(img *Image, data []byte) (*Image, int64, error) {
	var pos int64
	for {
		rec, n, ok := decodeFrame(data[pos:])
		if !ok {
			return img, pos, nil
		}
		next, err := img.apply(rec)
		if err != nil {
			// A record that was valid when written must apply on
			// replay; anything else is a bug or tampering.
			return nil, 0, fmt.Errorf("metadata log at byte %d: %w", pos, err)
		}
		img = next
		pos += int64(n)
	}
}

// nextValidFrame returns the first position at or after from where a whole
// valid frame starts, or -1. A torn write leaves nothing valid after the
// frame it tore; damage in the middle of the log does. The length bound
// rejects most positions before any CRC is computed (JSON bytes read as a
// length are far above maxFrameBytes).
func nextValidFrame(data []byte, from int64) int64 {
	for pos := from; pos+frameHeader <= int64(len(data)); pos++ {
		if _, _, ok := decodeFrame(data[pos:]); ok {
			return pos
		}
	}
	return -1
}

func decodeFrame(b []byte) (Record, int, bool) {
	var rec Record
	if len(b) < frameHeader {
		return rec, 0, false
	}
	n := binary.BigEndian.Uint32(b)
	if n > maxFrameBytes || int(n) > len(b)-frameHeader {
		return rec, 0, false
	}
	payload := b[frameHeader : frameHeader+int(n)]
	if crc32.Checksum(payload, castagnoli) != binary.BigEndian.Uint32(b[4:]) {
		return rec, 0, false
	}
	if err := json.Unmarshal(payload, &rec); err != nil || rec.validate() != nil {
		return rec, 0, false
	}
	return rec, frameHeader + int(n), true
}

func appendFrame(dst []byte, rec Record) ([]byte, error) {
	payload, err := json.Marshal(rec)
	if err != nil {
		return nil, err
	}
	dst = binary.BigEndian.AppendUint32(dst, uint32(len(payload)))
	dst = binary.BigEndian.AppendUint32(dst, crc32.Checksum(payload, castagnoli))
	return append(dst, payload...), nil
}

// Image returns the current metadata image.
func (s *FileStore) Image() *Image { return s.image.load() }

// Changed returns a channel closed when an image newer than the current
// one is published.
func (s *FileStore) Changed() <-chan struct{} { return s.image.changed() }

// ErrNoChange is returned by an Update function that has nothing to write.
var ErrNoChange = errors.New("no metadata change")

// Update calls fn with the current image under the store's lock; the
// records fn returns are checked against the image, written and fsynced,
// and the resulting image is published and returned. fn's error is
// returned unchanged, so callers can return protocol errors from it.
func (s *FileStore) Update(fn func(*Image) ([]Record, error)) (*Image, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil, errors.New("metadata store is closed")
	}
	img := s.image.load()
	recs, err := fn(img)
	if err != nil {
		if errors.Is(err, ErrNoChange) {
			return img, nil
		}
		return nil, err
	}
	var buf []byte
	next := img
	for _, r := range recs {
		if next, err = next.apply(r); err != nil {
			return nil, err
		}
		if buf, err = appendFrame(buf, r); err != nil {
			return nil, err
		}
	}
	if _, err := s.f.Write(buf); err != nil {
		return nil, s.fail(fmt.Errorf("write metadata log: %w", err))
	}
	if err := s.f.Sync(); err != nil {
		return nil, s.fail(fmt.Errorf("sync metadata log: %w", err))
	}
	s.image.store(next)
	return next, nil
}

// fail closes the log after a write or sync error: the file's tail is in an
// unknown state, and only a restart's replay can tell what is durable.
// REQUIRES: s.mu held.
func (s *FileStore) fail(err error) error {
	s.log.Error("metadata log unusable until restart", "err", err)
	s.f.Close()
	s.f = nil
	return err
}

// Close closes the log file.
func (s *FileStore) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	if err != nil {
		return err
	}
	// Every Update fsynced its frames; from here a bad frame at the end of
	// the log can only be damage.
	return writeSynced(filepath.Join(s.dir, cleanFile), nil)
}

func fileExists(path string) (bool, error) {
	_, err := os.Stat(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	return err == nil, err
}

// removeCleanMarker removes the clean-shutdown mark durably before the log
// is written again, so a crash from then on counts as unclean.
func removeCleanMarker(dir string) error {
	if err := os.Remove(filepath.Join(dir, cleanFile)); err != nil {
		return fmt.Errorf("remove metadata clean-shutdown marker: %w", err)
	}
	return syncDir(dir)
}

// writeSynced creates path with data, fsyncs it and its directory.
func writeSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
