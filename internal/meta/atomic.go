package meta

import "sync/atomic"

// atomicImage publishes images to readers without locks.
type atomicImage struct{ p atomic.Pointer[Image] }

func (a *atomicImage) load() *Image     { return a.p.Load() }
func (a *atomicImage) store(img *Image) { a.p.Store(img) }
