package main

import (
	"fmt"
	"io"
	"time"

	"github.com/schollz/progressbar/v3"
)

// progressMinBytes is the smallest download of known size that gets a
// progress bar: a smaller one is over before a bar could tell anything,
// and would only leave a line of noise behind.
const progressMinBytes = 1 << 20

// showProgress decides whether "sesame get" draws a progress bar: only for
// a person watching (stderr is a terminal, no -s), only when the body goes
// to a file (on stdout the bar would mix with the data on the same
// screen), and only for a download that is large or of unknown size.
func showProgress(stderrTerminal, silent, toFile bool, total int64) bool {
	return stderrTerminal && !silent && toFile && (total < 0 || total >= progressMinBytes)
}

// progress is a download progress bar drawn on a terminal. It is an
// io.Writer that counts the bytes written to it, so the download loop
// writes to the output and the bar alike (io.MultiWriter).
type progress struct {
	bar *progressbar.ProgressBar
	w   io.Writer
}

// startProgress draws a bar on w for a download of total bytes (-1 when the
// size is unknown: the bar is then a spinner with a byte count).
func startProgress(w io.Writer, total int64, name string) *progress {
	bar := progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(w),
		progressbar.OptionSetDescription(name),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowTotalBytes(true),
		progressbar.OptionShowCount(),
		progressbar.OptionSetWidth(30),
		progressbar.OptionFullWidth(),
		// Redrawing on every 32 KiB write would cost more than the
		// copy on a fast link; ten frames a second look continuous.
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSpinnerType(14),
		progressbar.OptionSetRenderBlankState(true),
	)
	return &progress{bar: bar, w: w}
}

// Write counts len(b) bytes; it never fails, so a bar cannot break a
// download.
func (p *progress) Write(b []byte) (int, error) {
	p.bar.Add64(int64(len(b)))
	return len(b), nil
}

// done draws the final state (full when complete, where it stopped when
// not) and ends the bar's line, so that what follows on stderr (an error
// message) starts on a line of its own.
func (p *progress) done(complete bool) {
	if complete {
		p.bar.Finish()
	}
	p.bar.Exit()
	fmt.Fprintln(p.w)
}
