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
// ArcGISTokens against one portal, against the floor no implementation can
// beat: a plain client without a client-side limit writing the same Secrets
// and statuses to the same API server, measured in the same run.
//
// For each N it starts a fresh local control plane (the envtest binaries),
// the ArcGIS simulator over HTTPS on loopback (in this process), and
// bin/manager as a child process with its default flags and the soft memory
// limit it would set itself in the container the operator ships, then:
//
//  1. floor: with no manager running, the same creates and spec changes the
//     benchmark makes below, each followed by the operator's writes from a
//     plain client;
//  2. issuance: creates N ArcGISTokens at once and waits until all are Ready;
//  3. forced wave: changes spec.expirationMinutes of all N at once and waits
//     until all are re-issued;
//  4. steady state: a window with nothing due but every token's probe
//     (validationInterval after the wave): calls, and writes for nothing;
//  5. memory: the manager before the first token, at its peak, restarted and
//     idle with N tokens, and again with unrelated Secrets in the cluster.
//
// With -soak it runs the real-time soak instead: N tokens of a few minutes
// for half an hour behind a portal that fails at random and has an outage.
//
// It prints the tables and writes them to -out between generated-section
// markers, keeping the rest of the file (the hand-written findings). The
// goals and their targets are data (goals.go).
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

	"github.com/prometheus/procfs"
	"k8s.io/apimachinery/pkg/api/resource"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"
	ctrlzap "sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/tokenoperator/arcgis-token-operator/internal/policies"
	"github.com/tokenoperator/arcgis-token-operator/internal/testenv"
)

const defaultValidationInterval = policies.DefaultValidationInterval

type options struct {
	ns                 []int
	out                string
	unrelated          int
	unrelatedNS        string
	steady             bool
	probeSlack         time.Duration
	profile            bool
	profileDir         string
	lifetime           int
	forcedLifetime     int
	accounts           int
	createWorkers      int
	validationInterval time.Duration
	managerBin         string
	managerArgs        []string
	extraEnv           []string
	memoryLimit        string
	sampleEvery        time.Duration
	waveLatency        time.Duration
	keep               bool
	lastApplied        bool

	soak         bool
	soakN        int
	soakDuration time.Duration
	soakLifetime int
	soakFailRate float64
	soakOutage   time.Duration
	soakOutageAt time.Duration
	seed         uint64

	// Derived from the manager's own defaults and the shipped Deployment.
	defaults       map[string]string
	workers        int
	containerLimit resource.Quantity
	limitRatio     float64
	softLimit      int64 // GOMEMLIMIT in bytes; 0: none
}

