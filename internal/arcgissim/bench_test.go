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

package arcgissim

import (
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"
)

// BenchmarkGenerateToken measures issuing portal tokens from parallel
// clients over kept-alive HTTPS connections.
func BenchmarkGenerateToken(b *testing.B) {
	sim, client := benchSim(b)
	body := url.Values{"username": {"alice"}, "password": {alicePW}, "f": {"json"}}.Encode()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			resp, err := client.Post(sim.URL()+pGenerate, formType, strings.NewReader(body))
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
	})
	b.StopTimer()
	if n := sim.Counters().TokensIssued["portal"]; n < b.N {
		b.Fatalf("%d tokens issued for %d requests", n, b.N)
	}
}

// BenchmarkValidate measures token checks at rest/services with many live tokens.
func BenchmarkValidate(b *testing.B) {
	sim, client := benchSim(b)
	var tok string
	for range 5000 {
		tok = sim.tokens.issue(&token{kind: kindServer, subject: "alice", expires: time.Now().Add(time.Hour)})
	}
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			hr, _ := http.NewRequest(http.MethodGet, sim.URL()+pServices, nil)
			hr.Header.Set("X-Esri-Authorization", "Bearer "+tok)
			resp, err := client.Do(hr)
			if err != nil {
				b.Error(err)
				return
			}
			_, _ = io.Copy(io.Discard, resp.Body)
			_ = resp.Body.Close()
		}
	})
}

func benchSim(b *testing.B) (*Simulator, *http.Client) {
	b.Helper()
	sim, err := New(Config{Users: map[string]string{"alice": alicePW}})
	if err != nil {
		b.Fatal(err)
	}
	if err := sim.Start(); err != nil {
		b.Fatal(err)
	}
	client := newClient(b, sim.CAPEM(), nil)
	b.Cleanup(func() {
		client.CloseIdleConnections()
		_ = sim.Close()
	})
	return sim, client
}
