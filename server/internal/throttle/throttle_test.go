package throttle

import (
	"context"
	"fmt"
	"testing"
	"time"
)

func TestLimiter(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := &Limiter{Max: 3, Window: time.Minute, Delay: time.Second, MaxRecords: 4, Now: func() time.Time { return now }}
	for i := range 3 {
		if d := l.Fail("a"); d != 0 {
			t.Fatalf("failure %d within the budget: %v", i+1, d)
		}
	}
	if d := l.Fail("a"); d != time.Second {
		t.Fatalf("beyond the budget: %v", d)
	}
	if d := l.Fail("b"); d != 0 {
		t.Fatalf("another address: %v", d)
	}
	now = now.Add(time.Minute)
	if d := l.Fail("a"); d != 0 {
		t.Fatalf("after the window: %v", d)
	}
	// A full table: new addresses share one record rather than emptying it.
	for i := range 10 {
		l.Fail(fmt.Sprintf("x%d", i))
	}
	if n := l.Records(); n > 4 {
		t.Fatalf("%d records, bound 4", n)
	}
	if d := l.Fail("a"); d != 0 {
		t.Fatalf("a known address lost its record: %v", d)
	}
	if d := l.Fail("y"); d == 0 {
		t.Fatal("the shared record of a full table was not spent")
	}
}

// TestLimiterQueuesPauses: wrong secrets beyond the budget that arrive
// together are answered one per Delay, not all after one Delay (which would
// not slow down guesses sent in parallel).
func TestLimiterQueuesPauses(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	l := &Limiter{Max: 1, Window: time.Hour, Delay: time.Second, MaxRecords: 4, Now: func() time.Time { return now }}
	l.Fail("a")
	for i := 1; i <= 3; i++ {
		if d := l.Fail("a"); d != time.Duration(i)*time.Second {
			t.Fatalf("wrong secret %d sent together beyond the budget: pause %v, want %ds", i, d, i)
		}
	}
	if d := l.Fail("b"); d != 0 {
		t.Fatalf("another address waits behind the first: %v", d)
	}
	now = now.Add(time.Minute) // the pauses have ended
	if d := l.Fail("a"); d != time.Second {
		t.Fatalf("a wrong secret after the pauses ended: %v", d)
	}
}

func TestWait(t *testing.T) {
	if !Wait(context.Background(), 0) || !Wait(context.Background(), time.Nanosecond) {
		t.Fatal("a pause did not complete")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if Wait(ctx, time.Hour) {
		t.Fatal("a cancelled pause completed")
	}
}

func TestKey(t *testing.T) {
	for _, c := range [][2]string{
		{"127.0.0.1:4444", "127.0.0.1:5555"},
		{"[::ffff:192.0.2.1]:1", "192.0.2.1:2"},
		{"[2001:db8:1:2::1]:1", "[2001:db8:1:2:ffff::9]:2"}, // one /64
		{"[fe80::1%eth0]:1", "[fe80::2]:1"},
	} {
		if a, b := Key(c[0]), Key(c[1]); a != b {
			t.Errorf("%s and %s are counted apart: %q, %q", c[0], c[1], a, b)
		}
	}
	for _, c := range [][2]string{
		{"127.0.0.1:1", "127.0.0.2:1"},
		{"[2001:db8:1:2::1]:1", "[2001:db8:1:3::1]:1"},
		{"[::1]:1", "127.0.0.1:1"},
	} {
		if a, b := Key(c[0]), Key(c[1]); a == b {
			t.Errorf("%s and %s are counted together: %q", c[0], c[1], a)
		}
	}
}
