package iostreams

import (
	"fmt"
	"time"
)

// spinnerFrames are drawn in turn while a long operation runs on a terminal.
var spinnerFrames = []string{"⠋", "⠙", "⠹", "⠸", "⠼", "⠴", "⠦", "⠧", "⠇", "⠏"}

// spinnerInterval is the time between two frames.
const spinnerInterval = 120 * time.Millisecond

type spinner struct {
	msg  chan string
	done chan struct{}
	exit chan struct{}
}

// StartProgress shows that something is under way. On a terminal stderr it
// draws a spinner followed by msg until StopProgress; otherwise it prints msg
// once as a plain line (so logs show progress without control characters).
// Starting while a spinner runs replaces its message.
func (s *IOStreams) StartProgress(msg string) {
	s.progressMu.Lock()
	defer s.progressMu.Unlock()
	if !s.stderrTTY {
		fmt.Fprintln(s.ErrOut, msg)
		return
	}
	if s.progress != nil {
		s.progress.msg <- msg
		return
	}
	sp := &spinner{msg: make(chan string), done: make(chan struct{}), exit: make(chan struct{})}
	s.progress = sp
	go func() {
		defer close(sp.exit)
		t := time.NewTicker(spinnerInterval)
		defer t.Stop()
		cur := msg
		for i := 0; ; i++ {
			fmt.Fprintf(s.ErrOut, "\r\x1b[K%s %s", s.ColorSchemeStderr().Cyan(spinnerFrames[i%len(spinnerFrames)]), cur)
			select {
			case m := <-sp.msg:
				cur = m
			case <-t.C:
			case <-sp.done:
				fmt.Fprint(s.ErrOut, "\r\x1b[K")
				return
			}
		}
	}()
}

// StopProgress removes the spinner (a no-op when none runs or stderr is not
// a terminal). It returns once the line is cleared, so what is printed next
// starts at the left margin.
func (s *IOStreams) StopProgress() {
	s.progressMu.Lock()
	defer s.progressMu.Unlock()
	if s.progress == nil {
		return
	}
	close(s.progress.done)
	<-s.progress.exit
	s.progress = nil
}
