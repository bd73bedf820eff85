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
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Store is the durable metadata log and its current image.
type Store struct {
	mu    sync.Mutex // serializes Update; guards f
	f     *os.File
	image atomicImage
	log   *slog.Logger
}

// Open replays DIR/metadata.log, truncating a torn tail, and returns the
// store positioned to append.
func Open(dir string, logger *slog.Logger) (*Store, error) {
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("create metadata dir: %w", err)
	}
	path := filepath.Join(dir, fileName)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, fmt.Errorf("open metadata log: %w", err)
	}
	img, good, err := replay(f)
	if err != nil {
		f.Close()
		return nil, err
	}
	if st, err := f.Stat(); err == nil && st.Size() > good {
		logger.Warn("truncating torn metadata log tail", "path", path, "valid_bytes", good, "file_bytes", st.Size())
		if err := f.Truncate(good); err != nil {
			f.Close()
			return nil, fmt.Errorf("truncate metadata log: %w", err)
		}
		if err := f.Sync(); err != nil {
			f.Close()
			return nil, fmt.Errorf("sync metadata log: %w", err)
		}
	}
	if _, err := f.Seek(good, io.SeekStart); err != nil {
		f.Close()
		return nil, err
	}
	s := &Store{f: f, log: logger}
	s.image.store(img)
	return s, nil
}

// replay applies every valid frame and returns the image and the length
// of the valid prefix.
func replay(f *os.File) (*Image, int64, error) {
	img := &Image{topics: map[string]*Topic{}}
	data, err := io.ReadAll(f)
	if err != nil {
		return nil, 0, fmt.Errorf("read metadata log: %w", err)
	}
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
func (s *Store) Image() *Image { return s.image.load() }

// ErrNoChange is returned by an Update function that has nothing to write.
var ErrNoChange = errors.New("no metadata change")

// Update calls fn with the current image under the store's lock; the
// records fn returns are checked against the image, written and fsynced,
// and the resulting image is published and returned. fn's error is
// returned unchanged, so callers can return protocol errors from it.
func (s *Store) Update(fn func(*Image) ([]Record, error)) (*Image, error) {
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
func (s *Store) fail(err error) error {
	s.log.Error("metadata log unusable until restart", "err", err)
	s.f.Close()
	s.f = nil
	return err
}

// Close closes the log file.
func (s *Store) Close() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.f == nil {
		return nil
	}
	err := s.f.Close()
	s.f = nil
	return err
}
