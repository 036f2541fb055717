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

package v1alpha1

// Labels, annotations and Secret keys the operator reads and writes.
const (
	// ManagedByLabel marks every Secret the operator writes.
	ManagedByLabel = "app.kubernetes.io/managed-by"
	// ManagedByValue is the value of ManagedByLabel.
	ManagedByValue = "arcgis-token-operator"
	// TokenLabel names the ArcGISToken a Secret belongs to.
	TokenLabel = "arcgis.tokenoperator.dev/token"

	// ExpiresAnnotation on the Secret holds the token's expiry (RFC 3339, UTC).
	ExpiresAnnotation = "arcgis.tokenoperator.dev/expires"
	// IssuedAtAnnotation on the Secret holds when the token was issued (RFC 3339, UTC).
	IssuedAtAnnotation = "arcgis.tokenoperator.dev/issued-at"
	// IssuedForAnnotation on the Secret fingerprints the spec and the versions
	// of the credentials and CA bundle the token was issued with, as
	// "<spec>/<inputs>". It holds nothing derived from a secret.
	IssuedForAnnotation = "arcgis.tokenoperator.dev/issued-for"
	// RenewRequestAnnotation on the Secret holds the value of the ArcGISToken's
	// renew-at annotation that the stored token was issued for.
	RenewRequestAnnotation = "arcgis.tokenoperator.dev/renew-request"

	// LifetimeAnnotation on the Secret holds the lifetime the service granted,
	// measured on the service's clock (a Go duration, e.g. "1h0m0s").
	LifetimeAnnotation = "arcgis.tokenoperator.dev/lifetime"
	// ClockSkewAnnotation on the Secret holds the service's clock minus the
	// operator's when the token was issued, from the answer's Date header.
	ClockSkewAnnotation = "arcgis.tokenoperator.dev/clock-skew"
	// TemplateKeysAnnotation on the Secret lists the label and annotation
	// keys that came from spec.secretTemplate, so that keys removed from the
	// template are removed from the Secret too.
	TemplateKeysAnnotation = "arcgis.tokenoperator.dev/template-keys"

	// RenewAtAnnotation on an ArcGISToken asks for a renewal now: any new value
	// (conventionally the current time) triggers exactly one re-issue.
	RenewAtAnnotation = "arcgis.tokenoperator.dev/renew-at"

	// RestartedAtAnnotation is set on the pod template of a rollout restart
	// target after a rotation, which makes its controller roll its pods.
	RestartedAtAnnotation = "arcgis.tokenoperator.dev/restarted-at"

	// SecretKeyToken holds the token.
	SecretKeyToken = "token"
	// SecretKeyExpires holds the expiry, RFC 3339 in UTC.
	SecretKeyExpires = "expires"
	// SecretKeyURL holds the URL of the service the token is for.
	SecretKeyURL = "url"
	// SecretKeyReferer holds the referer a referer-bound token must be sent with.
	SecretKeyReferer = "referer"
	// SecretKeySlot holds the slot (1 or 2) of an API key (type APIKey).
	SecretKeySlot = "slot"
	// SecretKeyItemID holds the API key credentials item's ID (type APIKey).
	SecretKeyItemID = "itemID"
	// SecretKeyPreviousToken holds the key a rotation replaced, until its slot
	// is invalidated and the key is seen to fail (type APIKey): the operator
	// checks the invalidation with it, also after a restart.
	SecretKeyPreviousToken = "previousToken"
)

// Default keys in the credentials Secret.
const (
	DefaultUsernameKey     = "username"
	DefaultPasswordKey     = "password"
	DefaultClientIDKey     = "client_id"
	DefaultClientSecretKey = "client_secret"
)

// Condition types.
const (
	// ConditionReady is True while the Secret holds a token that has not
	// expired and is not known to be revoked.
	ConditionReady = "Ready"
	// ConditionIssuing is True while a new token is due or being fetched. When
	// the last attempt failed it stays True and carries the failure's reason.
	ConditionIssuing = "Issuing"
	// ConditionReconciling (kstatus) is present, and True, only while there
	// is no usable token and the operator is still working on one.
	ConditionReconciling = "Reconciling"
	// ConditionStalled (kstatus) is present, and True, only while there is no
	// usable token and the operator cannot get one without a change by a person
	// (credentials, spec, permissions, a conflicting Secret).
	ConditionStalled = "Stalled"
	// ConditionValidated says whether the last check of the stored token
	// against the service succeeded. It is absent while checks are off
	// (spec.validationInterval 0s, or a token bound to an IP address).
	ConditionValidated = "Validated"
)

