package norace

import "testing"

// TestRerunRunsWithoutTheRaceDetector: under -race Rerun hands the test to
// a child without the race detector, where it runs for real (Rerun checks
// that the child reported it passed); the child must see Enabled false.
func TestRerunRunsWithoutTheRaceDetector(t *testing.T) {
	if Rerun(t, "testing Rerun itself") {
		return
	}
	if Enabled {
		t.Fatal("the test runs here under -race: Rerun should have handed it to a child")
	}
}
