package server

import (
	"errors"
	"sync"
	"sync/atomic"
)

// Group commit. A request changes the state in memory under s.mu and queues
// the records of the change (queueLocked), in the order of the changes; it
// answers only once every change queued before its answer is in the store
// (settle, called by the response writer before the status line goes out).
// Whoever waits first while no commit is running writes everything queued
// so far as one Store.Commit, one bbolt transaction with one fsync; changes
// queued meanwhile go together in the next one. s.mu is never held across
// a commit, so requests keep being served while the disk works.
//
// Since a request answers only after everything queued before its answer
// is durable, it never reveals a change that a crash could still undo, even
// one another request made (a device approved, a family revoked): what it
// read was queued before it answered.
//
// When a commit fails, the state in memory is rebuilt from the store (what
// was committed) under s.mu, and every change queued until then is dropped:
// memory never runs ahead of the store with changes that will not be
// written. Every request in flight at that moment answers 503
// temporarily_unavailable, as one in flight at a crash would get no answer
// at all; a refresh can be retried with the same token unless its rotation
// had been committed already. If even the store cannot be read back, the
// server stops serving (503 to everything) until it is restarted.
type commitQueue struct {
	mu   sync.Mutex
	cond sync.Cond // signalled when a commit ends; L is mu
	next Batch     // queued, not yet taken by a committer
	busy bool      // a committer is writing

	queued   atomic.Uint64 // sequence number of the last change queued
	settled  atomic.Uint64 // every change up to here is committed or dropped
	failures atomic.Uint64 // commits that failed
	broken   atomic.Bool   // the store could not be read back after a failure
}

var errStore = errors.New("the state could not be stored")

// queueLocked queues records for the next commit; s.mu must be held.
func (s *Server) queueLocked(recs ...Record) {
	if len(recs) == 0 {
		return
	}
	q := &s.commits
	q.mu.Lock()
	q.next.Records = append(q.next.Records, recs...)
	q.queued.Add(1)
	q.mu.Unlock()
}

// queueResetLocked queues dropping every stored record (the admin reset);
// s.mu must be held. Records queued before it need not be written.
func (s *Server) queueResetLocked() {
	q := &s.commits
	q.mu.Lock()
	q.next = Batch{Reset: true}
	q.queued.Add(1)
	q.mu.Unlock()
}

// failures returns a mark to give settle: the number of failed commits so far.
func (s *Server) failureMark() uint64 {
	return s.commits.failures.Load()
}

// settle waits until every change queued so far is committed, committing
// them itself when no one else is. It returns errStore when a commit failed
// since mark (failureMark, taken before the caller looked at the state):
// what the caller saw may have been dropped.
func (s *Server) settle(mark uint64) error {
	q := &s.commits
	if target := q.queued.Load(); q.settled.Load() < target {
		q.mu.Lock()
		for q.settled.Load() < target {
			if q.busy {
				q.cond.Wait()
				continue
			}
			b, upTo := q.next, q.queued.Load()
			q.next, q.busy = Batch{}, true
			q.mu.Unlock()
			err := s.store.Commit(b)
			if err != nil {
				s.commitFailed(err)
			}
			q.mu.Lock()
			if err == nil {
				q.settled.Store(upTo)
			}
			q.busy = false
			q.cond.Broadcast()
		}
		q.mu.Unlock()
	}
	if q.failures.Load() != mark || q.broken.Load() {
		return errStore
	}
	return nil
}

// commitFailed drops every queued change and rebuilds the state from the
// store. It runs while its caller is the committer (q.busy), so nothing
// queued is written meanwhile.
func (s *Server) commitFailed(err error) {
	s.log.Error("store commit failed; the state is reloaded from the store", "err", err)
	q := &s.commits
	s.mu.Lock()
	defer s.mu.Unlock()
	if rerr := s.reloadLocked(); rerr != nil {
		s.log.Error("the store cannot be read back: the server stops serving until restarted", "err", rerr)
		q.broken.Store(true)
	}
	// The failure is counted before the queue is settled: a request that
	// sees its changes settled also sees the failure.
	q.failures.Add(1)
	q.mu.Lock()
	q.next = Batch{}
	q.settled.Store(q.queued.Load())
	q.mu.Unlock()
}

// reloadLocked rebuilds the state from the account and the store, keeping
// what is never stored (login throttling, injected faults, device polling
// pace); s.mu must be held.
func (s *Server) reloadLocked() error {
	st, err := newState(s.initial, s.initUsers)
	if err != nil {
		return err
	}
	if err := s.store.Load(func(r Record) error { return st.load(r, s.fake, s.fakeBase) }); err != nil {
		return err
	}
	st.throttle, st.faults = s.st.throttle, s.st.faults
	for id, d := range st.devices {
		if old := s.st.devices[id]; old != nil && string(old.CodeHash) == string(d.CodeHash) {
			d.polled, d.lastPollReal, d.lastPollOffset = old.polled, old.lastPollReal, old.lastPollOffset
		}
	}
	s.st = st
	return nil
}
