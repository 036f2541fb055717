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
	"errors"
	"fmt"
	"strings"
	"time"
)

// Reason classifies a failure. The reconciler maps reasons to conditions.
type Reason string

const (
	// ReasonInvalidCredentials: wrong username or password (ArcGIS usernames
	// are case-sensitive), or wrong OAuth client ID or secret. Not retryable
	// until the credentials change: retrying locks the account.
	ReasonInvalidCredentials Reason = "InvalidCredentials"
	// ReasonInvalidToken: 498, "Invalid token." or "Invalid Token": expired,
	// revoked, wrongly bound, or for another org or endpoint.
	ReasonInvalidToken Reason = "InvalidToken"
	// ReasonTokenRequired: 499, no token reached a secured resource.
	ReasonTokenRequired Reason = "TokenRequired"
	// ReasonPermissionDenied: 403 (GWM_0003), the token lacks rights.
	ReasonPermissionDenied Reason = "PermissionDenied"
	// ReasonSSLRequired: 403 "SSL Required".
	ReasonSSLRequired Reason = "SSLRequired"
	// ReasonMethodNotSupported: 405, GET, or credentials in the query string.
	ReasonMethodNotSupported Reason = "MethodNotSupported"
	// ReasonAccountLocked: too many failed logins; retry after the lock-out.
	ReasonAccountLocked Reason = "AccountLocked"
	// ReasonBadRequest: the service refused the request as malformed, for
	// example "'username' must be specified." or a missing client binding.
	ReasonBadRequest Reason = "BadRequest"
	// ReasonServiceUnavailable: network errors, timeouts, 5xx, and any body
	// that is not JSON (HTML error and login pages, an HTML "Invalid Token"
	// page). Retryable with backoff.
	ReasonServiceUnavailable Reason = "ServiceUnavailable"
	// ReasonInvalidResponse: JSON without a usable token or expiry.
	ReasonInvalidResponse Reason = "InvalidResponse"
	// ReasonInvalidRequest: the request was refused before anything was sent:
	// an http:// URL, a CA bundle without a PEM certificate, a missing field.
	ReasonInvalidRequest Reason = "InvalidRequest"
)

// Error is every failure the client returns. Its text names the endpoint, the
// host and what the service said, and never a credential or a token.
type Error struct {
	// Reason classifies the failure.
	Reason Reason
	// Endpoint is the logical endpoint that failed, for example
	// "generateToken", "oauth2/token", "rest/info", "portals/self".
	Endpoint string
	// Host is the service's host (and port).
	Host string
	// HTTPStatus is the HTTP status line's code, 0 when no response came.
	HTTPStatus int
	// Code is the ArcGIS error code from the body (for example 400, 498), 0
	// when there was none.
	Code int
	// Message is what the service said (message and details), or what went
	// wrong locally, cut to a sane length, with anything that looks like a
	// credential or token removed.
	Message string
	// Retryable says whether the same request may succeed later without any
	// change to credentials or spec.
	Retryable bool
	// RetryAfter is the least time to wait before retrying, when the service
	// or the failure says so (Retry-After, a lock-out); 0 otherwise.
	RetryAfter time.Duration
}

// Error implements error.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(string(e.Reason))
	if e.Endpoint != "" || e.Host != "" {
		fmt.Fprintf(&b, " from %s", e.Endpoint)
		if e.Host != "" {
			fmt.Fprintf(&b, " at %s", e.Host)
		}
	}
	if e.HTTPStatus != 0 {
		fmt.Fprintf(&b, " (HTTP %d", e.HTTPStatus)
		if e.Code != 0 && e.Code != e.HTTPStatus {
			fmt.Fprintf(&b, ", code %d", e.Code)
		}
		b.WriteString(")")
	} else if e.Code != 0 {
		fmt.Fprintf(&b, " (code %d)", e.Code)
	}
	if e.Message != "" {
		b.WriteString(": ")
		b.WriteString(e.Message)
	}
	return b.String()
}

// ReasonOf returns the Reason of an *Error in err's chain, or
// ReasonServiceUnavailable for any other non-nil error.
func ReasonOf(err error) Reason {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Reason
	}
	return ReasonServiceUnavailable
}

// AsError returns the *Error in err's chain, if any.
func AsError(err error) (*Error, bool) {
	var e *Error
	ok := errors.As(err, &e)
	return e, ok
}
