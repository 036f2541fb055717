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

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ServiceType names the kind of ArcGIS token service a token comes from.
// +kubebuilder:validation:Enum=Portal;Server;ServerAdmin;Federated;OAuth;APIKey
type ServiceType string

const (
	// ServiceTypePortal is an ArcGIS Enterprise portal or ArcGIS Online:
	// POST <url>/sharing/rest/generateToken.
	ServiceTypePortal ServiceType = "Portal"
	// ServiceTypeServer is a standalone ArcGIS Server: its token service is
	// discovered from <url>/rest/info.
	ServiceTypeServer ServiceType = "Server"
	// ServiceTypeServerAdmin is the ArcGIS Server administrator API:
	// POST <url>/admin/generateToken.
	ServiceTypeServerAdmin ServiceType = "ServerAdmin"
	// ServiceTypeFederated is an ArcGIS Server federated with a portal: a portal
	// token is exchanged for a server token at the portal's generateToken.
	ServiceTypeFederated ServiceType = "Federated"
	// ServiceTypeOAuth is an OAuth 2.0 application (client credentials grant):
	// POST <url>/sharing/rest/oauth2/token.
	ServiceTypeOAuth ServiceType = "OAuth"
	// ServiceTypeAPIKey is an API key of an API key credentials item (ArcGIS
	// Online, Location Platform, Enterprise 11.4+): the operator rotates the
	// item's two keys, using the item owner's login to manage it.
	ServiceTypeAPIKey ServiceType = "APIKey"
)

// ClientBinding says what a token is bound to.
// +kubebuilder:validation:Enum=Referer;IP;RequestIP
type ClientBinding string

const (
	// ClientBindingReferer binds the token to spec.referer; consumers must send
	// that value as their Referer header. The recommended binding: it survives
	// proxies, load balancers and NAT.
	ClientBindingReferer ClientBinding = "Referer"
	// ClientBindingIP binds the token to spec.ip.
	ClientBindingIP ClientBinding = "IP"
	// ClientBindingRequestIP binds the token to the address the operator's
	// request comes from, which is rarely the address of the pods that use it.
	ClientBindingRequestIP ClientBinding = "RequestIP"
)

// CredentialsReference names a Secret in the ArcGISToken's own namespace that
// holds the credentials. There is deliberately no namespace field.
type CredentialsReference struct {
	// name of the Secret, in the same namespace as the ArcGISToken.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",message="credentialsRef.name must be a valid object name (lower case letters, digits, '-' and '.')"
	// +required
	Name string `json:"name"`

	// usernameKey is the key holding the username (case-sensitive in ArcGIS).
	// Defaults to "username". Not used by OAuth.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	UsernameKey string `json:"usernameKey,omitempty"`

	// passwordKey is the key holding the password. Defaults to "password".
	// Not used by OAuth.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	PasswordKey string `json:"passwordKey,omitempty"`

	// clientIDKey is the key holding the OAuth application's client ID.
	// Defaults to "client_id". Used by OAuth only.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	ClientIDKey string `json:"clientIDKey,omitempty"`

	// clientSecretKey is the key holding the OAuth application's client secret.
	// Defaults to "client_secret". Used by OAuth only.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	ClientSecretKey string `json:"clientSecretKey,omitempty"`
}

// CABundleKind is the kind of object a CA bundle is read from.
// +kubebuilder:validation:Enum=ConfigMap;Secret
type CABundleKind string

const (
	// CABundleKindConfigMap reads the bundle from a ConfigMap.
	CABundleKindConfigMap CABundleKind = "ConfigMap"
	// CABundleKindSecret reads the bundle from a Secret.
	CABundleKindSecret CABundleKind = "Secret"
)

// CABundleReference names a ConfigMap or Secret in the ArcGISToken's namespace
// holding PEM-encoded root certificates, for services signed by a private CA.
type CABundleReference struct {
	// kind of the object holding the bundle.
	// +kubebuilder:default=ConfigMap
	// +optional
	Kind CABundleKind `json:"kind,omitempty"`

	// name of the ConfigMap or Secret, in the same namespace as the ArcGISToken.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",message="caBundleRef.name must be a valid object name (lower case letters, digits, '-' and '.')"
	// +required
	Name string `json:"name"`

	// key holding the PEM bundle.
	// +kubebuilder:default="ca.crt"
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +optional
	Key string `json:"key,omitempty"`
}

