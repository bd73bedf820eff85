package kafka

import "github.com/twmb/franz-go/pkg/kerr"

// fencedCode is err's code, except that PRODUCER_FENCED (KIP-588) becomes
// INVALID_PRODUCER_EPOCH for request versions below since, which predate it.
func fencedCode(err *kerr.Error, version, since int16) int16 {
	if err == kerr.ProducerFenced && version < since {
		return kerr.InvalidProducerEpoch.Code
	}
	return err.Code
}
