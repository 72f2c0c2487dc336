package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/cutover/cutover/engine"
	"github.com/cutover/cutover/engine/event"
	"github.com/cutover/cutover/steps"
)

// renderer is the one place events become output: human lines, or JSON.
type renderer interface {
	event.Sink
	// Result prints the end of a run or rollback.
	Result(r engine.Result, code int)
	// Close stops any live indicator.
	Close()
}

// jsonRenderer prints one JSON object per line.
type jsonRenderer struct {
	mu  sync.Mutex
	enc *json.Encoder
}

func newJSONRenderer(w io.Writer) *jsonRenderer { return &jsonRenderer{enc: json.NewEncoder(w)} }

func (j *jsonRenderer) Emit(e event.Event) {
	j.mu.Lock()
	defer j.mu.Unlock()
	_ = j.enc.Encode(e)
}

// resultLine is the last line of --json output.
type resultLine struct {
	Time     time.Time `json:"time"`
	Type     string    `json:"type"`
	Outcome  string    `json:"outcome"`
	ExitCode int       `json:"exit_code"`
	Error    string    `json:"error,omitempty"`
	Next     string    `json:"next,omitempty"`
}

func (j *jsonRenderer) Result(r engine.Result, code int) {
	j.result(r.Outcome.String(), code, r.Err, r.Next)
}

// result writes the result line: outcome, exit code, error, next command.
func (j *jsonRenderer) result(outcome string, code int, err error, next string) {
	out := newResultLine(outcome, code, err, next)
	j.mu.Lock()
	defer j.mu.Unlock()
	_ = j.enc.Encode(out)
}

func (j *jsonRenderer) Close() {}

func newResultLine(outcome string, code int, err error, next string) resultLine {
	out := resultLine{Time: time.Now().UTC(), Type: resultType, Outcome: outcome, ExitCode: code, Next: next}
	if err != nil {
		out.Error = err.Error()
	}
	return out
}

// humanRenderer prints one line per step with its status and elapsed time.
// While a step runs it shows a live indicator: a line rewritten in place on a
// terminal, a "still running" line every quietEvery otherwise.
type humanRenderer struct {
	mu       sync.Mutex
	w        io.Writer
	term     io.Writer // the terminal alone: the in-place indicator stays out of the run log
	tty      bool
	current  string
	started  time.Time
	progress *steps.Progress
	stop     chan struct{}
	done     chan struct{}
}

const quietEvery = 15 * time.Second

func newHumanRenderer(w, live io.Writer, tty bool) *humanRenderer {
	h := &humanRenderer{w: w, term: live, tty: tty, stop: make(chan struct{}), done: make(chan struct{})}
	go h.tick()
	return h
}

func (h *humanRenderer) tick() {
	defer close(h.done)
	every := quietEvery
	if h.tty {
		every = 250 * time.Millisecond
	}
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-h.stop:
			return
		case <-t.C:
			h.live()
		}
	}
}

func (h *humanRenderer) live() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.current == "" {
		return
	}
	line := fmt.Sprintf("  ...   %-28s %6s%s", h.current, seconds(time.Since(h.started)), progressText(h.progress, time.Since(h.started)))
	if h.tty {
		fmt.Fprintf(h.term, "\r\033[K%s", line)
		return
	}
	fmt.Fprintln(h.w, line+"  (still running)")
}

