package meta

// Store is where the broker reads and changes metadata. FileStore is the
// single node's; the cluster package has one on a Raft quorum. Both apply
// the same records to the same Image.
type Store interface {
	// Image returns the newest image this node has applied.
	Image() *Image
	// Update calls fn with the current image; the records it returns are
	// made durable (on the quorum, for a cluster), applied, and the
	// resulting image is returned. fn's error is returned unchanged;
	// ErrNoChange writes nothing and returns the image.
	Update(fn func(*Image) ([]Record, error)) (*Image, error)
	// Changed returns a channel closed when a newer image is published
	// (by this node's Updates or, in a cluster, by any node's).
	Changed() <-chan struct{}
	Close() error
}

var _ Store = (*FileStore)(nil)
