// Package e2e holds end-to-end tests that build the real paragon binary and
// run it as a user would: `paragon server` as a subprocess, driven with curl
// and openssl exactly as docs/walkthrough-curl.md shows, with signals, TLS
// and kill -9 crashes. The package has no code of its own.
package e2e