func main() {
	o := &options{}
	var ns string
	// A flag set of its own: controller-runtime registers --kubeconfig on the
	// global one, and the benchmark starts its own control planes.
	fs := flag.NewFlagSet("bench", flag.ExitOnError)
	fs.StringVar(&ns, "n", "1000,10000", "Comma-separated numbers of ArcGISTokens; each gets a fresh control plane.")
	fs.StringVar(&o.out, "out", "BENCHMARKS.md", "Markdown file to write the results into (between generated-section markers); empty: print only.")
	fs.IntVar(&o.unrelated, "unrelated-secrets", 10000, "Unrelated Secrets to add for the memory comparison; 0 skips it.")
	fs.StringVar(&o.unrelatedNS, "unrelated-namespace", "unrelated", "Namespace of the unrelated Secrets; "+benchNS+" puts them next to the ArcGISTokens.")
	fs.BoolVar(&o.steady, "steady", true, "Measure the steady state with probes on (a window of about validationInterval); -steady=false skips it.")
	fs.DurationVar(&o.probeSlack, "probe-slack", 30*time.Second, "How long the steady-state window lasts after the last probe due in it.")
	fs.BoolVar(&o.profile, "profile", false, "Take CPU and heap profiles of the manager (summaries go into -out).")
	fs.StringVar(&o.profileDir, "profile-dir", filepath.Join(testenv.RepoRoot(), "bin", "bench-profiles"), "Where profiles are saved.")
	fs.IntVar(&o.lifetime, "lifetime", 60, "Lifetime in minutes the ArcGISTokens ask for at issuance.")
	fs.IntVar(&o.forcedLifetime, "forced-lifetime", 90, "Lifetime in minutes the forced wave switches every ArcGISToken to.")
	fs.IntVar(&o.accounts, "accounts", 4, "Service accounts of the one portal the ArcGISTokens are spread over.")
	fs.IntVar(&o.createWorkers, "create-workers", 32, "Concurrent requests of the benchmark's own creates and patches (no client-side limit).")
	fs.DurationVar(&o.validationInterval, "validation-interval", defaultValidationInterval, "spec.validationInterval of the ArcGISTokens (the default leaves it unset).")
	fs.StringVar(&o.managerBin, "manager", filepath.Join(testenv.RepoRoot(), "bin", "manager"), "The manager binary (make build).")
	fs.Func("manager-arg", "A flag for the manager beyond its defaults, e.g. --kube-api-qps=50 (repeatable).", func(v string) error {
		o.managerArgs = append(o.managerArgs, v)
		return nil
	})
	fs.Func("manager-env", "An environment variable for the manager, NAME=value (repeatable); GOMEMLIMIT here replaces the deployed soft limit.", func(v string) error {
		if k, _, ok := strings.Cut(v, "="); !ok || k == "" {
			return fmt.Errorf("want NAME=value, got %q", v)
		}
		o.extraEnv = append(o.extraEnv, v)
		return nil
	})
	fs.StringVar(&o.memoryLimit, "container-memory-limit", "", "The container memory limit the manager's soft limit is computed from (× its --memory-limit-ratio); empty: the one in config/manager/manager.yaml; none: no soft limit.")
	fs.DurationVar(&o.sampleEvery, "sample-every", 10*time.Second, "How often the manager's heap is sampled from its /metrics.")
	fs.DurationVar(&o.waveLatency, "wave-latency", 0, "How long the simulated portal takes per generateToken during the forced wave; 0: at once, as elsewhere.")
	fs.BoolVar(&o.lastApplied, "last-applied", true, "Create the ArcGISTokens as kubectl apply does, with its last-applied-configuration annotation.")
	fs.BoolVar(&o.keep, "keep", false, "Keep each N's temporary folder (kubeconfig, manager logs).")
	fs.BoolVar(&o.soak, "soak", false, "Run the real-time soak instead (about -soak-duration plus a minute).")
	fs.IntVar(&o.soakN, "soak-n", 1000, "ArcGISTokens in the soak.")
	fs.DurationVar(&o.soakDuration, "soak-duration", 30*time.Minute, "How long the soak runs, from the first create.")
	fs.IntVar(&o.soakLifetime, "soak-lifetime", 2, "Lifetime in minutes of the soak's tokens.")
	fs.Float64Var(&o.soakFailRate, "soak-fail-rate", 0.1, "Share of requests the flaky front answers 503 at random.")
	fs.DurationVar(&o.soakOutage, "soak-outage", 2*time.Minute, "How long the portal is down (every request 503).")
	fs.DurationVar(&o.soakOutageAt, "soak-outage-at", 10*time.Minute, "When the outage starts, from the first create.")
	fs.Uint64Var(&o.seed, "seed", 1, "Seed of the flaky front's random failures.")
	_ = fs.Parse(os.Args[1:]) // ExitOnError: never fails
	for _, s := range strings.Split(ns, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(strings.ReplaceAll(s, "_", "")))
		if err != nil || n < 1 {
			fail(2, "bad -n value %q", s)
		}
		o.ns = append(o.ns, n)
	}
	if o.accounts < 1 || o.createWorkers < 1 {
		fail(2, "-accounts and -create-workers must be at least 1")
	}
	if err := o.derive(); err != nil {
		fail(1, "%v", err)
	}

	// The benchmark's own informers and clients: their errors come back as
	// errors; their logs (watch restarts) would only clutter the output.
	ctrllog.SetLogger(ctrlzap.New(ctrlzap.WriteTo(io.Discard)))

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()

	run := &runInfo{
		command:   "go run ./hack/bench",
		started:   time.Now(),
		machine:   machineInfo(),
		loadStart: loadAvg(),
		opts:      o,
	}
	if len(os.Args) > 1 {
		run.command += " " + strings.Join(os.Args[1:], " ")
	}
	fmt.Printf("==> %s\n    %s; load average %s\n    manager: %s; %s\n", run.command, run.machine, run.loadStart, o.effectiveFlags(), o.memoryNote())
	failed := false
	section, report := mainSection, ""
	if o.soak {
		fmt.Printf("\n==> soak, N = %d\n", o.soakN)
		run.soak = runSoak(ctx, o, run)
		failed = run.soak.err != ""
		run.loadEnd, run.finished = loadAvg(), time.Now()
		section, report = soakSection, run.soakMarkdown()
	} else {
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
		run.loadEnd, run.finished = loadAvg(), time.Now()
		report = run.markdown()
	}
	fmt.Println()
	fmt.Println(report)
	if o.out != "" {
		if err := writeReport(o.out, section, report); err != nil {
			fail(1, "%v", err)
		}
		fmt.Println("Wrote", o.out)
	}
	if failed || ctx.Err() != nil {
		os.Exit(1)
	}
}

