// Package browser holds the end-to-end tests of the administrator web page in
// a real browser: Debian's headless chromium, driven with chromedp, signs in
// to the reference server's /admin page and approves a device that the client
// library registered and is polling for, and the device then gets a working
// device token. A second test does the same against the real `paragon
// server --data FILE --tls-self-signed`, kills it with SIGKILL, restarts it on
// the same file and keeps using the same tokens. The package has no code of
// its own; without chromium the tests skip and say how to install it.
package browser
