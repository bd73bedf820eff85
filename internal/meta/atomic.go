package meta

import (
	"sync"
	"sync/atomic"
)

// atomicImage publishes images to readers without locks, and tells
// subscribers that a new one is there.
type atomicImage struct {
	p atomic.Pointer[Image]

	mu   sync.Mutex
	next chan struct{} // closed on the next store
}

func (a *atomicImage) load() *Image { return a.p.Load() }

func (a *atomicImage) store(img *Image) {
	a.p.Store(img)
	a.mu.Lock()
	if a.next != nil {
		close(a.next)
		a.next = nil
	}
	a.mu.Unlock()
}

// changed returns a channel closed by the next store. Take it before
// reading the image, so no publication between the two is missed.
func (a *atomicImage) changed() <-chan struct{} {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.next == nil {
		a.next = make(chan struct{})
	}
	return a.next
}

// Publisher holds the current image for a Store implementation outside
// this package, with the same publication rules as the file store's.
type Publisher struct{ a atomicImage }

// Load returns the current image.
func (p *Publisher) Load() *Image { return p.a.load() }

// Store publishes img and wakes every subscriber.
func (p *Publisher) Store(img *Image) { p.a.store(img) }

// Changed returns a channel closed by the next Store.
func (p *Publisher) Changed() <-chan struct{} { return p.a.changed() }