func fail(code int, format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
	os.Exit(code)
}

// derive reads what the manager runs with: its default flags (from its own
// -h), the workers the floor must match, and the soft memory limit it would
// set itself in the shipped container.
func (o *options) derive() error {
	defaults, err := managerDefaults(o.managerBin)
	if err != nil {
		return fmt.Errorf("%w (run `make build`; make bench does)", err)
	}
	return o.deriveFrom(defaults, filepath.Join(testenv.RepoRoot(), "config", "manager", "manager.yaml"))
}

// deriveFrom does derive's work from the manager's flag defaults and the
// manifest of its Deployment.
func (o *options) deriveFrom(defaults map[string]string, manifest string) error {
	var err error
	o.defaults = defaults
	if o.workers, err = strconv.Atoi(o.flag("max-concurrent-reconciles")); err != nil || o.workers < 1 {
		return fmt.Errorf("the manager's --max-concurrent-reconciles is %q", o.flag("max-concurrent-reconciles"))
	}
	if o.hasEnv("GOMEMLIMIT") || o.memoryLimit == "none" {
		return nil
	}
	if o.memoryLimit == "" {
		o.containerLimit, err = containerMemoryLimit(manifest)
	} else {
		o.containerLimit, err = resource.ParseQuantity(o.memoryLimit)
	}
	if err != nil {
		return err
	}
	// As internal/memlimit does: ratio × the limit, when the ratio is in
	// (0, 1]. Managers from before --memory-limit-ratio have none.
	if o.limitRatio, err = strconv.ParseFloat(o.flag("memory-limit-ratio"), 64); err != nil || o.limitRatio <= 0 || o.limitRatio > 1 {
		o.limitRatio = 0
		return nil
	}
	o.softLimit = int64(float64(o.containerLimit.Value()) * o.limitRatio)
	return nil
}

func (o *options) flag(name string) string { return flagValue(o.defaults, o.managerArgs, name) }

func (o *options) hasEnv(name string) bool {
	for _, e := range o.extraEnv {
		if strings.HasPrefix(e, name+"=") {
			return true
		}
	}
	return false
}

// managerEnv is the manager's environment beyond the benchmark's own.
func (o *options) managerEnv() []string {
	env := append([]string(nil), o.extraEnv...)
	if o.softLimit > 0 {
		env = append(env, fmt.Sprintf("GOMEMLIMIT=%d", o.softLimit))
	}
	return env
}

// effectiveFlags lists the manager's flags that set its pace.
func (o *options) effectiveFlags() string {
	var parts []string
	for _, name := range []string{"max-concurrent-reconciles", "arcgis-max-concurrent-per-host", "kube-api-qps", "kube-api-burst", "memory-limit-ratio"} {
		if _, ok := o.defaults[name]; !ok {
			continue
		}
		v := o.flag(name)
		if v == "" {
			v = "0"
		}
		parts = append(parts, "--"+name+" "+v)
	}
	return "`" + strings.Join(parts, " ") + "`"
}

// memoryNote says which soft memory limit the manager runs with, and why.
func (o *options) memoryNote() string {
	switch {
	case o.hasEnv("GOMEMLIMIT"):
		return "the soft memory limit from -manager-env"
	case o.softLimit > 0:
		return fmt.Sprintf("`GOMEMLIMIT=%d` (%s), the soft limit the manager sets itself in the container the operator ships: memory limit %s (config/manager/manager.yaml) × `--memory-limit-ratio` %g; here it runs as a plain process, without the hard limit",
			o.softLimit, mib(float64(o.softLimit)), o.containerLimit.String(), o.limitRatio)
	default:
		return "no soft memory limit"
	}
}

func (o *options) applyNote() string {
	if o.lastApplied {
		return "created as `kubectl apply` creates them (with its last-applied-configuration annotation, the object as JSON)"
	}
	return "created without a last-applied-configuration annotation"
}

// machineInfo describes the machine: CPUs, memory, CPU model, Go.
func machineInfo() string {
	mem, model := "unknown memory", ""
	if fs, err := procfs.NewDefaultFS(); err == nil {
		if mi, err := fs.Meminfo(); err == nil && mi.MemTotalBytes != nil {
			mem = fmt.Sprintf("%.1f GiB memory", float64(*mi.MemTotalBytes)/(1<<30))
		}
		if ci, err := fs.CPUInfo(); err == nil && len(ci) > 0 {
			model = " (" + ci[0].ModelName + ")"
		}
	}
	return fmt.Sprintf("%d CPUs%s, %s, %s %s/%s", runtime.NumCPU(), model, mem, runtime.Version(), runtime.GOOS, runtime.GOARCH)
}
