package scenarios

import "time"

// PlannedScenario is what a run would do with one scenario, or with a
// file's setup or teardown (Hook set).
type PlannedScenario struct {
	Name  string
	Tags  []string
	Hook  string        // HookSetup or HookTeardown for a file's setup or teardown, "" for a scenario
	Steps int           // its steps (a hook's, for the plan to show)
	Skip  string        // why it would be skipped; "" when it would run
	Wait  time.Duration // the real waits it would do (a target without a fake clock)
}

// Plan says, without sending a request, which scenarios a run against
// spec would run, which it would skip and why, and how long each would wait
// for real; a file's setup and teardown are listed around its scenarios.
// With an admin URL it assumes the admin API answers and the clock is fake
// (a run checks both first).
func Plan(list []*Scenario, spec Target) []PlannedScenario {
	t := newTarget(spec)
	if !t.embedded && t.admin != "" {
		t.caps[NeedAdmin], t.caps[NeedClock] = true, true
	}
	s := newScheduler(t, list, 1)
	out := make([]PlannedScenario, 0, s.entries)
	add := func(j *job) {
		if j == nil {
			return
		}
		p, reason := t.plan(j.sc)
		if reason == "" && j.u.hooks != nil {
			reason = j.u.skip
		}
		ps := PlannedScenario{Name: j.sc.Name, Tags: j.sc.Tags, Hook: j.hook, Steps: len(j.sc.Steps), Skip: reason}
		if p != nil && reason == "" && !t.caps[NeedClock] {
			ps.Wait = p.realWait
		}
		out = append(out, ps)
	}
	for _, u := range s.units {
		add(u.pre)
		for _, m := range u.members {
			add(m)
		}
		add(u.post)
	}
	return out
}
