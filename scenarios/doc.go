// Package scenarios reads, validates and runs compliance scenarios for the
// Dispatcher Paragon Cloud auth protocol. The built-in suite (builtin/*.yaml)
// is embedded in the binary; docs/scenarios.md describes the format.
//
// The model follows venom's suite → scenario → step: Builtin, LoadPaths and
// Parse read YAML into []*Scenario (every problem reported with its file,
// line and column in a *ValidationError); Select filters by tag, name and
// shard; Run executes the scenarios against a Target (by default a reference
// server from package server, in process, with a fake clock) and returns a
// Report of PASSED, WARNING, FAILED and SKIPPED results, graded as the OpenID
// conformance suite does: a scenario of severity warning checks a rule the
// vendor leaves open and can only warn. Reporters for people and machines
// (terminal, JUnit, JSON, TAP) live in the report subpackage.
//
// Scenarios are read-only once loaded, so one list may be run several times,
// also concurrently. Every secret a run sees (keys, tokens, passwords,
// signatures, environment variables) is masked in the report.
package scenarios
