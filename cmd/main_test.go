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

package main

import (
	"testing"

	"k8s.io/apimachinery/pkg/runtime/schema"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
)

func TestAPIPace(t *testing.T) {
	tests := map[string]struct {
		qps       float64
		burst     int
		wantQPS   float32
		wantBurst int
		limited   bool
	}{
		"default: no client-side cap": {qps: 0, burst: 0, wantQPS: -1},
		"negative: no cap either":     {qps: -1, burst: 100, wantQPS: -1},
		"a cap, burst twice the QPS":  {qps: 50, wantQPS: 50, wantBurst: 100, limited: true},
		"a cap and a burst":           {qps: 20, burst: 30, wantQPS: 20, wantBurst: 30, limited: true},
		"a fractional cap":            {qps: 0.5, wantQPS: 0.5, wantBurst: 1, limited: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			qps, burst := apiPace(tc.qps, tc.burst)
			if qps != tc.wantQPS || burst != tc.wantBurst {
				t.Fatalf("apiPace(%v, %d) = %v, %d; want %v, %d", tc.qps, tc.burst, qps, burst, tc.wantQPS, tc.wantBurst)
			}
			// What client-go makes of it: a token bucket only with a cap
			// (a zero QPS would have meant its default of 5).
			c, err := rest.RESTClientFor(&rest.Config{Host: "https://127.0.0.1:6443", QPS: qps, Burst: burst,
				ContentConfig: rest.ContentConfig{GroupVersion: &schema.GroupVersion{Version: "v1"}, NegotiatedSerializer: clientgoscheme.Codecs.WithoutConversion()}})
			if err != nil {
				t.Fatal(err)
			}
			if got := c.GetRateLimiter() != nil; got != tc.limited {
				t.Errorf("client-side rate limiter: %v, want %v", got, tc.limited)
			}
		})
	}
}
