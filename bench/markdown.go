package main

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// FormatMarkdown renders one run's report as README's Performance table:
// when and where it ran, how loaded the machine was, and every target with
// what it compares, then the run's notes. Everything comes from r, so
// README's numbers are one run's.
func FormatMarkdown(r *Report, file string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "Measured by one `make bench` run (%s mode, %s), started %s UTC, %s: %s.\n",
		r.Mode, fmtSeconds(float64(r.TotalSeconds)), r.Started.UTC().Format("2006-01-02 15:04"), "`bench/results/"+file+"`", machineText(r.Host))
	fmt.Fprintf(&b, "%s\n\n", loadText(r))
	b.WriteString("| target | measured | goal | result | what is compared |\n|---|---|---|---|---|\n")
	for _, t := range r.Targets {
		if t.Status == NoRun {
			continue
		}
		fmt.Fprintf(&b, "| %s | %s %s | %s %s %s | %s | %s |\n", mdCell(t.Name), FormatValue(float64(t.Value)), t.Unit,
			t.Op, strconv.FormatFloat(float64(t.Limit), 'g', -1, 64), t.Unit, t.Status, mdCell(t.Detail))
	}
	fmt.Fprintf(&b, "\nEvery measurement behind these (%d rows, each with how it was taken) is in that file and in the table `make bench` prints.\n", len(r.Metrics))
	if len(r.Notes) > 0 {
		b.WriteString("\n")
		for _, n := range r.Notes {
			fmt.Fprintf(&b, "- %s\n", mdCell(n))
		}
	}
	return b.String()
}

// machineText says what machine the run was on.
func machineText(h map[string]any) string {
	parts := []string{fmt.Sprintf("%v CPUs", h["cpus"])}
	if m, ok := h["cpu_model"]; ok {
		parts[0] += fmt.Sprintf(" (%v)", m)
	}
	if kb, err := strconv.Atoi(fmt.Sprint(h["mem_total_kb"])); err == nil {
		parts = append(parts, fmt.Sprintf("%.0f GiB RAM", float64(kb)/(1<<20)))
	}
	parts = append(parts, fmt.Sprintf("Linux %v", h["kernel"]), fmt.Sprintf("%v", h["go"]))
	return strings.Join(parts, ", ")
}

// loadText says how busy the machine was: load averages at the start and
// end, and the share of the CPUs other processes took in each section.
func loadText(r *Report) string {
	var shares []string
	worst := 0.0
	for _, s := range r.Sections {
		if s.Status == "not run" {
			continue
		}
		v := float64(s.ForeignShare)
		if !math.IsNaN(v) {
			worst = max(worst, v)
		}
		shares = append(shares, fmt.Sprintf("%s %.0f%%", s.Name, 100*v))
	}
	text := fmt.Sprintf("Load average (1, 5, 15 min) %v at the start, %v at the end; CPU time taken by other processes, as a share of all CPUs, per section: %s.",
		r.Host["loadavg_start"], r.Host["loadavg_end"], strings.Join(shares, ", "))
	if worst >= busyShare {
		text += " The machine was shared and busy during the run: these numbers are lower than on a quiet machine, and ratios between contenders timed at different moments carry that noise."
	}
	return text
}

func mdCell(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ", "<", "&lt;", ">", "&gt;").Replace(s)
}