// Condition reasons. Failure reasons are shared by Ready (when no usable token
// is left) and Issuing (when a renewal failed while the old token still works).
const (
	// ReasonTokenIssued (Ready=True): the Secret holds a valid token.
	ReasonTokenIssued = "TokenIssued"
	// ReasonUpToDate (Issuing=False): nothing is due.
	ReasonUpToDate = "UpToDate"
	// ReasonSuspended (Issuing=False): spec.suspend is set.
	ReasonSuspended = "Suspended"

	// ReasonIssuing (Issuing=True): the first token is being fetched.
	ReasonIssuing = "Issuing"
	// ReasonRenewing (Issuing=True): the token is nearing expiry.
	ReasonRenewing = "Renewing"
	// ReasonRevoked (Issuing=True): the service answered 498 for the stored token.
	ReasonRevoked = "Revoked"
	// ReasonSpecChanged (Issuing=True): the spec changed since the token was issued.
	ReasonSpecChanged = "SpecChanged"
	// ReasonCredentialsChanged (Issuing=True): the credentials or CA bundle changed.
	ReasonCredentialsChanged = "CredentialsChanged"
	// ReasonManualRenew (Issuing=True): the renew-at annotation changed.
	ReasonManualRenew = "ManualRenew"
	// ReasonSecretMissing (Issuing=True): the Secret or its token key is gone.
	ReasonSecretMissing = "SecretMissing"

	// ReasonInvalidCredentials: the service refused the username and password
	// (or client ID and secret). Retried rarely, never in a loop.
	ReasonInvalidCredentials = "InvalidCredentials"
	// ReasonInvalidToken: the service answered 498 (invalid or expired token),
	// for example on a federated token exchange.
	ReasonInvalidToken = "InvalidToken"
	// ReasonAccountLocked: the account is locked after too many failed logins.
	ReasonAccountLocked = "AccountLocked"
	// ReasonPermissionDenied: the service answered 403 or 499.
	ReasonPermissionDenied = "PermissionDenied"
	// ReasonServiceUnavailable: the service could not be reached, timed out,
	// answered 5xx, or answered something that is not ArcGIS JSON.
	ReasonServiceUnavailable = "ServiceUnavailable"
	// ReasonCredentialsNotFound: the credentials Secret or one of its keys is
	// missing or empty.
	ReasonCredentialsNotFound = "CredentialsNotFound"
	// ReasonInvalidSpec: the spec cannot be turned into a request, for example a
	// CA bundle that holds no PEM certificate.
	ReasonInvalidSpec = "InvalidSpec"
	// ReasonSecretConflict: a Secret of the same name exists and is not owned by
	// this ArcGISToken; it is never overwritten.
	ReasonSecretConflict = "SecretConflict"
	// ReasonExpired: the stored token has expired and no new one could be had.
	ReasonExpired = "Expired"
	// ReasonInvalidResponse: the service answered JSON that holds no usable token.
	ReasonInvalidResponse = "InvalidResponse"
	// ReasonBadRequest: the service refused the request as malformed.
	ReasonBadRequest = "BadRequest"
	// ReasonSecretRejected: the API server refused to store the Secret (an
	// invalid label or annotation from spec.secretTemplate, a quota, RBAC, an
	// admission webhook or policy). The issued token is kept in memory and
	// stored, without a new login, once the cause is fixed.
	ReasonSecretRejected = "SecretRejected"
	// ReasonSecretWriteFailed: writing the Secret failed for a reason that may
	// pass by itself (the API server unavailable, a timeout, a write conflict).
	// The issued token is kept in memory and stored on a later attempt.
	ReasonSecretWriteFailed = "SecretWriteFailed"

	// ReasonValidated (Validated=True): the last check of the stored token
	// succeeded.
	ReasonValidated = "Validated"
	// ReasonSlotsInUse: both slots of the API key credentials item hold keys
	// the operator did not issue; it touches neither until
	// spec.apiKey.takeOverSlot names one.
	ReasonSlotsInUse = "SlotsInUse"
	// ReasonNotAPIKeyCredentials: spec.apiKey.itemID names an item that is not
	// API key credentials (its registered app's type is not "apikey").
	ReasonNotAPIKeyCredentials = "NotAPIKeyCredentials"
	// ReasonItemNotFound: the portal does not know spec.apiKey.itemID, or the
	// item is not the credentials' user's.
	ReasonItemNotFound = "ItemNotFound"
	// ReasonKeyStillValid: the previous API key still worked after its slot
	// was invalidated; invalidation is retried with backoff.
	ReasonKeyStillValid = "KeyStillValid"

	// ReasonValidationFailed (Validated=False): the check of the stored token
	// failed with something other than 498 (a 401 or 403 from a web tier or
	// firewall, a 5xx, a network error): the token may still be good, and the
	// check is retried with backoff up to spec.validationInterval.
	ReasonValidationFailed = "ValidationFailed"
)

// Event reasons that are not condition reasons. Failure events carry the
// condition reason of the failure.
const (
	// EventIssued: the first token was stored.
	EventIssued = "Issued"
	// EventRenewed: a new token replaced the stored one.
	EventRenewed = "Renewed"
	// EventExpirationClamped: the service granted a shorter lifetime than
	// spec.expirationMinutes.
	EventExpirationClamped = "ExpirationClamped"
	// EventRenewBeforeTooLong: spec.renewBefore or renewBeforePercentage would
	// renew the token less than half its granted lifetime after it was
	// issued; the default (a third of the lifetime) is used instead.
	EventRenewBeforeTooLong = "RenewBeforeTooLong"
	// EventClockSkew: the service's clock (its HTTP Date header) differs from
	// the operator's by more than 30 seconds.
	EventClockSkew = "ClockSkew"
	// EventRolloutRestartFailed: a workload of spec.rolloutRestartTargets
	// could not be restarted after a rotation.
	EventRolloutRestartFailed = "RolloutRestartFailed"
	// EventStatusWriteFailed: the status could not be written; it is retried.
	EventStatusWriteFailed = "StatusWriteFailed"
	// EventLifetimeClamped: spec.apiKey.lifetime is over a year; keys get 365
	// days.
	EventLifetimeClamped = "LifetimeClamped"
	// EventKeyInvalidated: the previous API key's slot was invalidated and
	// the key was seen to fail.
	EventKeyInvalidated = "KeyInvalidated"
)
