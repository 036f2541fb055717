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

package arcgis

import (
	"context"
	"testing"
)

// BenchmarkIssueToken is the baseline for the client's own cost per token:
// a referer-bound portal token from a local TLS server, from parallel
// callers sharing one Client (and so its connection pool and host limit).
func BenchmarkIssueToken(b *testing.B) {
	f := newFakeService(b)
	f.respond("/portal/sharing/rest/generateToken", 200, `{"token":"p4a6kDFu7V6rD8gA0RLmIIAbn4DyeQCl7L7zSpIaSgGihDo1..","expires":1768485600000,"ssl":true}`)
	c := f.newTestClient(Options{})
	req := TokenRequest{
		Type: Portal, URL: f.url("/portal"),
		Credentials:       Credentials{Username: "Admin", Password: "pw"},
		Binding:           Binding{Client: ClientReferer, Referer: testReferer},
		ExpirationMinutes: 60,
	}
	ctx := context.Background()
	b.ReportAllocs()
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.IssueToken(ctx, req); err != nil {
				b.Error(err)
				return
			}
		}
	})
}
