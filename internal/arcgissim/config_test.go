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

import "testing"

func TestConfigDefaults(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name string
		in   Config
		want [4]int // portal default, portal max, server short, server long
	}{
		{"zero", Config{}, [4]int{120, 20160, 60, 1440}},
		{"low portal cap", Config{PortalMaxMinutes: 30}, [4]int{30, 30, 60, 1440}},
		{"high portal default", Config{PortalDefaultMinutes: 30000}, [4]int{30000, 30000, 60, 1440}},
		{"low server long", Config{ServerLongMinutes: 20}, [4]int{120, 20160, 20, 20}},
		{"high server short", Config{ServerShortMinutes: 2000}, [4]int{120, 20160, 2000, 2000}},
		{"explicit", Config{PortalDefaultMinutes: 1, PortalMaxMinutes: 2, ServerShortMinutes: 3, ServerLongMinutes: 4}, [4]int{1, 2, 3, 4}},
	} {
		c := tc.in.withDefaults()
		got := [4]int{c.PortalDefaultMinutes, c.PortalMaxMinutes, c.ServerShortMinutes, c.ServerLongMinutes}
		if got != tc.want {
			t.Errorf("%s: got %v, want %v", tc.name, got, tc.want)
		}
		if err := c.validate(); err != nil {
			t.Errorf("%s: %v", tc.name, err)
		}
		if c.Listen != defaultListen || c.Clock == nil || c.LockoutAttempts != 5 || c.LockoutMinutes != 15 {
			t.Errorf("%s: other defaults missing: %+v", tc.name, c)
		}
	}
}
