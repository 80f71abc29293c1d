// Package e2e holds end-to-end tests that build the real paragon binary and
// run it as a user would: `paragon server` as a subprocess, driven with curl
// and openssl exactly as docs/walkthrough-curl.md shows, with signals, TLS
// and kill -9 crashes. The package has no code of its own. Its
// subpackages are the other end-to-end tests: e2e/cli runs every command
// through testscript scripts, e2e/browser drives the admin page and the
// HTML report in headless Chromium.
package e2e