func progressText(p *steps.Progress, elapsed time.Duration) string {
	if p == nil {
		return ""
	}
	s := fmt.Sprintf("  %d", p.Done)
	if p.Total > 0 {
		s += fmt.Sprintf("/%d", p.Total)
	}
	s += " " + p.Unit
	if secs := elapsed.Seconds(); secs > 0 && p.Done > 0 {
		rate := float64(p.Done) / secs
		s += fmt.Sprintf(", %.0f/s", rate)
		if p.Total > p.Done {
			s += fmt.Sprintf(", %s left", seconds(time.Duration(float64(p.Total-p.Done)/rate*float64(time.Second))))
		}
	}
	return s
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.1fs", d.Seconds()) }

// line prints a finished line, clearing a live one first.
func (h *humanRenderer) line(format string, args ...any) {
	if h.tty && h.current != "" {
		fmt.Fprint(h.term, "\r\033[K")
	}
	fmt.Fprintf(h.w, format+"\n", args...)
}

func (h *humanRenderer) Emit(e event.Event) {
	h.mu.Lock()
	defer h.mu.Unlock()
	switch e.Type {
	case event.StepStart:
		h.current, h.started, h.progress = e.Step, time.Now(), nil
	case event.StepProgress:
		h.progress = e.Progress
	case event.StepDone:
		h.line("  ok    %-28s %6s  %s", e.Step, seconds(e.Elapsed), e.Message)
		h.current = ""
	case event.StepFail:
		h.line("  FAIL  %-28s %6s  %s", e.Step, seconds(e.Elapsed), e.Message)
		h.current = ""
	case event.StepSkip:
		h.line("  skip  %-28s %6s  %s", e.Step, "", e.Message)
	case event.StepRetry:
		h.line("  retry %-28s %6s  %s", e.Step, "", e.Message)
	case event.StepLog:
		h.line("        %-28s %6s  %s", e.Step, "", e.Message)
	case event.RollbackAction:
		h.rollbackAction(e)
	case event.RunStart, event.RunResume, event.RunEnd, event.Notice, event.RollbackStart, event.RollbackEnd:
		h.headline(e)
	}
}

func (h *humanRenderer) rollbackAction(e event.Event) {
	what := fmt.Sprintf("phase %d %-7s %s", e.Phase, e.Op, e.Step)
	switch e.Status {
	case "started":
		h.current, h.started, h.progress = what, time.Now(), nil
	case "done":
		h.line("  ok    %-36s %6s  %s", what, seconds(e.Elapsed), e.Message)
		h.current = ""
	case "failed":
		h.line("  FAIL  %-36s %6s  %s", what, seconds(e.Elapsed), e.Message)
		h.current = ""
	}
}

func (h *humanRenderer) headline(e event.Event) {
	switch e.Type {
	case event.RollbackStart:
		h.line("rolling back: %s", e.Message)
	case event.RollbackEnd:
		if e.Status == "done" {
			h.line("rollback finished")
		}
	case event.RunEnd:
		if e.Status == "completed" {
			h.line("%s (%s)", e.Message, seconds(e.Elapsed))
		} else {
			h.line("%s", e.Message)
		}
	default:
		h.line("%s", e.Message)
	}
}

func (h *humanRenderer) Result(r engine.Result, code int) {}

func (h *humanRenderer) Close() {
	close(h.stop)
	<-h.done
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.tty && h.current != "" {
		fmt.Fprint(h.term, "\r\033[K")
	}
}

// newRenderer renders to stdout; live is where a terminal's in-place
// indicator goes (the terminal alone).
func newRenderer(jsonOut bool, stdout, live io.Writer, tty bool) renderer {
	if jsonOut {
		return newJSONRenderer(stdout)
	}
	return newHumanRenderer(stdout, live, tty)
}

// verdictLine is the --json line of `cutover rehearse`'s verdict.
type verdictLine struct {
	Time       time.Time       `json:"time"`
	Type       string          `json:"type"`
	Fits       bool            `json:"fits"`
	WindowNS   time.Duration   `json:"window_ns,omitempty"`
	MarginNS   time.Duration   `json:"margin_ns,omitempty"`
	NeedNS     time.Duration   `json:"need_ns"`
	DowntimeNS []time.Duration `json:"downtime_ns"`
	RollbackNS []time.Duration `json:"rollback_ns"`
	Lines      []string        `json:"lines"`
}

// verdict writes the rehearsals' verdict as one JSON line.
func (j *jsonRenderer) verdict(v engine.Verdict) {
	j.mu.Lock()
	defer j.mu.Unlock()
	_ = j.enc.Encode(newVerdictLine(v))
}

func newVerdictLine(v engine.Verdict) verdictLine {
	return verdictLine{Time: time.Now().UTC(), Type: "verdict", Fits: v.Fits(), WindowNS: v.Window, MarginNS: v.Margin,
		NeedNS: v.Need(), DowntimeNS: v.Downtime, RollbackNS: v.Rollback, Lines: v.Lines()}
}
