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
	"encoding/pem"
	"net/http/httptest"
	"testing"
	"time"
)

var t0 = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

func at(s int) time.Time { return t0.Add(time.Duration(s) * time.Second) }

func TestExpiredTime(t *testing.T) {
	// The outage: 600 s to 720 s.
	downFrom, downTo := at(600), at(720)
	tests := map[string]struct {
		versions                []secretVersion
		end                     time.Time
		wantUp, wantDown, wantL time.Duration
	}{
		"renewed before every expiry": {
			versions: []secretVersion{{at(0), at(120)}, {at(80), at(200)}, {at(160), at(280)}},
			end:      at(200),
		},
		"renewed 5 s late": {
			versions: []secretVersion{{at(0), at(120)}, {at(125), at(245)}},
			end:      at(200),
			wantUp:   5 * time.Second, wantL: 5 * time.Second,
		},
		"expired during the outage and 30 s after it": {
			versions: []secretVersion{{at(560), at(680)}, {at(750), at(870)}},
			end:      at(800),
			wantUp:   30 * time.Second, wantDown: 40 * time.Second, wantL: 30 * time.Second,
		},
		"still expired at the end": {
			versions: []secretVersion{{at(0), at(120)}},
			end:      at(150),
			wantUp:   30 * time.Second, wantL: 30 * time.Second,
		},
		"already expired when first seen counts from then": {
			versions: []secretVersion{{at(100), at(50)}, {at(110), at(230)}},
			end:      at(200),
			wantUp:   10 * time.Second, wantL: 10 * time.Second,
		},
		"no Secret yet": {end: at(100)},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			up, down, longest := expiredTime(tc.versions, tc.end, downFrom, downTo)
			if up != tc.wantUp || down != tc.wantDown || longest != tc.wantL {
				t.Errorf("expiredTime = %s up, %s down, longest %s; want %s, %s, %s", up, down, longest, tc.wantUp, tc.wantDown, tc.wantL)
			}
		})
	}
}

func TestRenewalsNeeded(t *testing.T) {
	lifetime := 2 * time.Minute
	tests := map[string]struct {
		versions      []secretVersion
		needed, early int
	}{
		"none":  {},
		"first": {versions: []secretVersion{{at(0), at(120)}}, needed: 1},
		"renewed at two thirds": {
			versions: []secretVersion{{at(0), at(120)}, {at(80), at(200)}, {at(160), at(280)}}, needed: 3,
		},
		"renewed at half a lifetime is still due": {
			versions: []secretVersion{{at(0), at(120)}, {at(60), at(180)}}, needed: 2,
		},
		"renewed twice in a row": {
			versions: []secretVersion{{at(0), at(120)}, {at(80), at(200)}, {at(81), at(201)}}, needed: 2, early: 1,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			needed, early := renewalsNeeded(tc.versions, lifetime)
			if needed != tc.needed || early != tc.early {
				t.Errorf("renewalsNeeded = %d, %d; want %d, %d", needed, early, tc.needed, tc.early)
			}
		})
	}
}

func TestFlakyFront(t *testing.T) {
	f, err := newFlakyFront("https://127.0.0.1:1", nil, 0.1, 1)
	if err == nil {
		f.close()
		t.Fatal("a target CA that is not PEM was accepted")
	}
	f, err = newFlakyFront("https://127.0.0.1:1", testCA(t), 0.1, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer f.close()
	now := at(0)
	f.frontNowFn = func() time.Time { return now }
	f.setOutage(at(100), at(220))

	for range 10000 {
		f.decide("generateToken")
	}
	now = at(100)
	for range 50 {
		f.decide("portals/self")
	}
	now = at(220)
	f.decide("other")
	c := f.counts()
	if got := c["generateToken"][outcomeFlaky]; got < 900 || got > 1100 {
		t.Errorf("%d of 10,000 answered 503 at random, want about 1,000", got)
	}
	if c["generateToken"][outcomeOutage] != 0 || c["portals/self"][outcomeOutage] != 50 {
		t.Errorf("outage counts: %v", c)
	}
	if c["other"][outcomeOutage] != 0 {
		t.Error("the outage did not end at its end")
	}
	if len(f.caPEM()) == 0 {
		t.Error("no CA for the manager")
	}
}

func TestFrontEndpoint(t *testing.T) {
	for path, want := range map[string]string{
		"/portal/sharing/rest/generateToken": "generateToken",
		"/portal/sharing/rest/portals/self":  "portals/self",
		"/portal/sharing/rest/info":          "other",
	} {
		if got := frontEndpoint(path); got != want {
			t.Errorf("frontEndpoint(%q) = %q, want %q", path, got, want)
		}
	}
}

func testCA(t *testing.T) []byte {
	t.Helper()
	srv := httptest.NewTLSServer(nil)
	defer srv.Close()
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
}
