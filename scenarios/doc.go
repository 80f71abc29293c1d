// Package scenarios reads, validates and runs compliance scenarios for the
// Dispatcher Paragon Cloud auth protocol, and reports their results for
// people (terminal) and machines (JUnit, JSON, TAP). The built-in suite is
// embedded in the binary.
package scenarios
