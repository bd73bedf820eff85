package rocketmq

// RegisteredCodes lists the request codes served, for tests that try them
// all.
func RegisteredCodes() []int16 {
	codes := make([]int16, 0, len(handlers))
	for c := range handlers {
		codes = append(codes, c)
	}
	return codes
}
