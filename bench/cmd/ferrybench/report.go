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

// pathInfo: how a Ferry path shows in the table and in JSON keys.
var pathInfo = map[string]struct{ security, suffix, rate string }{
	pathBase:         {"-", "", "baseline"},
	pathPassive:      {"tls (default)", "_passive", "ferry_passive"},
	pathActive:       {"tls (default)", "", "ferry_active"},
	pathPassivePlain: {"plain (insecure)", "_plain_passive", "ferry_passive_plain"},
	pathActivePlain:  {"plain (insecure)", "_plain", "ferry_active_plain"},
}

func (b *bench) report() report {
	var t strings.Builder
	j := map[string]any{"scale": b.s.scale, "rounds": b.s.rounds}
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

	// What the data sockets really ran, from the sd's log.
	tlsSeen, tlsN, tlsPlainN, errT := b.tls.dataSocketTLS()
	_, plainTLSN, plainN, errP := b.plain.dataSocketTLS()
	tlsDesc := strings.Join(tlsSeen, ", ")
	switch {
	case errT != nil:
		tlsDesc = "unknown (" + errT.Error() + ")"
	case tlsDesc == "":
		tlsDesc = "none"
	}
	plainDesc := "none"
	if errP != nil {
		plainDesc = "unknown (" + errP.Error() + ")"
	} else if plainTLSN > 0 {
		plainDesc = fmt.Sprintf("TLS on %d sockets (not expected)", plainTLSN)
	}
	fmt.Fprintf(&t, "security: two clusters side by side, same datasets, same disk, same rounds. tls = Ferry's default: every agent and the console sign in with their own key (named in the director's file), TLS on every bus link (a CA made by the bench), TLS on the data socket pinned to the identities; plain = insecure = true on every daemon, FERRY_INSECURE=1 for the console\n")
	fmt.Fprintf(&t, "data socket, from the sd's log line \"data socket up\" (the connection's state): tls cluster %s on %d sockets (%d without TLS); plain cluster %s (%d sockets without TLS)\n",
		tlsDesc, tlsN, tlsPlainN, plainDesc, plainN)
	if errT == nil && len(tlsSeen) > 0 {
		j["tls"] = strings.Join(tlsSeen, ", ")
	} else {
		j["tls"] = false
	}
	j["tls_plain"] = false
	if plainTLSN > 0 {
		j["tls_plain"] = plainDesc
	}
	var probes []string
	for _, x := range b.diskMBs {
		probes = append(probes, fmt.Sprintf("%.0f", x))
	}
	fmt.Fprintf(&t, "disk: 256 MiB write + fdatasync before each round: %s MB/s (the disk's speed drifts: compare within a round)\n", strings.Join(probes, ", "))
	j["disk_probe_mbps"] = round3(stats(b.diskMBs).med)
	fmt.Fprintf(&t, "baseline: GNU tar and socat defaults (10 KiB tar records, 8 KiB socat buffer), socat -u (one direction) on both ends\n")
	fmt.Fprintf(&t, "figures: median (min–max) over rounds; RATIO = that row's MB/s (= files/s) ÷ the baseline row's in the same round, >1 is faster than the baseline\n\n")

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
	fmt.Fprintln(tw, "WORKLOAD\tPATH\tSECURITY\tMB/s\tfiles/s\tRATIO to baseline\tSETUP s\tOPEN→END s")
	label := map[string]map[string]string{
		"backup":  {pathBase: "tar -cf - | socat → file; sync file"},
		"restore": {pathBase: "socat file | tar -x; sync -f dir"},
	}
	for _, op := range []string{"backup", "restore"} {
		label[op][pathPassive] = "ferry passive client (sd dials fd)"
		label[op][pathPassivePlain] = label[op][pathPassive]
		label[op][pathActive] = "ferry active client (fd dials sd)"
		label[op][pathActivePlain] = label[op][pathActive]
	}
	for _, d := range []dataset{b.large, b.small} {
		for _, op := range []string{"backup", "restore"} {
			for _, p := range append([]string{pathBase}, ferryPaths...) {
				secs := b.times[key(d, op, p)]
				mb, fs := stats(rates(secs, float64(d.bytes)/1e6)), stats(rates(secs, float64(d.files)))
				r, setup, rest := "1 (baseline)", "-", "-"
				if p != pathBase {
					r = ratio(d, op, p).f(2)
					setup = stepStat(d, op, p, func(s *ferryStep) float64 { return s.setup }).f(2)
					rest = stepStat(d, op, p, func(s *ferryStep) float64 { return s.openToEnd }).f(2)
				}
				fprec := 0
				if fs.med < 100 {
					fprec = 2
				}
				fmt.Fprintf(tw, "%s %s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", d.name, op, label[op][p], pathInfo[p].security, mb.f(1), fs.f(fprec), r, setup, rest)
				if p != pathBase {
					pre := d.name + "_" + op + "_ratio"
					if d.name == "small" && op == "restore" {
						pre = "small_restore_vs_tar"
					}
					j[pre+pathInfo[p].suffix] = round3(ratio(d, op, p).med)
				}
				if d.name == "large" {
					j[fmt.Sprintf("%s_%s_%s_mbps", d.name, op, pathInfo[p].rate)] = round3(mb.med)
				} else {
					j[fmt.Sprintf("%s_%s_%s_files_per_s", d.name, op, pathInfo[p].rate)] = round3(fs.med)
				}
			}
		}
	}
	_ = tw.Flush()
	fmt.Fprintf(&t, "SETUP = start of the ferry command → the job's first data frame as the sd timestamped it (on the job's record); OPEN→END = the director's log line \"data channel open\" → \"job ended\" (ms resolution)\n")

	// x ÷ y throughput in the same round = y's time ÷ x's time.
	overRounds := func(d dataset, op, x, y string) []float64 {
		return perRound(b.times[key(d, op, y)], b.times[key(d, op, x)], func(ty, tx float64) float64 { return ty / tx })
	}
	over := func(d dataset, op, x, y string) stat { return stats(overRounds(d, op, x, y)) }
	fmt.Fprintf(&t, "\npassive ÷ active throughput (same round): tls: large backup %s, large restore %s, small backup %s, small restore %s; plain: large backup %s, large restore %s, small backup %s, small restore %s\n",
		over(b.large, "backup", pathPassive, pathActive).f(2), over(b.large, "restore", pathPassive, pathActive).f(2),
		over(b.small, "backup", pathPassive, pathActive).f(2), over(b.small, "restore", pathPassive, pathActive).f(2),
		over(b.large, "backup", pathPassivePlain, pathActivePlain).f(2), over(b.large, "restore", pathPassivePlain, pathActivePlain).f(2),
		over(b.small, "backup", pathPassivePlain, pathActivePlain).f(2), over(b.small, "restore", pathPassivePlain, pathActivePlain).f(2))
	// The headline passive ÷ active figure pools the same-round ratios of
	// all four workloads: whether the sd or the fd dials is a property of
	// the job path, and one disk-bound workload over a few rounds is
	// mostly the disk's drift.
	pooled := func(passive, active string) stat {
		var xs []float64
		for _, d := range []dataset{b.large, b.small} {
			for _, op := range []string{"backup", "restore"} {
				xs = append(xs, overRounds(d, op, passive, active)...)
			}
		}
		return stats(xs)
	}
	fmt.Fprintf(&t, "passive ÷ active throughput pooled over the four workloads' same-round ratios: tls %s, plain %s\n",
		pooled(pathPassive, pathActive).f(2), pooled(pathPassivePlain, pathActivePlain).f(2))
	j["passive_active_ratio"] = round3(pooled(pathPassive, pathActive).med)
	j["passive_active_ratio_plain"] = round3(pooled(pathPassivePlain, pathActivePlain).med)
	for _, d := range []dataset{b.large, b.small} {
		for _, op := range []string{"backup", "restore"} {
			j[fmt.Sprintf("passive_active_ratio_%s_%s", d.name, op)] = round3(over(d, op, pathPassive, pathActive).med)
			j[fmt.Sprintf("passive_active_ratio_%s_%s_plain", d.name, op)] = round3(over(d, op, pathPassivePlain, pathActivePlain).med)
		}
	}
	fmt.Fprintf(&t, "tls ÷ plain throughput (same round; below 1 is what the default security costs): active: large backup %s, large restore %s, small backup %s, small restore %s; passive: large backup %s, large restore %s, small backup %s, small restore %s\n",
		over(b.large, "backup", pathActive, pathActivePlain).f(2), over(b.large, "restore", pathActive, pathActivePlain).f(2),
		over(b.small, "backup", pathActive, pathActivePlain).f(2), over(b.small, "restore", pathActive, pathActivePlain).f(2),
		over(b.large, "backup", pathPassive, pathPassivePlain).f(2), over(b.large, "restore", pathPassive, pathPassivePlain).f(2),
		over(b.small, "backup", pathPassive, pathPassivePlain).f(2), over(b.small, "restore", pathPassive, pathPassivePlain).f(2))
	for _, d := range []dataset{b.large, b.small} {
		for _, op := range []string{"backup", "restore"} {
			j[fmt.Sprintf("tls_vs_plain_%s_%s", d.name, op)] = round3(over(d, op, pathActive, pathActivePlain).med)
		}
	}

	// Job setup latency of the backups, by cluster, client and round.
	for _, c := range b.clusters() {
		setupMS := map[string][]float64{}
		byRound := make([][]float64, b.s.rounds)
		volAt := make([]int64, b.s.rounds)
		for _, st := range b.steps {
			if st.op != "backup" || st.cluster != c.name {
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
		fmt.Fprintf(&t, "job setup latency of the backups on the %s cluster, ms (start of `ferry run` → the first data frame, as the sd timestamped it; the director puts that time on the job's record): active %s, passive %s over %d backups each\n",
			c.name, sa.f(0), sp.f(0), len(setupMS[activeName]))
		var parts []string
		for r, xs := range byRound {
			parts = append(parts, fmt.Sprintf("round %d %s ms (volume folder %.1f GiB)", r+1, stats(xs).f(0), float64(volAt[r])/(1<<30)))
		}
		fmt.Fprintf(&t, "  by round, both clients: %s\n", strings.Join(parts, "; "))
		sfx := ""
		if !c.secure {
			sfx = "_plain"
		}
		j["setup_latency_ms"+sfx] = round3(sa.med)
		j["setup_latency_ms_passive"+sfx] = round3(sp.med)
		if c.secure {
			j["setup_latency_ms_round1"] = round3(stats(byRound[0]).med)
			j["setup_latency_ms_round_last"] = round3(stats(byRound[len(byRound)-1]).med)
		}
	}

	for _, c := range b.clusters() {
		for _, when := range []string{"start", "end"} {
			ea, ep := stats(b.emptyMS[c.name+"/"+activeName+"/"+when]), stats(b.emptyMS[c.name+"/"+passiveName+"/"+when])
			fmt.Fprintf(&t, "empty job end to end on the %s cluster at the %s (volume folder %.1f GiB), ms (`ferry run JOB --wait` of an empty folder, wall time incl. the console's connect, %d runs): active %s, passive %s\n",
				c.name, when, float64(b.emptyAt[c.name+"/"+when])/(1<<30), len(b.emptyMS[c.name+"/"+activeName+"/"+when]), ea.f(0), ep.f(0))
			suffix := ""
			if when == "end" {
				suffix = "_end"
			}
			if !c.secure {
				suffix += "_plain"
			}
			j["empty_job_ms"+suffix] = round3(ea.med)
			j["empty_job_ms"+suffix+"_passive"] = round3(ep.med)
		}
	}
	j["volume_gib_end"] = round3(float64(b.emptyAt[clusterTLS+"/end"]) / (1 << 30))

	for _, c := range b.clusters() {
		mib := func(n string) float64 { return float64(b.peak[c.name+"/"+n]) / (1 << 20) }
		var peak float64
		for _, n := range []string{"director", "sd", "fd-" + passiveName, "fd-" + activeName} {
			peak = max(peak, mib(n))
		}
		fmt.Fprintf(&t, "peak RSS on the %s cluster during the large backups (VmHWM, reset before each backup with clear_refs=5, max over rounds), MiB: director %.1f (embedded NATS included), sd %.1f, fd passive %.1f (its own leaf NATS server included), fd active %.1f\n",
			c.name, mib("director"), mib("sd"), mib("fd-"+passiveName), mib("fd-"+activeName))
		if c.secure {
			j["peak_rss_mib"] = round3(peak)
			j["peak_rss_mib_director"] = round3(mib("director"))
			j["peak_rss_mib_sd"] = round3(mib("sd"))
			j["peak_rss_mib_fd_passive"] = round3(mib("fd-" + passiveName))
			j["peak_rss_mib_fd_active"] = round3(mib("fd-" + activeName))
		} else {
			j["peak_rss_mib_plain"] = round3(peak)
		}
	}
	b.zstdReport(&t, j)
	fmt.Fprintf(&t, "headline JSON keys are the tls cluster (Ferry's default security) and the active client (passive = false is the default); *_passive keys hold the passive client's, *_plain keys the plain cluster's; empty_job_ms is at the start. Total bench time %s.\n",
		time.Since(b.started).Round(time.Second))

	js, _ := json.MarshalIndent(j, "", "  ")
	return report{table: t.String(), json: append(js, '\n')}
}
