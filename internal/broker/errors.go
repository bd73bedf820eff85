package broker

import (
	"errors"
	"strings"

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

// ErrorMessage is the text for a response's error_message field: err's text
// without the leading "CODE_NAME: description: " of a wrapped kerr error,
// since clients print the code's name beside the message themselves (a CLI
// would otherwise show "INVALID_CONFIG: ...: INVALID_CONFIG: ...").
func ErrorMessage(err error) string {
	msg := err.Error()
	var ke *kerr.Error
	if !asKerr(err, &ke) {
		return msg
	}
	if rest, ok := strings.CutPrefix(msg, ke.Error()+": "); ok {
		return rest
	}
	if msg == ke.Error() {
		return ke.Description
	}
	return msg
}