// SecretTemplate holds metadata added to the Secret the token is written to.
type SecretTemplate struct {
	// labels added to the Secret. Keys of the arcgis.tokenoperator.dev/ domain
	// and app.kubernetes.io/managed-by are the operator's.
	// +kubebuilder:validation:XValidation:rule="self.all(k, !k.startsWith('arcgis.tokenoperator.dev/') && k != 'app.kubernetes.io/managed-by')",message="labels of the arcgis.tokenoperator.dev/ domain and app.kubernetes.io/managed-by are set by the operator"
	// +optional
	Labels map[string]string `json:"labels,omitempty"`

	// annotations added to the Secret, for example for a tool that restarts
	// the workloads that mount it when it changes. Keys of the
	// arcgis.tokenoperator.dev/ domain are the operator's.
	// +kubebuilder:validation:XValidation:rule="self.all(k, !k.startsWith('arcgis.tokenoperator.dev/'))",message="annotations of the arcgis.tokenoperator.dev/ domain are set by the operator"
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
}

// WorkloadKind is a kind of workload that can be restarted.
// +kubebuilder:validation:Enum=Deployment;StatefulSet;DaemonSet
type WorkloadKind string

// Kinds of workloads that can be restarted after a rotation.
const (
	WorkloadKindDeployment  WorkloadKind = "Deployment"
	WorkloadKindStatefulSet WorkloadKind = "StatefulSet"
	WorkloadKindDaemonSet   WorkloadKind = "DaemonSet"
)

// RolloutRestartTarget names a workload, in the ArcGISToken's namespace, that
// is restarted (as by kubectl rollout restart) after the token rotates.
type RolloutRestartTarget struct {
	// kind of the workload.
	// +required
	Kind WorkloadKind `json:"kind"`

	// name of the workload.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	Name string `json:"name"`
}

// APIKeySlot is one of the two key slots of an API key credentials item.
// +kubebuilder:validation:Minimum=1
// +kubebuilder:validation:Maximum=2
type APIKeySlot int32

// APIKeySpec says which API key credentials item's keys to rotate, and how.
type APIKeySpec struct {
	// itemID is the ID of the API key credentials item, 32 hexadecimal
	// characters (the id in the item page's URL). spec.credentialsRef must
	// hold its owner's username and password.
	// +kubebuilder:validation:MinLength=32
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="self.matches('^[0-9a-fA-F]{32}$')",message="itemID must be 32 hexadecimal characters, the id in the item page's URL"
	// +required
	ItemID string `json:"itemID"`

	// lifetime is how long each new key is valid: its slot's expiration date
	// is set to the time it is issued plus lifetime. ArcGIS allows at most one
	// year; a longer lifetime is clamped to 365 days with a Warning event.
	// Defaults to 2160h (90 days). Lifetimes of minutes are for demos and
	// tests.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) >= duration('1m')",message="lifetime must be at least 1m"
	// +optional
	Lifetime *metav1.Duration `json:"lifetime,omitempty"`

	// retireAfter is how long the previous key keeps working after the new
	// one is stored and spec.rolloutRestartTargets were restarted; then its
	// slot is invalidated. "0s" never invalidates it: it works until its own
	// expiration date or the next rotation. Defaults to 24h.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +optional
	RetireAfter *metav1.Duration `json:"retireAfter,omitempty"`

	// takeOverSlot names a slot that held a live key when the operator first
	// looked, and that it may nevertheless regenerate (which ends that key).
	// Without it, a slot holding a key the operator did not issue is never
	// touched: when both are busy the ArcGISToken waits with reason
	// SlotsInUse.
	// +optional
	TakeOverSlot *APIKeySlot `json:"takeOverSlot,omitempty"`
}

