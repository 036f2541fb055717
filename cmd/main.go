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

// Command manager runs the arcgis-token-operator controller manager.
package main

import (
	"crypto/tls"
	"flag"
	"math"
	"os"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	_ "k8s.io/client-go/plugin/pkg/client/auth"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
	"github.com/tokenoperator/arcgis-token-operator/controllers"
	"github.com/tokenoperator/arcgis-token-operator/internal/accountguard"
	"github.com/tokenoperator/arcgis-token-operator/internal/arcgis"
	"github.com/tokenoperator/arcgis-token-operator/internal/memlimit"
	"github.com/tokenoperator/arcgis-token-operator/internal/metrics"
	"github.com/tokenoperator/arcgis-token-operator/internal/metricsauth"
	"github.com/tokenoperator/arcgis-token-operator/internal/version"
)

var (
	scheme   = runtime.NewScheme()
	setupLog = ctrl.Log.WithName("setup")
)

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(arcgisv1alpha1.AddToScheme(scheme))
}

func main() {
	var (
		metricsAddr          string
		probeAddr            string
		pprofAddr            string
		secureMetrics        bool
		enableHTTP2          bool
		enableLeaderElection bool
		leaderElectionID     string
		leaderElectionNS     string
		watchNamespaces      string
		maxConcurrent        int
		perHostLimit         int
		arcgisTimeout        time.Duration
		kubeQPS              float64
		kubeBurst            int
		restartDebounce      time.Duration
		memoryLimitRatio     float64
	)
	flag.StringVar(&metricsAddr, "metrics-bind-address", "0",
		"The address the metrics endpoint binds to, e.g. :8443 (HTTPS) or :8080 (HTTP); 0 disables it.")
	flag.StringVar(&probeAddr, "health-probe-bind-address", ":8081", "The address the health and readiness probes bind to.")
	flag.StringVar(&pprofAddr, "pprof-bind-address", "", "The address pprof binds to, e.g. 127.0.0.1:6060; empty disables it.")
	flag.BoolVar(&secureMetrics, "metrics-secure", true,
		"Serve metrics over HTTPS, with authentication and authorization by the API server.")
	flag.BoolVar(&enableHTTP2, "enable-http2", false,
		"Serve metrics over HTTP/2 too. Off by default (HTTP/2 Stream Cancellation and Rapid Reset CVEs).")
	flag.BoolVar(&enableLeaderElection, "leader-elect", false,
		"Elect a leader so that only one of several replicas reconciles.")
	flag.StringVar(&leaderElectionID, "leader-election-id", "arcgis-token-operator.tokenoperator.dev",
		"The name of the Lease used for leader election.")
	flag.StringVar(&leaderElectionNS, "leader-election-namespace", "",
		"The namespace of the leader election Lease; defaults to the manager's own namespace.")
	flag.StringVar(&watchNamespaces, "watch-namespaces", "",
		"Comma-separated namespaces to watch; empty watches all. Limits the RBAC the operator needs to those namespaces.")
	flag.IntVar(&maxConcurrent, "max-concurrent-reconciles", 8, "How many ArcGISTokens are reconciled at once.")
	flag.IntVar(&perHostLimit, "arcgis-max-concurrent-per-host", 8,
		"How many requests may be in flight to one ArcGIS host at once; the rest wait.")
	flag.DurationVar(&arcgisTimeout, "arcgis-timeout", 30*time.Second, "Timeout of each request to ArcGIS.")
	flag.Float64Var(&kubeQPS, "kube-api-qps", 0,
		"A client-side cap on queries per second to the Kubernetes API server; 0 or negative: no cap, the API server's priority and fairness sets the pace (its 429s are retried after their Retry-After).")
	flag.IntVar(&kubeBurst, "kube-api-burst", 0,
		"Burst above --kube-api-qps; 0 or negative: twice --kube-api-qps. Unused without a cap.")
	flag.DurationVar(&restartDebounce, "rollout-restart-debounce", controllers.DefaultRestartDebounce,
		"How long a rollout restart waits for other tokens of the same workload to rotate, so that they cost one restart.")
	flag.Float64Var(&memoryLimitRatio, "memory-limit-ratio", 0.9,
		"Give the Go runtime a soft memory limit of this fraction of the container's memory limit (0 turns it off; GOMEMLIMIT wins).")
	opts := zap.Options{Development: false}
	opts.BindFlags(flag.CommandLine)
	flag.Parse()

	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&opts)))
	setupLog.Info("Starting arcgis-token-operator", "version", version.Version, "watchNamespaces", watchNamespaces)
	if soft := memlimit.Apply("/sys/fs/cgroup", memoryLimitRatio); soft > 0 {
		setupLog.Info("Set a soft memory limit from the container's", "bytes", soft)
	}

	var tlsOpts []func(*tls.Config)
	if !enableHTTP2 {
		tlsOpts = append(tlsOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	metricsOpts := metricsserver.Options{
		BindAddress:   metricsAddr,
		SecureServing: secureMetrics,
		TLSOpts:       tlsOpts,
	}
	if secureMetrics {
		metricsOpts.FilterProvider = metricsauth.WithAuthenticationAndAuthorization
	}

	namespaces := splitList(watchNamespaces)
	restConfig := ctrl.GetConfigOrDie()
	restConfig.QPS, restConfig.Burst = apiPace(kubeQPS, kubeBurst)
	restConfig.UserAgent = "arcgis-token-operator/" + version.Version

	mgr, err := ctrl.NewManager(restConfig, ctrl.Options{
		Scheme:                  scheme,
		Cache:                   controllers.CacheOptions(namespaces),
		Metrics:                 metricsOpts,
		HealthProbeBindAddress:  probeAddr,
		PprofBindAddress:        pprofAddr,
		LeaderElection:          enableLeaderElection,
		LeaderElectionID:        leaderElectionID,
		LeaderElectionNamespace: leaderElectionNS,
		// The manager stops at once on SIGTERM; nothing it does needs a
		// graceful hand-over, and a quick release lets the next leader start.
		LeaderElectionReleaseOnCancel: true,
	})
	if err != nil {
		setupLog.Error(err, "Unable to create the manager")
		os.Exit(1)
	}

	elected := mgr.Elected()
	metrics.Register(metrics.Tokens{Reader: mgr.GetCache(), Leading: func() bool {
		select {
		case <-elected:
			return true
		default:
			return false
		}
	}})
	// How often the API server pushed back (rest_client_requests_total
	// counts every attempt by code, 429s included; this counts the retries
	// after a Retry-After) and, with a cap, how long requests waited for it.
	ctrlmetrics.RegisterRESTClientMetrics(ctrlmetrics.MetricRequestRetry, ctrlmetrics.MetricRateLimiterLatency)
	arcgis.Version = version.Version
	clk := clock.RealClock{}
	issuer := arcgis.New(arcgis.Options{
		Clock:                clk,
		Timeout:              arcgisTimeout,
		MaxConcurrentPerHost: perHostLimit,
		Observer:             metrics.ObserveRequest,
	})
	ctx := ctrl.SetupSignalHandler()
	if err := (&controllers.ArcGISTokenReconciler{
		Client:                  mgr.GetClient(),
		APIReader:               mgr.GetAPIReader(),
		Issuer:                  issuer,
		Accounts:                accountguard.New(accountguard.Options{Clock: clk}),
		Recorder:                mgr.GetEventRecorder("arcgis-token-operator"),
		Clock:                   clk,
		MaxConcurrentReconciles: maxConcurrent,
		Restarter: &controllers.Restarter{
			Client:   mgr.GetClient(),
			Recorder: mgr.GetEventRecorder("arcgis-token-operator"),
			Clock:    clk,
			Debounce: restartDebounce,
		},
	}).SetupWithManager(ctx, mgr); err != nil {
		setupLog.Error(err, "Unable to create the controller", "controller", "ArcGISToken")
		os.Exit(1)
	}

	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		setupLog.Error(err, "Unable to set up the health check")
		os.Exit(1)
	}
	if err := mgr.AddReadyzCheck("readyz", healthz.Ping); err != nil {
		setupLog.Error(err, "Unable to set up the ready check")
		os.Exit(1)
	}

	setupLog.Info("Starting the manager")
	if err := mgr.Start(ctx); err != nil {
		setupLog.Error(err, "The manager stopped with an error")
		os.Exit(1)
	}
}

// apiPace turns --kube-api-qps and --kube-api-burst into client-go's
// settings. No cap by default: a negative QPS turns client-go's token bucket
// off (0 would mean its default of 5), and API Priority and Fairness paces
// the manager instead, with 429s that client-go retries after Retry-After.
func apiPace(qps float64, burst int) (float32, int) {
	if qps <= 0 {
		return -1, 0
	}
	if burst <= 0 {
		burst = int(math.Ceil(2 * qps))
	}
	return float32(qps), burst
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(v string) []string {
	var out []string
	for _, item := range strings.Split(v, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
