//go:build race

package main

// raceEnabled is set when the tests run under the race detector: the
// sesame binary they build then carries it too, so the proxy processes
// the tests start are checked for data races as well.
const raceEnabled = true
