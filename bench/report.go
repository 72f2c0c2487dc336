package main

import (
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/cutover/cutover/internal/fsutil"
)

// The pure part of the harness: what a run reports, how targets are
// judged, and how the report is printed and saved. Nothing here contacts a
// server or measures anything, so bench_test.go covers it in milliseconds.

// Float is a float64 that survives JSON when it is not finite: encoding/json
// refuses +Inf (a ratio over a tool that achieved 0/s) and NaN (a ratio of
// two missing numbers), so they are written as the strings "+Inf", "-Inf"
// and "NaN" and read back.
type Float float64

// MarshalJSON writes finite values as numbers, the others as strings.
func (f Float) MarshalJSON() ([]byte, error) {
	v := float64(f)
	switch {
	case math.IsNaN(v):
		return []byte(`"NaN"`), nil
	case math.IsInf(v, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Inf"`), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

// UnmarshalJSON reads what MarshalJSON writes.
func (f *Float) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		switch s {
		case "NaN":
			*f = Float(math.NaN())
		case "+Inf":
			*f = Float(math.Inf(1))
		case "-Inf":
			*f = Float(math.Inf(-1))
		default:
			return fmt.Errorf("bench: %q is not a number", s)
		}
		return nil
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*f = Float(v)
	return nil
}

// Metric is one measured number.
type Metric struct {
	Section string `json:"section"` // migrate, validate, engine, memory, downtime
	Name    string `json:"name"`    // what was measured, e.g. "cutover migrate_keys"
	Value   Float  `json:"value"`
	Unit    string `json:"unit"`             // keys/s, objects/s, ms, MiB, s, x
	Detail  string `json:"detail,omitempty"` // how, and what else was seen (counts, wall times)
	// Extra holds the raw numbers behind Value (wall seconds, counts, CPU
	// seconds), for whoever reads the JSON.
	Extra map[string]Float `json:"extra,omitempty"`
}

// Comparison operators of a target.
const (
	AtLeast = ">="
	AtMost  = "<="
)

// Target statuses.
const (
	Pass  = "PASS"
	Miss  = "MISS"
	NoRun = "NOT RUN" // its section was not selected
	Error = "ERROR"   // its section failed before it could be measured
)

// Target is a goal from the tracker issue and whether the run met it.
type Target struct {
	Section string `json:"section"`
	Name    string `json:"name"`  // e.g. "migrate_keys vs kes migrate"
	Value   Float  `json:"value"` // the measured number the goal is about
	Op      string `json:"op"`    // AtLeast or AtMost
	Limit   Float  `json:"limit"`
	Unit    string `json:"unit"`
	Status  string `json:"status"`
	Detail  string `json:"detail,omitempty"`
}

// Judge sets t.Status from its value: a NaN value (something was not
// measured, or a ratio of zeros) misses, whatever the operator.
func (t *Target) Judge() {
	v, lim := float64(t.Value), float64(t.Limit)
	ok := false
	switch t.Op {
	case AtLeast:
		ok = v >= lim
	case AtMost:
		ok = v <= lim
	}
	if math.IsNaN(v) || math.IsNaN(lim) {
		ok = false
	}
	t.Status = Miss
	if ok {
		t.Status = Pass
	}
}

// Ratio is a/b for throughputs measured over the same work. It is NaN, never
// infinite, when b is 0 (the other tool did not complete the work: there is
// no ratio to state, and a target on it misses); the caller then compares
// over work both completed instead.
func Ratio(a, b float64) float64 {
	if b == 0 {
		return math.NaN()
	}
	return a / b
}

// Rate is n per second over d; 0 for a zero duration.
func Rate(n int64, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// Median returns the median of ds (the mean of the middle two for an even
// count); 0 for none. ds is not modified.
func Median(ds []time.Duration) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sortDurations(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// Percentile returns the p-th percentile (0..100, nearest rank) of ds.
func Percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := append([]time.Duration(nil), ds...)
	sortDurations(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	rank = max(1, min(rank, len(s)))
	return s[rank-1]
}

func sortDurations(s []time.Duration) {
	// insertion sort is plenty for the few hundred samples taken here
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j] < s[j-1]; j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
}

// SectionResult is how a section ended.
type SectionResult struct {
	Name    string `json:"name"`
	Status  string `json:"status"` // "ok", "error", "not run"
	Error   string `json:"error,omitempty"`
	Seconds Float  `json:"seconds"`
	// Load is /proc/loadavg (1, 5, 15 minutes) when the section started
	// and ended: other processes compete with the measurement.
	LoadStart string `json:"loadavg_start,omitempty"`
	LoadEnd   string `json:"loadavg_end,omitempty"`
	// ForeignCPU is the CPU time other user processes (not this harness,
	// not the servers and commands it started) used during the section,
	// and ForeignShare that time over the section's wall time times the
	// CPUs: when it is high, the section's numbers are disturbed.
	ForeignCPU   Float `json:"foreign_cpu_s"`
	ForeignShare Float `json:"foreign_cpu_share"`
	// KernelCPU is kernel threads' time (writeback, softirqs: much of it
	// this run's own I/O); OwnCPU this harness's and its children's;
	// MachineCPU every CPU's non-idle time.
	KernelCPU  Float `json:"kernel_threads_cpu_s"`
	OwnCPU     Float `json:"own_cpu_s"`
	MachineCPU Float `json:"machine_cpu_s"`
}

// Report is everything one run measured; it is what results/*.json hold.
type Report struct {
	Started      time.Time       `json:"started"`
	Finished     time.Time       `json:"finished"`
	TotalSeconds Float           `json:"total_seconds"`
	Mode         string          `json:"mode"` // "full" or "quick"
	Only         []string        `json:"only"`
	Host         map[string]any  `json:"host"`
	Sizes        map[string]int  `json:"sizes"`
	Sections     []SectionResult `json:"sections"`
	Metrics      []Metric        `json:"metrics"`
	Targets      []Target        `json:"targets"`
	Notes        []string        `json:"notes,omitempty"`
}

// Add records a metric.
func (r *Report) Add(m Metric) { r.Metrics = append(r.Metrics, m) }

// Note records a remark printed under the table.
func (r *Report) Note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

// AddTarget judges t and records it.
func (r *Report) AddTarget(t Target) {
	t.Judge()
	r.Targets = append(r.Targets, t)
}

// MarkTargets gives status to the targets of a section that recorded
// none (not selected, or failed): one placeholder per declared target.
func (r *Report) MarkTargets(section, status, why string) {
	for _, t := range r.Targets {
		if t.Section == section {
			return
		}
	}
	for _, d := range declaredTargets[section] {
		d.Section, d.Status, d.Detail = section, status, why
		d.Value = Float(math.NaN())
		r.Targets = append(r.Targets, d)
	}
}

// declaredTargets are the tracker issue's goals per section, used to show
// what a skipped or failed section did not measure.
var declaredTargets = map[string][]Target{
	"migrate": {
		{Name: "migrate_keys vs raw Vault writer [raft]", Op: AtLeast, Limit: 0.8, Unit: "x"},
		{Name: "migrate_keys vs kes migrate, same 1000 keys [raft]", Op: AtLeast, Limit: 10, Unit: "x"},
		{Name: "migrate_keys vs raw Vault writer [inmem]", Op: AtLeast, Limit: 0.8, Unit: "x"},
		{Name: "migrate_keys vs kes migrate, same 1000 keys [inmem]", Op: AtLeast, Limit: 10, Unit: "x"},
	},
	"validate": {
		{Name: "validate_objects vs mc head 16 at once, same 500 objects", Op: AtLeast, Limit: 20, Unit: "x"},
		{Name: "validate_objects vs raw ranged GETs", Op: AtLeast, Limit: 0.8, Unit: "x"},
	},
	"engine": {
		{Name: "checkpoint mark per step (median)", Op: AtMost, Limit: 2, Unit: "ms"},
		{Name: "1,000-step plan validated (median)", Op: AtMost, Limit: 100, Unit: "ms"},
		{Name: "overhead per step at the largest plan", Op: AtMost, Limit: 3, Unit: "ms"},
		{Name: "overhead growth, largest plan vs 100 steps", Op: AtMost, Limit: 1.5, Unit: "x"},
	},
	"memory": {
		{Name: "peak RSS of migrate_keys at 100k keys", Op: AtMost, Limit: 64, Unit: "MiB"},
	},
	"downtime": {
		{Name: "downtime - (restart + readiness)", Op: AtMost, Limit: 1, Unit: "s"},
	},
}

// Sections in the order they run and print.
var allSections = []string{"migrate", "validate", "engine", "memory", "downtime"}

// ParseOnly turns the -only flag into the sections to run, in run order.
func ParseOnly(s string) ([]string, error) {
	if strings.TrimSpace(s) == "" {
		return append([]string(nil), allSections...), nil
	}
	want := map[string]bool{}
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		known := false
		for _, a := range allSections {
			known = known || a == f
		}
		if !known {
			return nil, fmt.Errorf("-only: unknown section %q (known: %s)", f, strings.Join(allSections, ","))
		}
		want[f] = true
	}
	var out []string
	for _, a := range allSections {
		if want[a] {
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("-only: no section named")
	}
	return out, nil
}

// FormatValue prints a number for the table: +Inf as "inf", NaN as "-",
// and a precision that suits its size.
func FormatValue(v float64) string {
	switch {
	case math.IsNaN(v):
		return "-"
	case math.IsInf(v, 1):
		return "inf"
	case math.IsInf(v, -1):
		return "-inf"
	case v == 0:
		return "0"
	case math.Abs(v) >= 1000:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case math.Abs(v) >= 100:
		return strconv.FormatFloat(v, 'f', 1, 64)
	case math.Abs(v) >= 1:
		return strconv.FormatFloat(v, 'f', 2, 64)
	}
	return strconv.FormatFloat(v, 'f', 3, 64)
}

// FormatTable renders the report as the text `make bench` prints.
func FormatTable(r *Report) string {
	var b strings.Builder
	fmt.Fprintf(&b, "cutover bench (%s mode) started %s, %s total\n", r.Mode, r.Started.Format(time.RFC3339), fmtSeconds(float64(r.TotalSeconds)))
	if len(r.Host) > 0 {
		fmt.Fprintf(&b, "host: %s\n", hostLine(r.Host))
	}
	b.WriteString("\n")
	rows := [][]string{{"SECTION", "MEASUREMENT", "VALUE", "UNIT", "DETAIL"}}
	for _, m := range r.Metrics {
		rows = append(rows, []string{m.Section, m.Name, FormatValue(float64(m.Value)), m.Unit, m.Detail})
	}
	writeRows(&b, rows)
	b.WriteString("\nTARGETS\n")
	rows = [][]string{{"RESULT", "SECTION", "TARGET", "MEASURED", "GOAL", "DETAIL"}}
	var notRun []string
	for _, t := range r.Targets {
		if t.Status == NoRun {
			notRun = append(notRun, t.Name)
			continue
		}
		rows = append(rows, []string{t.Status, t.Section, t.Name,
			FormatValue(float64(t.Value)) + " " + t.Unit,
			t.Op + " " + strconv.FormatFloat(float64(t.Limit), 'g', -1, 64) + " " + t.Unit, t.Detail})
	}
	writeRows(&b, rows)
	if len(notRun) > 0 {
		fmt.Fprintf(&b, "not run (-only): %s\n", strings.Join(notRun, "; "))
	}
	bad := 0
	for _, s := range r.Sections {
		if s.Status == "error" {
			bad++
			fmt.Fprintf(&b, "\nsection %s FAILED after %s: %s\n", s.Name, fmtSeconds(float64(s.Seconds)), s.Error)
		}
	}
	var busy []string
	for _, s := range r.Sections {
		if s.Status != "not run" && s.ForeignShare >= busyShare {
			busy = append(busy, fmt.Sprintf("%s %.0f%%", s.Name, 100*float64(s.ForeignShare)))
		}
	}
	if len(busy) > 0 {
		fmt.Fprintf(&b, "\nWARNING: other processes used the CPUs during: %s (share of all CPUs; sections[].foreign_cpu_s in the JSON): those numbers are lower than on a quiet machine\n",
			strings.Join(busy, ", "))
	}
	if len(r.Notes) > 0 {
		b.WriteString("\nNOTES\n")
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "- %s\n", n)
		}
	}
	return b.String()
}

// busyShare is the share of the CPUs other processes may take during a
// section before the table warns that its numbers are disturbed.
const busyShare = 0.10

// writeRows writes rows as left-aligned columns; the last column is not
// padded.
func writeRows(b *strings.Builder, rows [][]string) {
	if len(rows) == 0 {
		return
	}
	widths := make([]int, len(rows[0]))
	for _, row := range rows {
		for i, c := range row {
			if i < len(row)-1 {
				widths[i] = max(widths[i], len([]rune(c)))
			}
		}
	}
	for _, row := range rows {
		var line strings.Builder
		for i, c := range row {
			if i == len(row)-1 {
				line.WriteString(c)
				break
			}
			line.WriteString(c)
			line.WriteString(strings.Repeat(" ", widths[i]-len([]rune(c))+2))
		}
		b.WriteString(strings.TrimRight(line.String(), " "))
		b.WriteString("\n")
	}
}

func hostLine(h map[string]any) string {
	keys := []string{"go", "os", "arch", "cpus", "kernel", "loadavg_start", "loadavg_end"}
	var parts []string
	for _, k := range keys {
		if v, ok := h[k]; ok {
			if s := fmt.Sprint(v); strings.Contains(s, " ") {
				parts = append(parts, fmt.Sprintf("%s=%q", k, s))
			} else {
				parts = append(parts, fmt.Sprintf("%s=%s", k, s))
			}
		}
	}
	return strings.Join(parts, " ")
}

func fmtSeconds(s float64) string {
	if s >= 120 {
		return fmt.Sprintf("%dm%02ds", int(s)/60, int(s)%60)
	}
	return fmt.Sprintf("%.1fs", s)
}

// WriteJSON writes r as dir/latest.json and dir/<started, UTC>.json.
// It returns the paths written.
func WriteJSON(dir string, r *Report) ([]string, error) {
	data, err := json.MarshalIndent(r, "", "  ")
	if err != nil {
		return nil, err
	}
	data = append(data, '\n')
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	stamp := r.Started.UTC().Format("20060102T150405Z")
	latest := "latest"
	if suffix := resultSuffix(r); suffix != "" {
		stamp += "-" + suffix
		latest += "-" + suffix
	}
	paths := []string{filepath.Join(dir, stamp+".json"), filepath.Join(dir, latest+".json")}
	for _, p := range paths {
		if err := fsutil.WriteFileAtomic(p, data, 0o644); err != nil {
			return nil, err
		}
	}
	return paths, nil
}

// resultSuffix names runs that are not a full run of every section, so
// that a smoke run never replaces latest.json: "quick", "engine-memory",
// "quick-engine".
func resultSuffix(r *Report) string {
	var parts []string
	if r.Mode != "full" {
		parts = append(parts, r.Mode)
	}
	if len(r.Only) > 0 && len(r.Only) < len(allSections) {
		parts = append(parts, r.Only...)
	}
	return strings.Join(parts, "-")
}

// ReadJSON reads a report written by WriteJSON.
func ReadJSON(path string) (*Report, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var r Report
	if err := json.Unmarshal(data, &r); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return &r, nil
}
