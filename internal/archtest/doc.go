// Package archtest holds no code: its test checks the import rules of
// ARCHITECTURE.md (which package of this module may import which), so a
// change that breaks the layering fails `go test ./...` instead of being
// found in review.
package archtest
