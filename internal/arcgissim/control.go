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
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"time"
)

// maxControlBodyBytes bounds control API request bodies.
const maxControlBodyBytes = 64 << 10

// controlUser is the body of POST /__sim/users.
type controlUser struct {
	Username string `json:"username"`
	Password string `json:"password"`
}

// controlApp is the body of POST /__sim/apps.
type controlApp struct {
	ClientID     string `json:"clientId"`
	ClientSecret string `json:"clientSecret"`
}

// controlClock is the body of POST /__sim/clock and part of its GET answer.
type controlClock struct {
	Offset string `json:"offset"`
}

// controlWording is the body of POST /__sim/wording.
type controlWording struct {
	Endpoint string `json:"endpoint"`
	Wording
}

// controlSlot is the body of POST /__sim/apikeys/{itemId}/invalidate.
type controlSlot struct {
	Slot int `json:"slot"`
}

// newControlHandler serves the control API under /__sim/, for demos and for
// tests that drive the simulator from another process. It is not counted,
// logged or subject to faults, and has no authentication: the simulator only
// listens on loopback.
func (s *Simulator) newControlHandler() http.Handler {
	mux := http.NewServeMux()
	noContent := func(w http.ResponseWriter) { w.WriteHeader(http.StatusNoContent) }

	mux.HandleFunc("GET /__sim/{$}", func(w http.ResponseWriter, _ *http.Request) {
		writeControlJSON(w, http.StatusOK, map[string]any{
			"portalUrl":  s.PortalURL(),
			"portalUrls": s.PortalURLs(),
			"serverUrl":  s.ServerURL(),
			"endpoints": []string{
				"POST /__sim/revoke", "GET /__sim/faults", "POST /__sim/faults", "DELETE /__sim/faults",
				"GET /__sim/counters", "POST /__sim/reset", "POST /__sim/users", "POST /__sim/apps",
				"GET /__sim/clock", "POST /__sim/clock", "GET /__sim/wording", "POST /__sim/wording",
				"GET /__sim/apikeys", "POST /__sim/apikeys", "POST /__sim/apikeys/{itemId}/invalidate",
				"GET /__sim/ca.pem", "GET /__sim/secrets",
			},
		})
	})
	mux.HandleFunc("POST /__sim/revoke", func(w http.ResponseWriter, _ *http.Request) {
		s.RevokeAll()
		noContent(w)
	})
	mux.HandleFunc("GET /__sim/faults", func(w http.ResponseWriter, _ *http.Request) {
		writeControlJSON(w, http.StatusOK, s.Faults())
	})
	mux.HandleFunc("POST /__sim/faults", func(w http.ResponseWriter, r *http.Request) {
		var f Fault
		if !decodeControlBody(w, r, &f) {
			return
		}
		if err := s.InjectFault(f); err != nil {
			writeControlError(w, err)
			return
		}
		noContent(w)
	})
	mux.HandleFunc("DELETE /__sim/faults", func(w http.ResponseWriter, _ *http.Request) {
		s.ClearFaults()
		noContent(w)
	})
	mux.HandleFunc("GET /__sim/counters", func(w http.ResponseWriter, _ *http.Request) {
		writeControlJSON(w, http.StatusOK, s.Counters())
	})
	mux.HandleFunc("POST /__sim/reset", func(w http.ResponseWriter, _ *http.Request) {
		s.ResetCounters()
		noContent(w)
	})
	mux.HandleFunc("POST /__sim/users", func(w http.ResponseWriter, r *http.Request) {
		var u controlUser
		if !decodeControlBody(w, r, &u) {
			return
		}
		if u.Username == "" {
			writeControlError(w, errors.New("username is required"))
			return
		}
		s.SetUser(u.Username, u.Password)
		noContent(w)
	})
	mux.HandleFunc("POST /__sim/apps", func(w http.ResponseWriter, r *http.Request) {
		var a controlApp
		if !decodeControlBody(w, r, &a) {
			return
		}
		if a.ClientID == "" {
			writeControlError(w, errors.New("clientId is required"))
			return
		}
		s.SetApp(a.ClientID, a.ClientSecret)
		noContent(w)
	})
	clockState := func(w http.ResponseWriter) {
		writeControlJSON(w, http.StatusOK, map[string]any{
			"offset":      s.ClockOffset().String(),
			"serviceTime": s.ServiceNow().UTC(),
			"clockTime":   s.observed().UTC(),
		})
	}
	mux.HandleFunc("GET /__sim/clock", func(w http.ResponseWriter, _ *http.Request) { clockState(w) })
	mux.HandleFunc("POST /__sim/clock", func(w http.ResponseWriter, r *http.Request) {
		var body controlClock
		if !decodeControlBody(w, r, &body) {
			return
		}
		d, err := time.ParseDuration(body.Offset)
		if err != nil {
			writeControlError(w, fmt.Errorf("offset: %w", err))
			return
		}
		s.SetClockOffset(d)
		clockState(w)
	})
	mux.HandleFunc("GET /__sim/wording", func(w http.ResponseWriter, _ *http.Request) {
		writeControlJSON(w, http.StatusOK, s.Wordings())
	})
	mux.HandleFunc("POST /__sim/wording", func(w http.ResponseWriter, r *http.Request) {
		var body controlWording
		if !decodeControlBody(w, r, &body) {
			return
		}
		if err := s.SetWording(body.Endpoint, body.Wording); err != nil {
			writeControlError(w, err)
			return
		}
		noContent(w)
	})
	mux.HandleFunc("GET /__sim/apikeys", func(w http.ResponseWriter, _ *http.Request) {
		writeControlJSON(w, http.StatusOK, s.APIKeyItems())
	})
	mux.HandleFunc("POST /__sim/apikeys", func(w http.ResponseWriter, r *http.Request) {
		var item APIKeyItem
		if !decodeControlBody(w, r, &item) {
			return
		}
		if err := s.SetAPIKeyItem(item); err != nil {
			writeControlError(w, err)
			return
		}
		noContent(w)
	})
	mux.HandleFunc("POST /__sim/apikeys/{itemId}/invalidate", func(w http.ResponseWriter, r *http.Request) {
		var body controlSlot
		if !decodeControlBody(w, r, &body) {
			return
		}
		if err := s.InvalidateAPIKey(r.PathValue("itemId"), body.Slot); err != nil {
			writeControlError(w, err)
			return
		}
		noContent(w)
	})
	mux.HandleFunc("GET /__sim/ca.pem", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/x-pem-file")
		_, _ = w.Write(s.CAPEM())
	})
	mux.HandleFunc("GET /__sim/secrets", func(w http.ResponseWriter, _ *http.Request) {
		writeControlJSON(w, http.StatusOK, s.Secrets())
	})
	return mux
}

// decodeControlBody decodes a JSON body strictly, answering 400 on failure.
func decodeControlBody(w http.ResponseWriter, r *http.Request, v any) bool {
	dec := json.NewDecoder(http.MaxBytesReader(w, r.Body, maxControlBodyBytes))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		writeControlError(w, err)
		return false
	}
	return true
}

func writeControlError(w http.ResponseWriter, err error) {
	writeControlJSON(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
}

func writeControlJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
