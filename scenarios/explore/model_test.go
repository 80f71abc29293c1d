package explore

import (
	"testing"
)

// TestReuseWhilePendingRevokes: a spent device refresh token presented
// while its device waits for approval again revokes its family (contract
// section 3.4, [ours]); the model predicts it exactly, so the family's
// newer refresh token no longer works once the device is approved again.
func TestReuseWhilePendingRevokes(t *testing.T) {
	s := NewState(0)
	steps := []struct {
		op  Op
		obs Obs
	}{
		{Op{Kind: OpRegister, Dev: 1}, Obs{Status: 200}},                 // 0
		{Op{Kind: OpApprove, Dev: 1}, Obs{Status: 200}},                  // 1
		{Op{Kind: OpPoll, Dev: 1, Ref: 0}, Obs{Status: 200}},             // 2: the family
		{Op{Kind: OpRefresh, Dev: 1, Ref: 2}, Obs{Status: 200}},          // 3: spends 2's refresh token
		{Op{Kind: OpRegister, Dev: 1}, Obs{Status: 200}},                 // 4: unsigned again: pending
		{Op{Kind: OpRefresh, Dev: 1, Ref: 2}, Obs{400, "invalid_grant"}}, // 5: reuse while pending
		{Op{Kind: OpApprove, Dev: 1}, Obs{Status: 200}},                  // 6
		{Op{Kind: OpPoll, Dev: 1, Ref: 4}, Obs{Status: 200}},             // 7
	}
	for id, st := range steps {
		if e, ok := Step(s, st.op, id, st.obs); !ok {
			t.Fatalf("step %d: %s: the model allows %s", id, describeOp(st.op, users), e)
		}
	}
	if got := s.famOf(2).FamStatus; got != FamRevoked {
		t.Fatalf("the family after reuse while pending: %d, want revoked", got)
	}
	e := Expect(s, Op{Kind: OpRefresh, Dev: 1, Ref: 3})
	if len(e.Answers) != 1 || e.Answers[0].Status != 400 || e.Match(Obs{Status: 200}) >= 0 {
		t.Errorf("the family's newer refresh token after approval: the model allows %s, want only 400 invalid_grant", e)
	}
}
