//go:build !unix

package broker

import "log/slog"

func warnFileLimit(*slog.Logger, int32) {}
