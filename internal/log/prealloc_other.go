//go:build !linux

package log

import (
	"errors"
	"os"
)

// fallocate is not implemented outside Linux: segments are not preallocated.
func fallocate(*os.File, int64, int64) error { return errors.ErrUnsupported }
