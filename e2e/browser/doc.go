// Package browser holds the end-to-end test of the administrator web page in
// a real browser: Debian's headless chromium, driven with chromedp, signs in
// to the reference server's /admin page and approves a device that the client
// library registered and is polling for, and the device then gets a working
// device token. The package has no code of its own; without chromium the
// test skips and says how to install it.
package browser
