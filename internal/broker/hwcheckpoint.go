package broker

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// highWatermarkFile holds a replicated partition's high watermark as a
// decimal number and a newline, in the partition's directory. It is written
// about once a second (replicationLoop) and at close, by rename, without
// fsync: a lost or old value only makes the high watermark start lower
// after a restart, and followers' fetches raise it again. A replica uses it
// when it must truncate without an answer from the leader (see
// fetcher.truncateOne), and a new leader starts its high watermark there.
const highWatermarkFile = "high-watermark"

func readHighWatermark(dir string) int64 {
	b, err := os.ReadFile(filepath.Join(dir, highWatermarkFile))
	if err != nil {
		return 0
	}
	n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

func writeHighWatermark(dir string, hw int64) error {
	tmp := filepath.Join(dir, highWatermarkFile+".tmp")
	if err := os.WriteFile(tmp, []byte(strconv.FormatInt(hw, 10)+"\n"), 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, filepath.Join(dir, highWatermarkFile))
}

// checkpointHighWatermarks writes the high watermark of every replicated
// partition whose value moved since its last checkpoint.
func (b *Broker) checkpointHighWatermarks() {
	for _, p := range b.allPartitions() {
		if !p.repl.replicated.Load() {
			continue
		}
		hw := p.HighWatermark()
		if hw == p.hwCheckpointed.Load() {
			continue
		}
		if err := writeHighWatermark(p.dir, hw); err != nil {
			b.log.Warn("cannot checkpoint the high watermark", "topic", p.Topic, "partition", p.Index, "err", err)
			continue
		}
		p.hwCheckpointed.Store(hw)
	}
}
