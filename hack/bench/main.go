/*
Copyright 2026 The arcgis-token-operator Authors.

Licensed under the Apache License, Version 2.0 (the "License");
you may not use this file except in compliance with the License.
You may obtain a copy of the License at

    http://www.apache.org/licenses/LICENSE-2.0

Unless required by applicable law or agreed to in writing, software
distributed under the License is distributed on an "AS IS" BASIS,
WITHOUT WARRANTIES OR CONDITIONS OF ANY KIND, either express or implied.
See the License for the specific language governing permissions and
limitations under the License.
*/

// Command bench measures how the operator scales with the number of
// ArcGISTokens against one portal, and compares it with the floor no
// implementation can beat: a plain client writing the same Secrets and status
// updates to the same API server.
//
// For each N it starts a fresh local control plane (the envtest binaries),
// the ArcGIS simulator over HTTPS on loopback (in this process), and
// bin/manager as a child process, then:
//
//  1. floor: with no manager running, a controller-runtime client creates N
//     Secrets and patches N statuses (on N ArcGISTokens created beforehand),
//     once with the manager's rate limits and workers, once without rate
//     limits (the API server's own write limit); then deletes all of it;
//  2. issuance: creates N ArcGISTokens at once and waits until all are Ready;
//  3. steady state: counts API writes and generateToken calls over -steady
//     while nothing is due (in the gap before the first renewal when it is
//     long enough, else after the forced wave);
//  4. natural wave: waits until every token was renewed at its renewal time
//     (2/3 of the granted lifetime minus the per-object jitter);
//  5. forced wave: changes spec.expirationMinutes of all N at once, so all
//     are due at the same moment, and waits until all are re-issued; the
//     simulated portal takes -wave-latency per token meanwhile (elsewhere it
//     answers at once, so that the floor comparison measures the operator);
//  6. memory: restarts the manager (idle, N tokens), adds -unrelated-secrets
//     Secrets the operator has nothing to do with, restarts it again, and
//     compares resident memory and heap.
//
// It prints the tables and writes them to -out between generated-section
// markers, keeping the rest of the file (the hand-written findings).
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	ctrlzap "sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/tokenoperator/arcgis-token-operator/internal/testenv"
)

type options struct {
	ns                 []int
	out                string
	unrelated          int
	unrelatedNS        string
	steady             time.Duration
	profile            bool
	profileDir         string
	lifetime           int
	forcedLifetime     int
	accounts           int
	workers            int
	perHost            int
	qps                float64
	burst              int
	createWorkers      int
	validationInterval time.Duration
	managerBin         string
	sampleEvery        time.Duration
	waveLatency        time.Duration
	managerEnv         []string
	keep               bool
}

