package scenarios

import "time"

// PlannedScenario is what a run would do with one scenario.
type PlannedScenario struct {
	Name string
	Tags []string
	Skip string        // why it would be skipped; "" when it would run
	Wait time.Duration // the real waits it would do (a target without a fake clock)
}

// Plan says, without sending a request, which scenarios a run against
// spec would run, which it would skip and why, and how long each would wait
// for real. With an admin URL it assumes the admin API answers and the
// clock is fake (a run checks both first).
func Plan(list []*Scenario, spec Target) []PlannedScenario {
	t := newTarget(spec)
	if !t.embedded && t.admin != "" {
		t.caps[NeedAdmin], t.caps[NeedClock] = true, true
	}
	out := make([]PlannedScenario, len(list))
	for i, sc := range list {
		p, reason := t.plan(sc)
		out[i] = PlannedScenario{Name: sc.Name, Tags: sc.Tags, Skip: reason}
		if p != nil && !t.caps[NeedClock] {
			out[i].Wait = p.realWait
		}
	}
	return out
}