// ArcGISTokenSpec says which ArcGIS token service to ask, with which
// credentials, how the token is bound, and where to store it.
//
// +kubebuilder:validation:XValidation:rule="self.type == 'Federated' ? has(self.serverURL) : !has(self.serverURL)",message="serverURL is required when type is Federated and must not be set for other types"
// +kubebuilder:validation:XValidation:rule="self.type == 'APIKey' ? has(self.apiKey) : !has(self.apiKey)",message="apiKey is required when type is APIKey and must not be set for other types"
// +kubebuilder:validation:XValidation:rule="self.type == 'OAuth' || self.type == 'APIKey' || self.client != 'Referer' || (has(self.referer) && size(self.referer) > 0)",message="referer is required when client is Referer (the default); set spec.referer to the value consumers send as their Referer header"
// +kubebuilder:validation:XValidation:rule="self.type == 'OAuth' || self.client != 'IP' || (has(self.ip) && size(self.ip) > 0)",message="ip is required when client is IP"
// +kubebuilder:validation:XValidation:rule="!(has(self.renewBefore) && has(self.renewBeforePercentage))",message="set at most one of renewBefore and renewBeforePercentage"
type ArcGISTokenSpec struct {
	// type of token service: Portal (ArcGIS Enterprise portal or ArcGIS Online),
	// Server (standalone ArcGIS Server), ServerAdmin (ArcGIS Server administrator
	// API), Federated (an ArcGIS Server federated with a portal), OAuth (an
	// application's client credentials) or APIKey (the keys of an API key
	// credentials item, see spec.apiKey).
	// +required
	Type ServiceType `json:"type"`

	// apiKey says which API key credentials item to rotate keys of (APIKey
	// only). spec.url is then the portal (https://www.arcgis.com for ArcGIS
	// Online), spec.credentialsRef the item owner's username and password,
	// and spec.referer, if set, the Referer sent with the keys when they are
	// checked (needed when the item restricts referrers).
	// +optional
	APIKey *APIKeySpec `json:"apiKey,omitempty"`

	// url is the root of the service: the portal for Portal, Federated and OAuth
	// (for example https://gis.example.com/portal or https://www.arcgis.com), the
	// server for Server and ServerAdmin (for example https://gis.example.com/server).
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() == 'https' && url(self).getHostname() != ''",message="url must be an absolute https:// URL"
	// +kubebuilder:validation:XValidation:rule="!self.contains('?') && !self.contains('#')",message="url must not carry a query or fragment"
	// +required
	URL string `json:"url"`

	// serverURL is the root of the federated ArcGIS Server the token is for
	// (Federated only), for example https://gis.example.com/server.
	// +kubebuilder:validation:MaxLength=2048
	// +kubebuilder:validation:XValidation:rule="isURL(self) && url(self).getScheme() == 'https' && url(self).getHostname() != ''",message="serverURL must be an absolute https:// URL"
	// +kubebuilder:validation:XValidation:rule="!self.contains('?') && !self.contains('#')",message="serverURL must not carry a query or fragment"
	// +optional
	ServerURL string `json:"serverURL,omitempty"`

	// credentialsRef names the Secret, in this namespace, holding the username
	// and password (or, for OAuth, the client ID and client secret).
	// +required
	CredentialsRef CredentialsReference `json:"credentialsRef"`

	// client is what the token is bound to. Referer is the default and the
	// recommended binding; IP-bound tokens break behind proxies and NAT.
	// Ignored by OAuth.
	// +kubebuilder:default=Referer
	// +optional
	Client ClientBinding `json:"client,omitempty"`

	// referer the token is bound to when client is Referer. Consumers of the
	// token must send it as their Referer header; it is copied into the Secret.
	// +kubebuilder:validation:MaxLength=2048
	// +optional
	Referer string `json:"referer,omitempty"`

	// ip the token is bound to when client is IP.
	// +kubebuilder:validation:MaxLength=45
	// +kubebuilder:validation:XValidation:rule="isIP(self)",message="ip must be an IPv4 or IPv6 address"
	// +optional
	IP string `json:"ip,omitempty"`

	// expirationMinutes is the lifetime asked for. The service may grant less
	// (it caps lifetimes silently); renewal is computed from what it granted.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=20160
	// +kubebuilder:default=60
	// +optional
	ExpirationMinutes int32 `json:"expirationMinutes,omitempty"`

	// renewBefore is how long before expiry the token is renewed. It is used
	// only when it is at most half the granted lifetime; otherwise the default
	// (a third of the lifetime) is used and a RenewBeforeTooLong event says
	// so. A token is never renewed before half its lifetime.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="renewBefore must be positive"
	// +optional
	RenewBefore *metav1.Duration `json:"renewBefore,omitempty"`

	// renewBeforePercentage renews the token when this percentage of its granted
	// lifetime remains. When neither this nor renewBefore is set, the token is
	// renewed when a third of its lifetime remains.
	// +kubebuilder:validation:Minimum=1
	// +kubebuilder:validation:Maximum=99
	// +optional
	RenewBeforePercentage *int32 `json:"renewBeforePercentage,omitempty"`

	// secretName is the Secret the token is written to, in this namespace.
	// Defaults to the ArcGISToken's name.
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$')",message="secretName must be a valid Secret name (lower case letters, digits, '-' and '.')"
	// +optional
	SecretName string `json:"secretName,omitempty"`

	// secretTemplate holds labels and annotations added to the Secret.
	// +optional
	SecretTemplate *SecretTemplate `json:"secretTemplate,omitempty"`

	// caBundleRef names PEM root certificates for a service signed by a private
	// CA. The system roots are used when it is not set.
	// +optional
	CABundleRef *CABundleReference `json:"caBundleRef,omitempty"`

	// validationInterval is how often the stored token is checked against the
	// service; a token found revoked (498) is re-issued at once. "0s" turns the
	// check off. Defaults to 10m.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ns|us|µs|ms|s|m|h))+$`
	// +kubebuilder:validation:XValidation:rule="duration(self) == duration('0s') || duration(self) >= duration('1m')",message="validationInterval must be 0s (off) or at least 1m"
	// +optional
	ValidationInterval *metav1.Duration `json:"validationInterval,omitempty"`

	// suspend stops issuing and renewing. The Secret is kept as it is.
	// +optional
	Suspend bool `json:"suspend,omitempty"`

	// rolloutRestartTargets are workloads in this namespace restarted after
	// the token rotates, for consumers that read the token only at start (for
	// example from an environment variable). Restarts are debounced: several
	// tokens rotating together restart a workload once. Not needed for
	// consumers that re-read the mounted Secret file.
	// +kubebuilder:validation:MaxItems=32
	// +listType=map
	// +listMapKey=kind
	// +listMapKey=name
	// +optional
	RolloutRestartTargets []RolloutRestartTarget `json:"rolloutRestartTargets,omitempty"`
}

