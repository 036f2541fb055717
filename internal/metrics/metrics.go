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

// Package metrics holds the operator's Prometheus metrics, registered with
// controller-runtime's registry so that the manager's metrics endpoint serves
// them beside the controller-runtime and client-go ones. Names follow
// cert-manager's certmanager_certificate_* metrics.
package metrics

import (
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
	"github.com/tokenoperator/arcgis-token-operator/internal/arcgis"
)

var (
	expiration = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "arcgistoken_expiration_timestamp_seconds",
		Help: "The time the stored ArcGIS token expires, in seconds since the epoch.",
	}, []string{"namespace", "name"})

	renewal = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "arcgistoken_renewal_timestamp_seconds",
		Help: "The time the ArcGIS token is due for renewal, in seconds since the epoch.",
	}, []string{"namespace", "name"})

	ready = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "arcgistoken_ready_status",
		Help: "The Ready condition of the ArcGISToken: 1 for the current status (True, False or Unknown), 0 for the others.",
	}, []string{"namespace", "name", "condition"})

	requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "arcgistoken_requests_total",
		Help: "HTTP requests to ArcGIS services, by service host, logical endpoint and result (Success or a failure reason).",
	}, []string{"host", "endpoint", "reason"})

	latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "arcgistoken_request_duration_seconds",
		Help:    "Duration of HTTP requests to ArcGIS services, by service host and logical endpoint.",
		Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
	}, []string{"host", "endpoint"})
)

var registerOnce sync.Once

// Register adds the metrics to controller-runtime's registry. It is safe to
// call more than once.
func Register() {
	registerOnce.Do(func() {
		ctrlmetrics.Registry.MustRegister(expiration, renewal, ready, requests, latency)
	})
}

var conditionValues = []string{"True", "False", "Unknown"}

// ObserveToken updates the per-token series from an ArcGISToken's status.
func ObserveToken(t *arcgisv1alpha1.ArcGISToken) {
	ns, name := t.Namespace, t.Name
	if t.Status.ExpiresAt != nil {
		expiration.WithLabelValues(ns, name).Set(float64(t.Status.ExpiresAt.Unix()))
	} else {
		expiration.DeleteLabelValues(ns, name)
	}
	if t.Status.RenewalTime != nil {
		renewal.WithLabelValues(ns, name).Set(float64(t.Status.RenewalTime.Unix()))
	} else {
		renewal.DeleteLabelValues(ns, name)
	}
	current := "Unknown"
	if c := meta.FindStatusCondition(t.Status.Conditions, arcgisv1alpha1.ConditionReady); c != nil {
		current = string(c.Status)
	}
	for _, v := range conditionValues {
		ready.WithLabelValues(ns, name, v).Set(boolToFloat(v == current))
	}
}

// ForgetToken deletes the per-token series of a deleted ArcGISToken.
func ForgetToken(key types.NamespacedName) {
	expiration.DeleteLabelValues(key.Namespace, key.Name)
	renewal.DeleteLabelValues(key.Namespace, key.Name)
	for _, v := range conditionValues {
		ready.DeleteLabelValues(key.Namespace, key.Name, v)
	}
}

// ObserveRequest counts one request of the ArcGIS client; wire it as the
// client's Observer.
func ObserveRequest(o arcgis.Observation) {
	requests.WithLabelValues(o.Host, o.Endpoint, o.Result).Inc()
	latency.WithLabelValues(o.Host, o.Endpoint).Observe(o.Duration.Seconds())
}

func boolToFloat(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
