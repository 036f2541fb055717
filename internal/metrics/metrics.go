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
// them beside the controller-runtime and client-go ones.
//
// The per-token series are not kept anywhere: a collector builds them at
// scrape time from the ArcGISTokens in the manager's informer cache, two per
// token (the expiry, and the status as labels). The reconciler needs to do
// nothing for them, and a deleted ArcGISToken's series go with it.
package metrics

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
	"github.com/tokenoperator/arcgis-token-operator/internal/arcgis"
)

var (
	expirationDesc = prometheus.NewDesc("arcgistoken_expiration_timestamp_seconds",
		"The time the stored ArcGIS token expires, in seconds since the epoch; absent while no token is stored.",
		[]string{"namespace", "name"}, nil)

	statusDesc = prometheus.NewDesc("arcgistoken_status",
		"One series per ArcGISToken, always 1: its type, the status of its Ready and Issuing conditions (True, False or Unknown), "+
			"and a reason: Ready's when not Ready, else Issuing's when a new token is due, else Ready's.",
		[]string{"namespace", "name", "type", "ready", "issuing", "reason"}, nil)

	requests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "arcgistoken_requests_total",
		Help: "HTTP requests to ArcGIS services, by service host, logical endpoint and result (Success or a failure reason).",
	}, []string{"host", "endpoint", "reason"})

	held = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "arcgistoken_calls_held_total",
		Help: "Calls to ArcGIS services not made, by service host, because the service failed its last calls: " +
			"while it does, it is called once every 5 seconds until it answers.",
	}, []string{"host"})

	latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "arcgistoken_request_duration_seconds",
		Help:    "Duration of HTTP requests to ArcGIS services, by service host and logical endpoint.",
		Buckets: []float64{0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30},
	}, []string{"host", "endpoint"})
)

// Tokens is where the per-token series come from.
type Tokens struct {
	// Reader lists ArcGISTokens: the manager's cache (mgr.GetCache()), so
	// that a scrape costs no request to the API server.
	Reader client.Reader
	// Leading reports whether this replica is the leader. Only the leader
	// reconciles, so only its view is current and only it exports per-token
	// series; a standby's would duplicate them. Nil means always.
	Leading func() bool
}

var registerOnce sync.Once

// Register adds the metrics to controller-runtime's registry: the request
// metrics, and the per-token collector over tokens. Only the first call has
// an effect.
func Register(tokens Tokens) {
	registerOnce.Do(func() {
		ctrlmetrics.Registry.MustRegister(requests, held, latency, &tokenCollector{tokens: tokens})
	})
}

// listTimeout bounds a scrape's wait for the cache, which answers at once
// once synced.
const listTimeout = 10 * time.Second

// tokenCollector builds the per-token series at scrape time.
type tokenCollector struct{ tokens Tokens }

func (c *tokenCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- expirationDesc
	ch <- statusDesc
}

func (c *tokenCollector) Collect(ch chan<- prometheus.Metric) {
	if c.tokens.Reader == nil || (c.tokens.Leading != nil && !c.tokens.Leading()) {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), listTimeout)
	defer cancel()
	list := &arcgisv1alpha1.ArcGISTokenList{}
	// The cache's own objects, not copies: only read here, and a copy of
	// every token on every scrape is the garbage this collector avoids.
	if err := c.tokens.Reader.List(ctx, list, client.UnsafeDisableDeepCopy); err != nil {
		ch <- prometheus.NewInvalidMetric(statusDesc, err)
		return
	}
	for i := range list.Items {
		t := &list.Items[i]
		if t.Status.ExpiresAt != nil {
			ch <- prometheus.MustNewConstMetric(expirationDesc, prometheus.GaugeValue, float64(t.Status.ExpiresAt.Unix()), t.Namespace, t.Name)
		}
		ready, issuing, reason := status(t)
		ch <- prometheus.MustNewConstMetric(statusDesc, prometheus.GaugeValue, 1, t.Namespace, t.Name, string(t.Spec.Type), ready, issuing, reason)
	}
}

// status reads the labels of a token's status series.
func status(t *arcgisv1alpha1.ArcGISToken) (ready, issuing, reason string) {
	ready, issuing = string(metav1.ConditionUnknown), string(metav1.ConditionUnknown)
	r := meta.FindStatusCondition(t.Status.Conditions, arcgisv1alpha1.ConditionReady)
	i := meta.FindStatusCondition(t.Status.Conditions, arcgisv1alpha1.ConditionIssuing)
	if r != nil {
		ready, reason = string(r.Status), r.Reason
	}
	if i != nil {
		issuing = string(i.Status)
	}
	if ready == string(metav1.ConditionTrue) && i != nil && i.Status == metav1.ConditionTrue {
		reason = i.Reason
	}
	return ready, issuing, reason
}

// ObserveRequest counts one request of the ArcGIS client; wire it as the
// client's Observer.
func ObserveRequest(o arcgis.Observation) {
	requests.WithLabelValues(o.Host, o.Endpoint, o.Result).Inc()
	latency.WithLabelValues(o.Host, o.Endpoint).Observe(o.Duration.Seconds())
}

// CallHeld counts a call to the service at host that was not made because
// the service failed its last calls.
func CallHeld(host string) {
	held.WithLabelValues(host).Inc()
}
