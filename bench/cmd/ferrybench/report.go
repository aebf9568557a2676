package main

import (
	"encoding/json"
	"fmt"
	"math"
	"runtime"
	"sort"
	"strings"
	"text/tabwriter"
	"time"
)

type stat struct{ med, min, max float64 }

func stats(xs []float64) stat {
	if len(xs) == 0 {
		return stat{math.NaN(), math.NaN(), math.NaN()}
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	m := s[len(s)/2]
	if len(s)%2 == 0 {
		m = (s[len(s)/2-1] + s[len(s)/2]) / 2
	}
	return stat{m, s[0], s[len(s)-1]}
}

func (s stat) f(prec int) string {
	return fmt.Sprintf("%.*f (%.*f–%.*f)", prec, s.med, prec, s.min, prec, s.max)
}

// perRound maps f over the rounds of two series.
func perRound(a, b []float64, f func(a, b float64) float64) []float64 {
	out := make([]float64, min(len(a), len(b)))
	for i := range out {
		out[i] = f(a[i], b[i])
	}
	return out
}

func rates(secs []float64, amount float64) []float64 {
	out := make([]float64, len(secs))
	for i, s := range secs {
		out[i] = amount / s
	}
	return out
}

type report struct {
	table string
	json  []byte
}

func round3(x float64) float64 { return math.Round(x*1000) / 1000 }

func (b *bench) report() report {
	var t strings.Builder
	j := map[string]any{"tls": false, "scale": b.s.scale, "rounds": b.s.rounds}
	// ratio of path p to the baseline of the same round: the throughput
	// ratio, baseline time / Ferry time (same bytes, same files).
	ratio := func(d dataset, op, p string) stat {
		return stats(perRound(b.times[key(d, op, pathBase)], b.times[key(d, op, p)], func(base, x float64) float64 { return base / x }))
	}
	fmt.Fprintf(&t, "\nFerry end-to-end bench: scale %g, %d rounds interleaved, %d CPUs (%s), one disk for datasets, volumes and restore targets\n",
		b.s.scale, b.s.rounds, runtime.NumCPU(), cpuModel())
	fmt.Fprintf(&t, "ferry built once from %s (git describe --always --dirty; bench/ and the Makefile's bench target count as changes)\n", b.commit)
	fmt.Fprintf(&t, "datasets: large %d files × %.0f MiB = %.0f MiB incompressible (ChaCha8); small %d files in %d folders, 0–64 KiB, mean %.1f KiB, half text, half random = %.1f MiB\n",
		b.large.files, float64(b.large.bytes)/float64(b.large.files)/(1<<20), float64(b.large.bytes)/(1<<20),
		b.small.files, b.small.dirs, float64(b.small.bytes)/float64(b.small.files)/1024, float64(b.small.bytes)/(1<<20))
	fmt.Fprintf(&t, "security: tls=false: Ferry's data socket has no TLS yet, so the default path IS the plain path; the \"default\" and \"plain\" ratio columns (and the *_plain JSON keys) are the same runs\n")
	var probes []string
	for _, x := range b.diskMBs {
		probes = append(probes, fmt.Sprintf("%.0f", x))
	}
	fmt.Fprintf(&t, "disk: 256 MiB write + fdatasync before each round: %s MB/s (the disk's speed drifts: compare within a round)\n", strings.Join(probes, ", "))
	j["disk_probe_mbps"] = round3(stats(b.diskMBs).med)
	fmt.Fprintf(&t, "baseline: GNU tar and socat defaults (10 KiB tar records, 8 KiB socat buffer), socat -u (one direction) on both ends\n")
	fmt.Fprintf(&t, "figures: median (min–max) over rounds; ratio = Ferry MB/s (= files/s) ÷ the baseline's in the same round, >1 is faster than the baseline\n\n")

	stepStat := func(d dataset, op, p string, f func(*ferryStep) float64) stat {
		var xs []float64
		for _, st := range b.steps {
			if st.workload == d.name && st.op == op && st.path == p {
				xs = append(xs, f(st))
			}
		}
		return stats(xs)
	}
	tw := tabwriter.NewWriter(&t, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WORKLOAD\tPATH\tMB/s\tfiles/s\tRATIO default\tRATIO plain\tSETUP s\tOPEN→END s")
	label := map[string]map[string]string{
		"backup":  {pathBase: "tar -cf - | socat → file; sync file", pathPassive: "ferry passive client (sd dials fd)", pathActive: "ferry active client (fd dials sd)"},
		"restore": {pathBase: "socat file | tar -x; sync -f dir", pathPassive: "ferry passive client (sd dials fd)", pathActive: "ferry active client (fd dials sd)"},
	}
	for _, d := range []dataset{b.large, b.small} {
		for _, op := range []string{"backup", "restore"} {
			for _, p := range []string{pathBase, pathPassive, pathActive} {
				secs := b.times[key(d, op, p)]
				mb, fs := stats(rates(secs, float64(d.bytes)/1e6)), stats(rates(secs, float64(d.files)))
				r, setup, rest := "1 (baseline)", "-", "-"
				rp := r
				if p != pathBase {
					r = ratio(d, op, p).f(2)
					rp = r
					setup = stepStat(d, op, p, func(s *ferryStep) float64 { return s.setup }).f(2)
					rest = stepStat(d, op, p, func(s *ferryStep) float64 { return s.openToEnd }).f(2)
				}
				fprec := 0
				if fs.med < 100 {
					fprec = 2
				}
				fmt.Fprintf(tw, "%s %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.name, op, label[op][p], mb.f(1), fs.f(fprec), r, rp, setup, rest)
				if p != pathBase {
					pre := d.name + "_" + op
					if d.name == "small" && op == "restore" {
						pre = "small_restore_vs_tar"
					} else {
						pre += "_ratio"
					}
					if p == pathPassive {
						j[pre+"_passive"] = round3(ratio(d, op, p).med)
					} else {
						j[pre] = round3(ratio(d, op, p).med)
						j[pre+"_plain"] = round3(ratio(d, op, p).med)
					}
				}
				name := map[string]string{pathBase: "baseline", pathPassive: "ferry_passive", pathActive: "ferry_active"}[p]
				if d.name == "large" {
					j[fmt.Sprintf("%s_%s_%s_mbps", d.name, op, name)] = round3(mb.med)
				} else {
					j[fmt.Sprintf("%s_%s_%s_files_per_s", d.name, op, name)] = round3(fs.med)
				}
			}
		}
	}
	_ = tw.Flush()
	fmt.Fprintf(&t, "SETUP = start of the ferry command → the director's log line \"data channel open\" of the job; OPEN→END = that line → \"job ended\" (both ms resolution)\n")

	pa := func(d dataset, op string) stat {
		return stats(perRound(b.times[key(d, op, pathActive)], b.times[key(d, op, pathPassive)], func(a, p float64) float64 { return a / p }))
	}
	fmt.Fprintf(&t, "\npassive ÷ active throughput (same round): large backup %s, large restore %s, small backup %s, small restore %s\n",
		pa(b.large, "backup").f(2), pa(b.large, "restore").f(2), pa(b.small, "backup").f(2), pa(b.small, "restore").f(2))
	j["passive_active_ratio"] = round3(pa(b.large, "backup").med)
	j["passive_active_ratio_small"] = round3(pa(b.small, "backup").med)

	// Job setup latency of the backups, by client and by round.
	setupMS := map[string][]float64{}
	byRound := make([][]float64, b.s.rounds)
	volAt := make([]int64, b.s.rounds)
	for _, st := range b.steps {
		if st.op != "backup" {
			continue
		}
		ms := st.setup * 1e3
		setupMS[clientOf(st.path)] = append(setupMS[clientOf(st.path)], ms)
		byRound[st.round] = append(byRound[st.round], ms)
		if volAt[st.round] == 0 || st.volume < volAt[st.round] {
			volAt[st.round] = st.volume
		}
	}
	sa, sp := stats(setupMS[activeName]), stats(setupMS[passiveName])
	fmt.Fprintf(&t, "job setup latency of the backups, ms (start of `ferry run` → the director's log line \"data channel open\"; the sd's FirstData is not exposed on the job yet, and the fd starts sending one bus request after that line): active %s, passive %s over %d backups each\n",
		sa.f(0), sp.f(0), len(setupMS[activeName]))
	var parts []string
	for r, xs := range byRound {
		parts = append(parts, fmt.Sprintf("round %d %s ms (volume folder %.1f GiB)", r+1, stats(xs).f(0), float64(volAt[r])/(1<<30)))
	}
	fmt.Fprintf(&t, "  by round, both clients: %s\n", strings.Join(parts, "; "))
	j["setup_latency_ms"] = round3(sa.med)
	j["setup_latency_ms_passive"] = round3(sp.med)
	j["setup_latency_ms_round1"] = round3(stats(byRound[0]).med)
	j["setup_latency_ms_round_last"] = round3(stats(byRound[len(byRound)-1]).med)

	for _, when := range []string{"start", "end"} {
		ea, ep := stats(b.emptyMS[activeName+"/"+when]), stats(b.emptyMS[passiveName+"/"+when])
		fmt.Fprintf(&t, "empty job end to end at the %s (volume folder %.1f GiB), ms (`ferry run JOB --wait` of an empty folder, wall time incl. the console's connect, %d runs): active %s, passive %s\n",
			when, float64(b.emptyAt[when])/(1<<30), len(b.emptyMS[activeName+"/"+when]), ea.f(0), ep.f(0))
		suffix := ""
		if when == "end" {
			suffix = "_end"
		}
		j["empty_job_ms"+suffix] = round3(ea.med)
		j["empty_job_ms"+suffix+"_passive"] = round3(ep.med)
	}
	j["volume_gib_end"] = round3(float64(b.emptyAt["end"]) / (1 << 30))

	mib := func(n string) float64 { return float64(b.peak[n]) / (1 << 20) }
	var peak float64
	for _, n := range []string{"director", "sd", "fd-" + passiveName, "fd-" + activeName} {
		peak = max(peak, mib(n))
	}
	fmt.Fprintf(&t, "peak RSS during the large backups (VmHWM, reset before each backup with clear_refs=5, max over rounds), MiB: director %.1f (embedded NATS included), sd %.1f, fd passive %.1f (its own leaf NATS server included), fd active %.1f\n",
		mib("director"), mib("sd"), mib("fd-"+passiveName), mib("fd-"+activeName))
	j["peak_rss_mib"] = round3(peak)
	j["peak_rss_mib_director"] = round3(mib("director"))
	j["peak_rss_mib_sd"] = round3(mib("sd"))
	j["peak_rss_mib_fd_passive"] = round3(mib("fd-" + passiveName))
	j["peak_rss_mib_fd_active"] = round3(mib("fd-" + activeName))
	b.zstdReport(&t, j)
	fmt.Fprintf(&t, "headline JSON keys use the active client (passive = false is the default); *_passive keys hold the passive client's; empty_job_ms is at the start. Total bench time %s.\n",
		time.Since(b.started).Round(time.Second))

	js, _ := json.MarshalIndent(j, "", "  ")
	return report{table: t.String(), json: append(js, '\n')}
}
