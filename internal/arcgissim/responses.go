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
	"fmt"
	"net/http"
	"strings"
)

// Messages, as real ArcGIS words them.
const (
	msgUnableToGenerate      = "Unable to generate token."
	msgMethodNotSupported    = "Method not supported"
	msgInvalidToken          = "Invalid token."
	msgInvalidTokenOld       = "Invalid Token"
	msgTokenRequired         = "Token Required"
	msgPermissionDenied      = "You do not have permissions to access this resource or perform this operation."
	msgExceptionGenerating   = "Exception in generating token"
	detailInvalidCredentials = "Invalid username or password."
	detailUsernameRequired   = "'username' must be specified."
	detailPasswordRequired   = "'password' must be specified."
	detailQueryCredentials   = "Generate Token request should not contain username and password in the query string."
	detailTokenExpired       = "Token has expired."
	detailClientIDRequired   = "Client ID is required for long expiration tokens."
	detailNoTokenForServer   = "Unable to get 'token' from the request or cookie, for server token."
	messageCodeGWM0003       = "GWM_0003"
)

// Messages the simulator had to word itself (inferred).
const (
	detailPostOnly          = "Generate Token requests must use HTTP POST."
	detailGetOrPost         = "Only GET and POST are supported."
	detailOperationPostOnly = "This operation must use HTTP POST."
	detailRefererRequired   = "'referer' must be specified."
	detailIPRequired        = "'ip' must be specified."
	detailIPInvalid         = "'ip' must be an IP address."
	detailClientInvalid     = "'client' must be referer, ip or requestip."
	detailExpiration        = "'expiration' must be a whole number of minutes."
	detailUnknownServer     = "'serverUrl' is not a server federated with this portal."
	lockedTemplate          = "Too many invalid logon attempts. Your account is locked; try again in %d minutes."
)

// envelope is the error shape of an endpoint.
type envelope int

const (
	// envREST: {"error":{"code":N,"message":…,"details":[…]}}.
	envREST envelope = iota
	// envAdmin: {"status":"error","messages":[…],"code":N}.
	envAdmin
)

// apiError is an ArcGIS error before it takes an endpoint's shape.
type apiError struct {
	outcome     string // for Counters
	code        int
	message     string
	messageCode string
	details     []string
	status      int // the HTTP status whatever RealStatusCodes says; 0: as it says
}

func unableToGenerate(outcome string, details ...string) apiError {
	return apiError{outcome: outcome, code: 400, message: msgUnableToGenerate, details: details}
}

func methodNotSupported(detail string) apiError {
	return apiError{outcome: OutcomeMethodNotSupported, code: 405, message: msgMethodNotSupported, details: []string{detail}}
}

func tokenRequired() apiError {
	return apiError{outcome: OutcomeTokenRequired, code: 499, message: msgTokenRequired,
		messageCode: messageCodeGWM0003, details: []string{msgTokenRequired}}
}

func permissionDenied() apiError {
	return apiError{outcome: OutcomePermissionDenied, code: 403, message: msgPermissionDenied,
		messageCode: messageCodeGWM0003, details: []string{msgPermissionDenied}}
}

// invalidToken is the 498 for a refused token. Real services do not say why
// a token is refused unless it expired, so neither does the simulator.
func (s *Simulator) invalidToken(p tokenProblem) apiError {
	e := apiError{outcome: OutcomeInvalidToken, code: 498, message: msgInvalidToken, details: []string{}}
	if s.cfg.OldServer {
		e.message = msgInvalidTokenOld
	}
	if p == tokenExpired {
		e.details = []string{detailTokenExpired}
	}
	return e
}

// httpStatus is the status line for an ArcGIS error code: 200, as ArcGIS
// sends by default, or with RealStatusCodes the code itself when it is a
// standard HTTP client error. 498 and 499 are not HTTP statuses, and 201 is
// not an error to HTTP, so they always come with 200.
func (s *Simulator) httpStatus(code int) int {
	if s.cfg.RealStatusCodes {
		switch code {
		case 400, 401, 403, 404, 405:
			return code
		}
	}
	return http.StatusOK
}

type restError struct {
	Error restErrorBody `json:"error"`
}

type restErrorBody struct {
	Code        int    `json:"code"`
	Message     string `json:"message"`
	MessageCode string `json:"messageCode,omitempty"`
	Details     any    `json:"details"` // []string, or a string on old servers
}

type adminError struct {
	Status   string   `json:"status"`
	Messages []string `json:"messages"`
	Code     int      `json:"code"`
}

// fail answers with an error in the endpoint's envelope.
func (c *call) fail(e apiError) {
	c.outcome = e.outcome
	status := c.s.httpStatus(e.code)
	if e.status != 0 {
		status = e.status
	}
	if c.envelope == envAdmin {
		// The admin API has no details: they follow the message.
		messages := []string{e.message}
		for _, d := range e.details {
			if d != e.message {
				messages = append(messages, d)
			}
		}
		c.writeJSON(status, adminError{Status: "error", Messages: messages, Code: e.code})
		return
	}
	var details any = e.details
	if e.details == nil {
		details = []string{}
	}
	if c.s.cfg.OldServer {
		details = strings.Join(e.details, " ")
	}
	c.writeJSON(status, restError{Error: restErrorBody{Code: e.code, Message: e.message, MessageCode: e.messageCode, Details: details}})
}

type oauthError struct {
	Error oauthErrorBody `json:"error"`
}

// oauthErrorBody is how ArcGIS portals answer OAuth errors: the OAuth 2.0
// "error" and "error_description" inside ArcGIS's own error object.
type oauthErrorBody struct {
	Code             int      `json:"code"`
	Error            string   `json:"error"`
	ErrorDescription string   `json:"error_description"`
	Message          string   `json:"message"`
	Details          []string `json:"details"`
}

// failOAuth answers an OAuth error.
func (c *call) failOAuth(outcome, oauthCode, description string) {
	c.outcome = outcome
	c.writeJSON(c.s.httpStatus(400), oauthError{Error: oauthErrorBody{
		Code: 400, Error: oauthCode, ErrorDescription: description, Message: description, Details: []string{},
	}})
}

// ok answers a success.
func (c *call) ok(v any) {
	c.outcome = OutcomeOK
	c.writeJSON(http.StatusOK, v)
}

func (c *call) writeJSON(status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		// Every body is a fixed struct of strings and numbers.
		panic(fmt.Sprintf("arcgissim: encoding response: %v", err))
	}
	c.writeRaw(status, "application/json; charset=utf-8", string(b))
}

func (c *call) writeRaw(status int, contentType, body string) {
	h := c.w.Header()
	h.Set("Content-Type", contentType)
	// Token responses must never be cached by anything in between.
	h.Set("Cache-Control", "no-store")
	c.status = status
	c.w.WriteHeader(status)
	_, _ = c.w.Write([]byte(body))
}
