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
	"fmt"
	"maps"
	"net/http"
	"slices"
	"sync"
)

// LoginWording is how a login endpoint words a wrong username or password.
// Real deployments differ (versions, identity stores, web tiers); a client
// must count every one of them as a failed login.
type LoginWording string

const (
	// LoginWordingStandard (also ""): HTTP 200,
	// {"error":{"code":400,"message":"Unable to generate token.","details":["Invalid username or password."]}}.
	LoginWordingStandard LoginWording = "standard"
	// LoginWordingIncorrect: HTTP 200, code 400, message "Unable to generate
	// token.", details ["The user name or password is incorrect."].
	LoginWordingIncorrect LoginWording = "incorrect"
	// LoginWordingInvalidCredentials: HTTP 200,
	// {"error":{"code":401,"message":"Invalid credentials","details":[]}}.
	LoginWordingInvalidCredentials LoginWording = "invalidCredentials"
	// LoginWordingHTTP401: HTTP 401 whatever RealStatusCodes says, with
	// {"error":{"code":401,"message":"Unauthorized access","details":[]}}.
	LoginWordingHTTP401 LoginWording = "http401"
)

// LockoutWording is how a login endpoint words an attempt on a locked
// account.
type LockoutWording string

const (
	// LockoutWordingStandard (also ""): code 400, "Unable to generate token.",
	// details ["Too many invalid logon attempts. Your account is locked; try
	// again in 15 minutes."].
	LockoutWordingStandard LockoutWording = "standard"
	// LockoutWordingUnknown: code 400, "Unable to generate token.", details
	// ["This account has been temporarily suspended."]: no word a classifier
	// could key on.
	LockoutWordingUnknown LockoutWording = "unknown"
)

// Wording selects the wording of failed logins and lock-outs. Empty fields
// mean "standard", or in Config.WordingAt, "as the global Wording says".
type Wording struct {
	LoginFailure LoginWording   `json:"loginFailure,omitempty"`
	Lockout      LockoutWording `json:"lockout,omitempty"`
}

// Unknown wordings (inferred: worded by the simulator).
const (
	detailIncorrectCredentials = "The user name or password is incorrect."
	msgInvalidCredentials      = "Invalid credentials"
	msgUnauthorizedAccess      = "Unauthorized access"
	detailSuspended            = "This account has been temporarily suspended."
)

// loginEndpoints are the endpoints that check passwords, where a Wording
// applies.
var loginEndpoints = []string{EndpointPortalGenerateToken, EndpointServerGenerateToken, EndpointAdminGenerateToken}

func (w Wording) validate() error {
	switch w.LoginFailure {
	case "", LoginWordingStandard, LoginWordingIncorrect, LoginWordingInvalidCredentials, LoginWordingHTTP401:
	default:
		return fmt.Errorf("arcgissim: unknown login failure wording %q", w.LoginFailure)
	}
	switch w.Lockout {
	case "", LockoutWordingStandard, LockoutWordingUnknown:
	default:
		return fmt.Errorf("arcgissim: unknown lock-out wording %q", w.Lockout)
	}
	return nil
}

// validateWording checks a wording for an endpoint ("" for all).
func validateWording(endpoint string, w Wording) error {
	if endpoint != "" && !slices.Contains(loginEndpoints, endpoint) {
		return fmt.Errorf("arcgissim: %q is not a login endpoint (want one of %v, or \"\" for all)", endpoint, loginEndpoints)
	}
	return w.validate()
}

// over returns w with its empty fields taken from base.
func (w Wording) over(base Wording) Wording {
	if w.LoginFailure == "" {
		w.LoginFailure = base.LoginFailure
	}
	if w.Lockout == "" {
		w.Lockout = base.Lockout
	}
	return w
}

// wordings holds the global wording and the per-endpoint overrides.
type wordings struct {
	mu     sync.Mutex
	global Wording
	at     map[string]Wording
}

func newWordings(cfg Config) *wordings {
	at := maps.Clone(cfg.WordingAt)
	if at == nil {
		at = map[string]Wording{}
	}
	return &wordings{global: cfg.Wording, at: at}
}

func (ws *wordings) forEndpoint(endpoint string) Wording {
	ws.mu.Lock()
	defer ws.mu.Unlock()
	return ws.at[endpoint].over(ws.global)
}

// SetWording sets the wording of failed logins and lock-outs at a login
// endpoint (EndpointPortalGenerateToken, EndpointServerGenerateToken,
// EndpointAdminGenerateToken), or with endpoint "" the global one that
// endpoints without their own follow. A zero Wording at an endpoint removes
// its override.
func (s *Simulator) SetWording(endpoint string, w Wording) error {
	if err := validateWording(endpoint, w); err != nil {
		return err
	}
	s.wordings.mu.Lock()
	defer s.wordings.mu.Unlock()
	switch {
	case endpoint == "":
		s.wordings.global = w
	case w == Wording{}:
		delete(s.wordings.at, endpoint)
	default:
		s.wordings.at[endpoint] = w
	}
	return nil
}

// Wordings returns the wording in force at each login endpoint.
func (s *Simulator) Wordings() map[string]Wording {
	out := make(map[string]Wording, len(loginEndpoints))
	for _, ep := range loginEndpoints {
		out[ep] = s.wordings.forEndpoint(ep)
	}
	return out
}

// invalidCredentials is the answer to a wrong username or password at an
// endpoint, in the wording in force there.
func (s *Simulator) invalidCredentials(endpoint string) apiError {
	switch s.wordings.forEndpoint(endpoint).LoginFailure {
	case LoginWordingIncorrect:
		return unableToGenerate(OutcomeInvalidCredentials, detailIncorrectCredentials)
	case LoginWordingInvalidCredentials:
		return apiError{outcome: OutcomeInvalidCredentials, code: 401, message: msgInvalidCredentials}
	case LoginWordingHTTP401:
		return apiError{outcome: OutcomeInvalidCredentials, code: 401, message: msgUnauthorizedAccess, status: http.StatusUnauthorized}
	}
	return unableToGenerate(OutcomeInvalidCredentials, detailInvalidCredentials)
}

// lockedOut is the answer to any login on a locked account.
func (s *Simulator) lockedOut(endpoint string) apiError {
	if s.wordings.forEndpoint(endpoint).Lockout == LockoutWordingUnknown {
		return unableToGenerate(OutcomeAccountLocked, detailSuspended)
	}
	return unableToGenerate(OutcomeAccountLocked, fmt.Sprintf(lockedTemplate, s.cfg.LockoutMinutes))
}