// ArcGISTokenStatus is the observed state of an ArcGISToken.
type ArcGISTokenStatus struct {
	// observedGeneration is the generation the status was computed from.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// conditions: Ready says whether the Secret holds a usable token; Issuing
	// says a new token is due or being fetched, and why the last attempt failed.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// secretName is the Secret holding the token.
	// +optional
	SecretName string `json:"secretName,omitempty"`

	// issuedAt is when the stored token was issued.
	// +optional
	IssuedAt *metav1.Time `json:"issuedAt,omitempty"`

	// expiresAt is when the stored token expires, as the service granted it.
	// +optional
	ExpiresAt *metav1.Time `json:"expiresAt,omitempty"`

	// renewalTime is when the token will be renewed.
	// +optional
	RenewalTime *metav1.Time `json:"renewalTime,omitempty"`

	// grantedMinutes is the lifetime the service granted, which can be less than
	// spec.expirationMinutes.
	// +optional
	GrantedMinutes int32 `json:"grantedMinutes,omitempty"`

	// identity is the user (or application) the token belongs to.
	// +optional
	Identity string `json:"identity,omitempty"`

	// failedAttempts counts the attempts that failed since the last success.
	// +optional
	FailedAttempts int32 `json:"failedAttempts,omitempty"`

	// lastFailureTime is when the last attempt failed.
	// +optional
	LastFailureTime *metav1.Time `json:"lastFailureTime,omitempty"`

	// lastFailureReason is the reason of the last failed attempt.
	// +optional
	LastFailureReason string `json:"lastFailureReason,omitempty"`

	// revokedAt is when the stored token was found revoked (the service
	// answered 498 when it was checked). Cleared when a new token is stored.
	// +optional
	RevokedAt *metav1.Time `json:"revokedAt,omitempty"`

	// lastFailureFingerprint identifies the spec (and its generation) and the
	// versions of the credentials and CA bundle that the failed attempts used.
	// It holds nothing derived from a secret. When any of them changes (any
	// edit of the spec), the next attempt is made at once.
	// +optional
	LastFailureFingerprint string `json:"lastFailureFingerprint,omitempty"`

	// apiKey is the state of the API key credentials item's slots (APIKey
	// only). issuedAt, expiresAt and renewalTime above are those of the key
	// in the Secret; renewalTime is when it is rotated to the other slot.
	// +optional
	APIKey *APIKeyStatus `json:"apiKey,omitempty"`
}

// APIKeyStep is where an API key rotation stands. Each step is recorded
// before the call it makes, so that a restart repeats only steps that are
// safe to repeat.
// +kubebuilder:validation:Enum=Idle;SetExpiration;Regenerate;RestartTargets;Retire;Invalidate
type APIKeyStep string

// Steps of an API key rotation, in order.
const (
	// APIKeyStepIdle: no rotation in progress.
	APIKeyStepIdle APIKeyStep = "Idle"
	// APIKeyStepSetExpiration: setting nextSlot's expiration date.
	APIKeyStepSetExpiration APIKeyStep = "SetExpiration"
	// APIKeyStepRegenerate: regenerating nextSlot and storing its key.
	APIKeyStepRegenerate APIKeyStep = "Regenerate"
	// APIKeyStepRestartTargets: the new key is stored; restarting
	// spec.rolloutRestartTargets.
	APIKeyStepRestartTargets APIKeyStep = "RestartTargets"
	// APIKeyStepRetire: waiting for retireTime to invalidate previousSlot.
	APIKeyStepRetire APIKeyStep = "Retire"
	// APIKeyStepInvalidate: invalidating previousSlot and checking that its
	// key no longer works.
	APIKeyStepInvalidate APIKeyStep = "Invalidate"
)

