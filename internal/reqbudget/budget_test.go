package reqbudget

import (
	"context"
	"testing"
	"time"
)

// growAsync runs r.Grow(n) and reports its result on the returned channel.
func growAsync(ctx context.Context, r *Request, n int64) <-chan error {
	done := make(chan error, 1)
	go func() {
		_, err := r.Grow(ctx, n)
		done <- err
	}()
	return done
}

func expectBlocked(t *testing.T, done <-chan error, what string) {
	t.Helper()
	select {
	case err := <-done:
		t.Fatalf("%s went ahead (err %v) with no room in the budget", what, err)
	case <-time.After(100 * time.Millisecond):
	}
}

func expectDone(t *testing.T, done <-chan error, what string) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("%s: %v", what, err)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("%s still waiting after the budget was released", what)
	}
}

// TestBudgetHalfReadRequestsFinish: two half-read requests holding the
// whole budget between them do not wait for each other forever: one takes
// the overdraft and finishes. A request holding nothing yet waits, and so
// does a second one stuck while the overdraft is taken.
func TestBudgetHalfReadRequestsFinish(t *testing.T) {
	ctx := context.Background()
	b := New(100)
	r1, r2 := b.NewRequest(), b.NewRequest()
	if _, err := r1.Grow(ctx, 60); err != nil {
		t.Fatal(err)
	}
	if _, err := r2.Grow(ctx, 40); err != nil {
		t.Fatal(err)
	}
	fresh := growAsync(ctx, b.NewRequest(), 10)
	expectBlocked(t, fresh, "a request holding nothing")

	if waited, err := r2.Grow(ctx, 30); err != nil || waited {
		t.Fatalf("half-read request at the limit: waited %v, err %v; want it to take the overdraft", waited, err)
	}
	if got := b.InUse(); got != 130 {
		t.Fatalf("in use %d, want 130 (the limit and the overdraft)", got)
	}
	second := growAsync(ctx, r1, 10)
	expectBlocked(t, second, "a second half-read request while the overdraft is taken")

	r2.Release()
	r2.Release() // twice is harmless
	expectDone(t, second, "half-read request")
	expectDone(t, fresh, "fresh request")
	r1.Release()
	if got := b.InUse(); got != 10 {
		t.Fatalf("in use %d after releases, want 10 (the fresh request)", got)
	}
}

// TestBudgetWaitEndsWithConnection: a reader waiting for room stops when
// its connection ends.
func TestBudgetWaitEndsWithConnection(t *testing.T) {
	b := New(10)
	full := b.NewRequest()
	if _, err := full.Grow(context.Background(), 10); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := growAsync(ctx, b.NewRequest(), 1)
	expectBlocked(t, done, "a request over the budget")
	cancel()
	if err := <-done; err == nil {
		t.Fatal("wait for the budget did not end with its connection")
	}
	if got := b.InUse(); got != 10 {
		t.Fatalf("in use %d, want 10", got)
	}
}
