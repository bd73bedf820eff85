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

// PendingHalfMessages is how many half messages s holds (-1: none served).
func PendingHalfMessages(s *Server) int {
	hs := s.halfStore.Load()
	if hs == nil {
		return -1
	}
	return len(hs.Pending())
}
