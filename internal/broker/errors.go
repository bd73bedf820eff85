package broker

import (
	"errors"

	"github.com/twmb/franz-go/pkg/kerr"
)

func asKerr(err error, target **kerr.Error) bool { return errors.As(err, target) }

// ErrorCode maps an error from the broker to a Kafka error code: a wrapped
// kerr error keeps its code, anything else is UNKNOWN_SERVER_ERROR.
func ErrorCode(err error) int16 {
	if err == nil {
		return 0
	}
	return kerrCode(err)
}