func main() {
	o := &options{}
	var ns string
	// A flag set of its own: controller-runtime registers --kubeconfig on the
	// global one, and the benchmark starts its own control planes.
	fs := flag.NewFlagSet("bench", flag.ExitOnError)
	fs.StringVar(&ns, "n", "100,1000,5000", "Comma-separated numbers of ArcGISTokens; each gets a fresh control plane.")
	fs.StringVar(&o.out, "out", "BENCHMARKS.md", "Markdown file to write the results into (between generated-section markers); empty: print only.")
	fs.IntVar(&o.unrelated, "unrelated-secrets", 10000, "Unrelated Secrets to add for the memory comparison; 0 skips it.")
	fs.StringVar(&o.unrelatedNS, "unrelated-namespace", "unrelated", "Namespace of the unrelated Secrets; "+benchNS+" puts them next to the ArcGISTokens.")
	fs.DurationVar(&o.steady, "steady", 60*time.Second, "Length of the steady-state window (nothing due); 0 skips it.")
	fs.BoolVar(&o.profile, "profile", false, "Run the manager with pprof on loopback and take CPU and heap profiles (summaries go into -out).")
	fs.StringVar(&o.profileDir, "profile-dir", filepath.Join(testenv.RepoRoot(), "bin", "bench-profiles"), "Where profiles are saved.")
	fs.IntVar(&o.lifetime, "lifetime", 0, "Lifetime in minutes the ArcGISTokens ask for, which sets when the natural wave comes (2/3 of it); 0: chosen per N from the floor so that issuance is over before the wave (at least 3).")
	fs.IntVar(&o.forcedLifetime, "forced-lifetime", 60, "Lifetime in minutes the forced wave switches every ArcGISToken to (nothing is due for 2/3 of it afterwards).")
	fs.IntVar(&o.accounts, "accounts", 4, "Service accounts of the one portal the ArcGISTokens are spread over (the operator runs at most 4 logins at once per account).")
	fs.IntVar(&o.workers, "max-concurrent-reconciles", 8, "The manager's --max-concurrent-reconciles, and the floor's workers.")
	fs.IntVar(&o.perHost, "arcgis-max-concurrent-per-host", 8, "The manager's --arcgis-max-concurrent-per-host.")
	fs.Float64Var(&o.qps, "kube-api-qps", 50, "The manager's --kube-api-qps, and the equal-settings floor's; negative: no client-side limit.")
	fs.IntVar(&o.burst, "kube-api-burst", 100, "The manager's --kube-api-burst, and the equal-settings floor's.")
	fs.IntVar(&o.createWorkers, "create-workers", 32, "Concurrent requests of the benchmark's own creates and patches (not rate-limited).")
	fs.DurationVar(&o.validationInterval, "validation-interval", time.Hour, "spec.validationInterval of the ArcGISTokens; long, so that no probe falls in the steady-state window.")
	fs.StringVar(&o.managerBin, "manager", filepath.Join(testenv.RepoRoot(), "bin", "manager"), "The manager binary (make build).")
	fs.DurationVar(&o.sampleEvery, "sample-every", 5*time.Second, "How often the manager's heap is sampled from its /metrics.")
	fs.DurationVar(&o.waveLatency, "wave-latency", 100*time.Millisecond, "How long the simulated portal takes per generateToken during the forced wave, so that requests overlap and the per-host limit is put to the test; 0: instant, as in the other phases.")
	fs.Func("manager-env", "An environment variable for the manager, NAME=value, e.g. GOMEMLIMIT=100MiB (repeatable).", func(v string) error {
		if k, _, ok := strings.Cut(v, "="); !ok || k == "" {
			return fmt.Errorf("want NAME=value, got %q", v)
		}
		o.managerEnv = append(o.managerEnv, v)
		return nil
	})
	fs.BoolVar(&o.keep, "keep", false, "Keep each N's temporary folder (kubeconfig, manager logs).")
	_ = fs.Parse(os.Args[1:]) // ExitOnError: never fails
	for _, s := range strings.Split(ns, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(strings.ReplaceAll(s, "_", "")))
		if err != nil || n < 1 {
			fmt.Fprintf(os.Stderr, "bench: bad -n value %q\n", s)
			os.Exit(2)
		}
		o.ns = append(o.ns, n)
	}
	if o.accounts < 1 || o.workers < 1 || o.createWorkers < 1 {
		fmt.Fprintln(os.Stderr, "bench: -accounts, -max-concurrent-reconciles and -create-workers must be at least 1")
		os.Exit(2)
	}

	// The benchmark's own informer and clients: their errors come back as
	// errors; their logs (watch restarts) would only clutter the output.
	ctrllog.SetLogger(ctrlzap.New(ctrlzap.WriteTo(io.Discard)))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	run := &runInfo{
		command:   "go run ./hack/bench " + strings.Join(os.Args[1:], " "),
		started:   time.Now(),
		machine:   machineInfo(),
		loadStart: loadAvg(),
		opts:      o,
	}
	if len(os.Args) == 1 {
		run.command = "go run ./hack/bench"
	}
	fmt.Printf("==> %s\n    %s; load average %s\n", run.command, run.machine, run.loadStart)
	failed := false
	for _, n := range o.ns {
		if ctx.Err() != nil {
			break
		}
		fmt.Printf("\n==> N = %d\n", n)
		res := runN(ctx, o, n, run)
		run.results = append(run.results, res)
		if res.err != "" {
			failed = true
			fmt.Printf("    N=%d failed: %s\n", n, res.err)
		}
		fmt.Printf("    N=%d done in %s\n", n, res.wall.Round(time.Second))
	}
	run.loadEnd = loadAvg()
	run.finished = time.Now()

	report := run.markdown()
	fmt.Println()
	fmt.Println(report)
	if o.out != "" {
		if err := writeReport(o.out, report); err != nil {
			fmt.Fprintln(os.Stderr, "bench:", err)
			os.Exit(1)
		}
		fmt.Println("Wrote", o.out)
	}
	if failed || ctx.Err() != nil {
		os.Exit(1)
	}
}

// machineInfo describes the machine: CPUs, memory, CPU model, Go.
func machineInfo() string {
	mem := "unknown memory"
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "MemTotal:" {
				if kb, err := strconv.ParseFloat(f[1], 64); err == nil {
					mem = fmt.Sprintf("%.1f GiB memory", kb/(1<<20))
				}
			}
		}
	}
	model := ""
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = " (" + strings.TrimSpace(v) + ")"
				break
			}
		}
	}
	return fmt.Sprintf("%d CPUs%s, %s, %s %s/%s", runtime.NumCPU(), model, mem, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
