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

package node

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

// The checks of the mounted file against the Secret's history, on made-up
// histories: they run without a node (go test -run TestCheck .).

// history is four tokens of 2 minutes, rotated every 80 s from t0.
func history(t0 time.Time) *tokenHistory {
	h := &tokenHistory{}
	for i := range 4 {
		seen := t0.Add(time.Duration(i) * 80 * time.Second)
		h.tokens = append(h.tokens, tokenState{
			fp:      fmt.Sprintf("%012x", i+1),
			expires: seen.Add(2 * time.Minute).UTC().Format(time.RFC3339),
			seen:    seen,
		})
	}
	return h
}

func fileLine(h *tokenHistory, k int, at time.Time) logLine {
	return logLine{at: at, text: "at=" + at.UTC().Format(time.RFC3339Nano) + " event=changed fp=" + h.tokens[k].fp + " expires=" + h.tokens[k].expires}
}

func TestCheckFileUpdate(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h := history(t0)
	for _, c := range []struct {
		name         string
		shown, shows int
		after        time.Duration // after the Secret stopped holding token shown
		wantK        int
		wantErr      string
	}{
		{name: "next token soon", shown: 0, shows: 1, after: 2 * time.Second, wantK: 1},
		{name: "next token at the bound", shown: 0, shows: 1, after: maxMountDelay, wantK: 1},
		{name: "next token too late", shown: 0, shows: 1, after: maxMountDelay + time.Second, wantErr: "only 96.0s after"},
		// The file skipped token 2: it went from 1 to 3, 85 s after token 2
		// was written (5 s after token 3 was).
		{name: "skipped a token within the bound", shown: 1, shows: 3, after: 85 * time.Second, wantK: 3},
		// The same skip, 100 s after token 2 was written: only 20 s after
		// token 3 was, but the file had been stale for 100 s.
		{name: "skipped a token too late", shown: 1, shows: 3, after: 100 * time.Second, wantErr: "only 100.0s after"},
		{name: "no newer token", shown: 1, shows: 1, after: time.Second, wantErr: "no newer token"},
	} {
		t.Run(c.name, func(t *testing.T) {
			line := fileLine(h, c.shows, h.tokens[c.shown+1].seen.Add(c.after))
			k, _, err := checkFileUpdate(h, c.shown, line)
			switch {
			case c.wantErr == "" && err != nil:
				t.Fatalf("unexpected error: %v", err)
			case c.wantErr != "" && (err == nil || !strings.Contains(err.Error(), c.wantErr)):
				t.Fatalf("error %v, want one containing %q", err, c.wantErr)
			case c.wantErr == "" && k != c.wantK:
				t.Fatalf("token %d, want %d", k, c.wantK)
			}
		})
	}

	// A token that expired before the file showed it.
	expired := &tokenHistory{tokens: []tokenState{h.tokens[0], h.tokens[1]}}
	expired.tokens[1].expires = t0.Add(90 * time.Second).UTC().Format(time.RFC3339)
	if _, _, err := checkFileUpdate(expired, 0, fileLine(expired, 1, t0.Add(170*time.Second))); err == nil || !strings.Contains(err.Error(), "not a valid token") {
		t.Fatalf("an expired token passed: %v", err)
	}
}

func TestCheckInOrder(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	h := history(t0)
	end := t0.Add(time.Hour)
	good := []logLine{fileLine(h, 0, t0), {at: t0.Add(time.Second), text: "error=open_token:_no_such_file"}, fileLine(h, 1, t0.Add(90*time.Second)), fileLine(h, 3, t0.Add(250*time.Second))}
	if err := checkInOrder(good, h, end); err != nil {
		t.Fatal(err)
	}
	back := []logLine{fileLine(h, 0, t0), fileLine(h, 2, t0.Add(170*time.Second)), fileLine(h, 1, t0.Add(175*time.Second))}
	if err := checkInOrder(back, h, end); err == nil || !strings.Contains(err.Error(), "went back") {
		t.Fatalf("a file going back to an older token passed: %v", err)
	}
	unknown := []logLine{fileLine(h, 0, t0), {at: t0.Add(time.Second), text: "event=changed fp=0123456789ab"}}
	if err := checkInOrder(unknown, h, end); err == nil || !strings.Contains(err.Error(), "never held") {
		t.Fatalf("a token the Secret never held passed: %v", err)
	}
	if err := checkInOrder(unknown, h, t0.Add(500*time.Millisecond)); err != nil {
		t.Fatalf("a recent line with a token not polled yet failed: %v", err)
	}
}
