package explore

import (
	"context"
	"math/rand/v2"
	"slices"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"
)

// batchInput is one operation of a concurrent batch, as porcupine sees it.
type batchInput struct {
	op Op
	id int
}

// sent is one operation of a batch with its answer and when it was sent
// and answered.
type sent struct {
	a           answer
	call, reply int64
	err         error
}

// makeBatch turns a refresh op into a batch of c operations sent at once:
// the same refresh again (a client that retries), or a call with the
// family's newest access token.
func makeBatch(s *State, op Op, c int, rng *rand.Rand, batch int) []Op {
	out := []Op{op}
	newest := -1
	for i := range s.Recs {
		if s.Recs[i].Kind == recPair && s.Recs[i].Fam == s.Recs[op.Ref].Fam {
			newest = i
		}
	}
	for len(out) < c {
		if rng.IntN(3) == 0 && newest >= 0 {
			out = append(out, Op{Kind: OpCall, Ref: newest, Key: op.Key})
		} else {
			out = append(out, op)
		}
	}
	for i := range out {
		out[i].Batch = batch
	}
	return out
}

// sendBatch sends ops (ids from start) from one goroutine each, released at
// the same instant, and returns their answers with monotonic timestamps.
func (x *explorer) sendBatch(ctx context.Context, ops []Op, start int) ([]sent, error) {
	for len(x.d.made) < start+len(ops) {
		x.d.made = append(x.d.made, made{})
	}
	t0 := time.Now()
	out := make([]sent, len(ops))
	gate := make(chan struct{})
	var wg sync.WaitGroup
	for k, op := range ops {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-gate
			out[k].call = int64(time.Since(t0))
			out[k].a, out[k].err = x.d.do(ctx, op, start+k)
			out[k].reply = int64(time.Since(t0))
		}()
	}
	close(gate)
	wg.Wait()
	for _, r := range out {
		if r.err != nil {
			return nil, r.err
		}
	}
	return out, nil
}

func (s *State) equal(o *State) bool {
	return s.Now == o.Now && s.AccessTTL == o.AccessTTL && s.RefreshTTL == o.RefreshTTL && s.CodeTTL == o.CodeTTL &&
		s.Grace == o.Grace && s.Unauth == o.Unauth && s.Untrusted == o.Untrusted && s.AutoTrust == o.AutoTrust &&
		s.KeyInactive == o.KeyInactive && s.KeyIPOut == o.KeyIPOut && s.KeyExpired == o.KeyExpired && s.KeyExpiry == o.KeyExpiry && s.KeyPerms == o.KeyPerms && s.Throttle == o.Throttle && s.Absent == o.Absent &&
		s.Devices == o.Devices && s.Issued == o.Issued && slices.Equal(s.Recs, o.Recs)
}

// linearModel is the model as porcupine takes it: Step is pure.
func linearModel(init *State) porcupine.Model {
	return porcupine.Model{
		Init: func() any { return init.Clone() },
		Step: func(state, input, output any) (bool, any) {
			in := input.(batchInput)
			ns := state.(*State).Clone()
			e := Expect(ns, in.op)
			i := e.Match(output.(Obs))
			if i < 0 {
				return false, state
			}
			e.Apply(ns, i, in.id)
			return true, ns
		},
		Equal: func(a, b any) bool { return a.(*State).equal(b.(*State)) },
	}
}

// checkBatch checks the answers of a batch for linearizability against the
// model from s. On success it moves s along an order that explains them;
// otherwise it returns the expectation of the first answer that no order
// explains, and that answer.
func checkBatch(s *State, ops []Op, start int, res []sent) (bool, *Expectation, Obs) {
	hist := make([]porcupine.Operation, len(ops))
	for k, op := range ops {
		hist[k] = porcupine.Operation{ClientId: k, Input: batchInput{op, start + k}, Call: res[k].call, Output: res[k].a.Obs, Return: res[k].reply}
	}
	result, info := porcupine.CheckOperationsVerbose(linearModel(s), hist, 10*time.Second)
	var order []int
	for _, l := range info.PartialLinearizations()[0] {
		if len(l) > len(order) {
			order = l
		}
	}
	if result == porcupine.Ok && len(order) == len(ops) {
		for _, k := range order {
			Step(s, ops[k], start+k, res[k].a.Obs)
		}
		// Which of the batch's tokens the server issued first, no answer
		// says: they share one place in the family's order.
		first := 0
		for k := range ops {
			if r := &s.Recs[start+k]; r.Kind == recPair && (first == 0 || r.Seq < first) {
				first = r.Seq
			}
		}
		for k := range ops {
			if r := &s.Recs[start+k]; r.Kind == recPair {
				r.Seq = first
			}
		}
		return true, nil, Obs{}
	}
	// The longest order porcupine found, then the operation that breaks it.
	c := s.Clone()
	done := map[int]bool{}
	for _, k := range order {
		Step(c, ops[k], start+k, res[k].a.Obs)
		done[k] = true
	}
	for k := range ops {
		if !done[k] {
			e := Expect(c, ops[k])
			e.Rule = "linearizability: the answers to operations sent at once fit no order of them; " + e.Rule
			return false, e, res[k].a.Obs
		}
	}
	e := Expect(c, ops[0]) // porcupine gave up (timeout): report the first
	return false, e, res[0].a.Obs
}