// APIKeySlotStatus is what the operator knows of one slot.
type APIKeySlotStatus struct {
	// slot is 1 or 2.
	// +required
	Slot APIKeySlot `json:"slot"`

	// expiresAt is the slot's expiration date as the item last said, or as
	// the operator set it; its next key expires then.
	// +optional
	ExpiresAt *metav1.Time `json:"expiresAt,omitempty"`

	// active says whether the slot held a live key when last read.
	// +optional
	Active bool `json:"active,omitempty"`

	// managed says that the operator may regenerate and invalidate the slot:
	// it issued the slot's key, was allowed to take it over, or found it
	// without a live key. A slot found holding a key it did not issue is not
	// managed until spec.apiKey.takeOverSlot names it.
	// +optional
	Managed bool `json:"managed,omitempty"`
}

// APIKeyStatus is the state of an API key credentials item's slots.
type APIKeyStatus struct {
	// itemID is the item the rest of this status is about; when
	// spec.apiKey.itemID changes, the operator starts over with the new item.
	// +optional
	ItemID string `json:"itemID,omitempty"`

	// slot holds the key stored in the Secret.
	// +optional
	Slot APIKeySlot `json:"slot,omitempty"`

	// slots is what the operator knows of each slot.
	// +listType=map
	// +listMapKey=slot
	// +kubebuilder:validation:MaxItems=2
	// +optional
	Slots []APIKeySlotStatus `json:"slots,omitempty"`

	// step is where the current rotation stands (Idle when none is in
	// progress).
	// +optional
	Step APIKeyStep `json:"step,omitempty"`

	// stepStartedAt is when step began.
	// +optional
	StepStartedAt *metav1.Time `json:"stepStartedAt,omitempty"`

	// nextSlot is the slot being issued by the rotation in progress.
	// +optional
	NextSlot APIKeySlot `json:"nextSlot,omitempty"`

	// nextExpiresAt is the expiration date set for nextSlot's key.
	// +optional
	NextExpiresAt *metav1.Time `json:"nextExpiresAt,omitempty"`

	// previousSlot held the key the last rotation replaced.
	// +optional
	PreviousSlot APIKeySlot `json:"previousSlot,omitempty"`

	// retireTime is when previousSlot is invalidated (spec.apiKey.retireAfter
	// after the targets were restarted).
	// +optional
	RetireTime *metav1.Time `json:"retireTime,omitempty"`

	// previousInvalidatedAt is when previousSlot was invalidated and its key
	// was seen to fail (498).
	// +optional
	PreviousInvalidatedAt *metav1.Time `json:"previousInvalidatedAt,omitempty"`

	// previousNotInvalidatedReason says why previousSlot was not invalidated
	// (retireAfter is 0s, the slot now holds a key the operator did not
	// issue, the old key still worked after invalidation).
	// +optional
	PreviousNotInvalidatedReason string `json:"previousNotInvalidatedReason,omitempty"`
}

// ArcGISToken keeps a short-lived ArcGIS token in a Secret: it issues the
// token, renews it well before it expires, re-issues it when it is revoked, and
// reports every failure as conditions, events and metrics.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=agt,categories=arcgis
// +kubebuilder:printcolumn:name="Type",type=string,JSONPath=`.spec.type`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Secret",type=string,JSONPath=`.status.secretName`,priority=1
// +kubebuilder:printcolumn:name="Expires",type=string,JSONPath=`.status.expiresAt`
// +kubebuilder:printcolumn:name="Renewal",type=string,JSONPath=`.status.renewalTime`
// +kubebuilder:printcolumn:name="Message",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].message`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ArcGISToken struct {
	metav1.TypeMeta `json:",inline"`

	// metadata is standard object metadata.
	// +optional
	metav1.ObjectMeta `json:"metadata,omitzero"`

	// spec says which token to keep and where.
	// +required
	Spec ArcGISTokenSpec `json:"spec"`

	// status is the observed state of the token.
	// +optional
	Status ArcGISTokenStatus `json:"status,omitzero"`
}

// ArcGISTokenList is a list of ArcGISTokens.
//
// +kubebuilder:object:root=true
type ArcGISTokenList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitzero"`
	Items           []ArcGISToken `json:"items"`
}
