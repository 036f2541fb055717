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

// Package tokenspec turns an ArcGISToken's spec, and the credentials and CA
// bundle it references, into requests for the ArcGIS client, and fingerprints
// those inputs so that a change to any of them is noticed. It is pure: no I/O,
// no clock.
package tokenspec

import (
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net"
	"net/url"
	"regexp"
	"strings"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
	"github.com/tokenoperator/arcgis-token-operator/internal/arcgis"
)

// InputError says why the inputs of an ArcGISToken cannot become a request.
// Its Reason is a condition reason (CredentialsNotFound or InvalidSpec) and its
// Message names keys and objects, never their values.
type InputError struct {
	Reason  string
	Message string
}

func (e *InputError) Error() string { return e.Reason + ": " + e.Message }

func invalidSpec(format string, args ...any) error {
	return &InputError{Reason: arcgisv1alpha1.ReasonInvalidSpec, Message: fmt.Sprintf(format, args...)}
}

func credentialsNotFound(format string, args ...any) error {
	return &InputError{Reason: arcgisv1alpha1.ReasonCredentialsNotFound, Message: fmt.Sprintf(format, args...)}
}

// SecretName is the name of the Secret the token is written to.
func SecretName(t *arcgisv1alpha1.ArcGISToken) string {
	if t.Spec.SecretName != "" {
		return t.Spec.SecretName
	}
	return t.Name
}

// CredentialKeys returns the keys of the credentials Secret that hold the
// identity (username or client ID) and the secret (password or client secret).
func CredentialKeys(spec *arcgisv1alpha1.ArcGISTokenSpec) (idKey, secretKey string) {
	ref := spec.CredentialsRef
	if spec.Type == arcgisv1alpha1.ServiceTypeOAuth {
		return orDefault(ref.ClientIDKey, arcgisv1alpha1.DefaultClientIDKey),
			orDefault(ref.ClientSecretKey, arcgisv1alpha1.DefaultClientSecretKey)
	}
	return orDefault(ref.UsernameKey, arcgisv1alpha1.DefaultUsernameKey),
		orDefault(ref.PasswordKey, arcgisv1alpha1.DefaultPasswordKey)
}

// Credentials reads the credentials from the data of the credentials Secret.
// A trailing newline, which `echo` and editors often leave in files turned into
// Secrets, is dropped; anything else is taken as it is (ArcGIS usernames are
// case-sensitive).
func Credentials(spec *arcgisv1alpha1.ArcGISTokenSpec, data map[string][]byte) (arcgis.Credentials, error) {
	idKey, secretKey := CredentialKeys(spec)
	id, err := credentialValue(spec.CredentialsRef.Name, data, idKey)
	if err != nil {
		return arcgis.Credentials{}, err
	}
	secret, err := credentialValue(spec.CredentialsRef.Name, data, secretKey)
	if err != nil {
		return arcgis.Credentials{}, err
	}
	if spec.Type == arcgisv1alpha1.ServiceTypeOAuth {
		return arcgis.Credentials{ClientID: id, ClientSecret: secret}, nil
	}
	return arcgis.Credentials{Username: id, Password: secret}, nil
}

func credentialValue(secretName string, data map[string][]byte, key string) (string, error) {
	raw, ok := data[key]
	if !ok {
		return "", credentialsNotFound("Secret %q has no key %q", secretName, key)
	}
	v := strings.TrimRight(string(raw), "\r\n")
	if v == "" {
		return "", credentialsNotFound("key %q of Secret %q is empty", key, secretName)
	}
	return v, nil
}

// CABundle checks that the referenced CA bundle holds at least one PEM
// certificate and returns it.
func CABundle(ref *arcgisv1alpha1.CABundleReference, value []byte, found bool) ([]byte, error) {
	kind, key := CABundleKindKey(ref)
	if !found {
		return nil, invalidSpec("%s %q has no key %q", kind, ref.Name, key)
	}
	rest := value
	certs := 0
	for {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		if _, err := x509.ParseCertificate(block.Bytes); err != nil {
			return nil, invalidSpec("key %q of %s %q holds a certificate that cannot be parsed", key, kind, ref.Name)
		}
		certs++
	}
	if certs == 0 {
		return nil, invalidSpec("key %q of %s %q holds no PEM certificate", key, kind, ref.Name)
	}
	return value, nil
}

// CABundleKindKey returns the kind and key of a CA bundle reference, defaulted.
func CABundleKindKey(ref *arcgisv1alpha1.CABundleReference) (arcgisv1alpha1.CABundleKind, string) {
	kind := ref.Kind
	if kind == "" {
		kind = arcgisv1alpha1.CABundleKindConfigMap
	}
	return kind, orDefault(ref.Key, "ca.crt")
}

// Binding returns how the token is bound. OAuth tokens are not bound; an
// API key is sent with spec.referer when one is set (items may restrict the
// referrers their keys work from).
func Binding(spec *arcgisv1alpha1.ArcGISTokenSpec) arcgis.Binding {
	switch spec.Type {
	case arcgisv1alpha1.ServiceTypeOAuth:
		return arcgis.Binding{}
	case arcgisv1alpha1.ServiceTypeAPIKey:
		if spec.Referer == "" {
			return arcgis.Binding{}
		}
		return arcgis.Binding{Client: arcgis.ClientReferer, Referer: spec.Referer}
	}
	switch spec.Client {
	case arcgisv1alpha1.ClientBindingIP:
		return arcgis.Binding{Client: arcgis.ClientIP, IP: spec.IP}
	case arcgisv1alpha1.ClientBindingRequestIP:
		return arcgis.Binding{Client: arcgis.ClientRequestIP}
	default:
		return arcgis.Binding{Client: arcgis.ClientReferer, Referer: spec.Referer}
	}
}

// TokenRequest builds the request for a new token. It checks again what the
// CRD validates, because objects may predate the validation or reach the
// operator from an API server that does not enforce it.
func TokenRequest(spec *arcgisv1alpha1.ArcGISTokenSpec, creds arcgis.Credentials, caBundle []byte) (arcgis.TokenRequest, error) {
	if err := checkSpec(spec); err != nil {
		return arcgis.TokenRequest{}, err
	}
	if spec.Type == arcgisv1alpha1.ServiceTypeAPIKey {
		return ownerLogin(spec, creds, caBundle), nil
	}
	minutes := expirationMinutes(spec)
	return arcgis.TokenRequest{
		Type:              arcgis.ServiceType(spec.Type),
		URL:               normalizeURL(spec.URL),
		ServerURL:         normalizeURL(spec.ServerURL),
		Credentials:       creds,
		Binding:           Binding(spec),
		ExpirationMinutes: minutes,
		CABundle:          caBundle,
	}, nil
}

// ownerLoginMinutes is the lifetime of the item owner's token: one
// reconcile's worth of calls, never stored.
const ownerLoginMinutes = 30

// ownerLogin is the login of an API key item's owner: an ordinary portal
// login (so the account guard spaces it like any other), bound to
// spec.referer or else to the portal's own URL, since a referer-bound token
// needs no particular address.
func ownerLogin(spec *arcgisv1alpha1.ArcGISTokenSpec, creds arcgis.Credentials, caBundle []byte) arcgis.TokenRequest {
	referer := spec.Referer
	if referer == "" {
		referer = normalizeURL(spec.URL)
	}
	return arcgis.TokenRequest{
		Type:              arcgis.Portal,
		URL:               normalizeURL(spec.URL),
		Credentials:       creds,
		Binding:           arcgis.Binding{Client: arcgis.ClientReferer, Referer: referer},
		ExpirationMinutes: ownerLoginMinutes,
		CABundle:          caBundle,
	}
}

// ValidateRequest builds the request that checks a stored token.
func ValidateRequest(spec *arcgisv1alpha1.ArcGISTokenSpec, token string, caBundle []byte) arcgis.ValidateRequest {
	return arcgis.ValidateRequest{
		Type:      arcgis.ServiceType(spec.Type),
		URL:       normalizeURL(spec.URL),
		ServerURL: normalizeURL(spec.ServerURL),
		Token:     token,
		Binding:   Binding(spec),
		CABundle:  caBundle,
	}
}

// ServiceURL is the URL of the service the token is for: the server for
// Federated, the spec's url otherwise.
func ServiceURL(spec *arcgisv1alpha1.ArcGISTokenSpec) string {
	if spec.Type == arcgisv1alpha1.ServiceTypeFederated {
		return normalizeURL(spec.ServerURL)
	}
	return normalizeURL(spec.URL)
}

// AccountKey names the account a login is made with: where the login happens
// and who logs in. Every ArcGISToken with the same key shares one lock-out
// counter on the service, so they share one circuit breaker in the operator.
//
// The service is named by its canonical root, so that two spellings of one
// URL share the counter as they share it on the service.
func AccountKey(spec *arcgisv1alpha1.ArcGISTokenSpec, creds arcgis.Credentials) string {
	realm, portal := "portal", true
	switch spec.Type {
	case arcgisv1alpha1.ServiceTypeServer, arcgisv1alpha1.ServiceTypeServerAdmin:
		realm, portal = "server", false
	case arcgisv1alpha1.ServiceTypeOAuth:
		realm = "oauth"
	}
	// Lower case throughout: counting two spellings as one account is the
	// safe side (some web adaptors ignore case in the path, some do not).
	root, err := arcgis.ServiceRoot(spec.URL, portal)
	if err != nil {
		root = normalizeURL(spec.URL)
	}
	root = strings.ToLower(root)
	if spec.Type == arcgisv1alpha1.ServiceTypeOAuth {
		return realm + " " + root + " " + creds.ClientID
	}
	// Usernames are case-sensitive in ArcGIS: "Admin" and "admin" are two accounts.
	return realm + " " + root + " " + creds.Username
}

// SpecFingerprint hashes the spec fields a token depends on. Fields that only
// change when or where it is stored (renewal, secretName, secretTemplate,
// validation, suspend) are left out, so changing them does not re-issue.
func SpecFingerprint(spec *arcgisv1alpha1.ArcGISTokenSpec) string {
	idKey, secretKey := CredentialKeys(spec)
	fields := []any{
		"v1", spec.Type, normalizeURL(spec.URL), normalizeURL(spec.ServerURL),
		spec.CredentialsRef.Name, idKey, secretKey,
		Binding(spec), expirationMinutes(spec),
	}
	if spec.CABundleRef != nil {
		kind, key := CABundleKindKey(spec.CABundleRef)
		fields = append(fields, kind, spec.CABundleRef.Name, key)
	}
	if k := spec.APIKey; k != nil {
		// For API keys the fingerprint restarts the backoff of a failure
		// (a new takeOverSlot is tried at once); the lifecycle itself
		// follows status.apiKey, so it mints no key by itself.
		fields = append(fields, "apiKey", k.ItemID, k.Lifetime, k.RetireAfter, k.TakeOverSlot)
	}
	return hash(fields)
}

// InputsFingerprint identifies the version of the referenced objects a token
// was issued with: the credentials Secret by UID and resourceVersion (never by
// its content, so that nothing derived from a password is stored), the CA
// bundle by its content (certificates are public).
func InputsFingerprint(credentialsUID, credentialsResourceVersion string, caBundle []byte) string {
	ca := ""
	if len(caBundle) > 0 {
		sum := sha256.Sum256(caBundle)
		ca = hex.EncodeToString(sum[:])
	}
	return hash([]any{"v1", credentialsUID, credentialsResourceVersion, ca})
}

func hash(fields []any) string {
	b, err := json.Marshal(fields)
	if err != nil {
		// Only plain strings, numbers and structs of them are hashed.
		panic(fmt.Sprintf("tokenspec: cannot fingerprint: %v", err))
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:8])
}

func checkSpec(spec *arcgisv1alpha1.ArcGISTokenSpec) error {
	switch spec.Type {
	case arcgisv1alpha1.ServiceTypePortal, arcgisv1alpha1.ServiceTypeServer, arcgisv1alpha1.ServiceTypeServerAdmin,
		arcgisv1alpha1.ServiceTypeFederated, arcgisv1alpha1.ServiceTypeOAuth, arcgisv1alpha1.ServiceTypeAPIKey:
	default:
		return invalidSpec("type %q is not one of Portal, Server, ServerAdmin, Federated, OAuth, APIKey", spec.Type)
	}
	if (spec.Type == arcgisv1alpha1.ServiceTypeAPIKey) != (spec.APIKey != nil) {
		return invalidSpec("apiKey is required when type is APIKey and must not be set for other types")
	}
	if err := checkURL("url", spec.URL); err != nil {
		return err
	}
	if spec.Type == arcgisv1alpha1.ServiceTypeFederated {
		if err := checkURL("serverURL", spec.ServerURL); err != nil {
			return err
		}
	} else if spec.ServerURL != "" {
		return invalidSpec("serverURL is only used by type Federated")
	}
	if spec.ExpirationMinutes < 0 || spec.ExpirationMinutes > 20160 {
		return invalidSpec("expirationMinutes must be between 1 and 20160")
	}
	if spec.Type == arcgisv1alpha1.ServiceTypeOAuth {
		return nil
	}
	if spec.Type == arcgisv1alpha1.ServiceTypeAPIKey {
		if !itemIDPattern.MatchString(spec.APIKey.ItemID) {
			return invalidSpec("apiKey.itemID must be 32 hexadecimal characters")
		}
		if strings.ContainsAny(spec.Referer, "\r\n") {
			return invalidSpec("referer must be a single line")
		}
		return nil
	}
	switch spec.Client {
	case "", arcgisv1alpha1.ClientBindingReferer:
		if spec.Referer == "" {
			return invalidSpec("referer is required when client is Referer")
		}
		if strings.ContainsAny(spec.Referer, "\r\n") {
			return invalidSpec("referer must be a single line")
		}
	case arcgisv1alpha1.ClientBindingIP:
		if net.ParseIP(spec.IP) == nil {
			return invalidSpec("ip must be an IPv4 or IPv6 address when client is IP")
		}
	case arcgisv1alpha1.ClientBindingRequestIP:
	default:
		return invalidSpec("client %q is not one of Referer, IP, RequestIP", spec.Client)
	}
	return nil
}

// itemIDPattern is an ArcGIS item ID.
var itemIDPattern = regexp.MustCompile(`^[0-9a-fA-F]{32}$`)

func checkURL(field, raw string) error {
	u, err := url.Parse(raw)
	if err != nil || u.Scheme != "https" || u.Host == "" || u.Hostname() == "" {
		return invalidSpec("%s must be an absolute https:// URL", field)
	}
	// A bare "?" or "#" counts too: the CRD refuses them, and they would
	// make another spelling of the same service.
	if u.RawQuery != "" || u.ForceQuery || u.Fragment != "" || strings.Contains(raw, "#") || u.User != nil {
		return invalidSpec("%s must not carry a query, fragment or user information", field)
	}
	return nil
}

// DefaultExpirationMinutes is the lifetime asked for when the spec does not
// say (the CRD defaults it too).
const DefaultExpirationMinutes = 60

func expirationMinutes(spec *arcgisv1alpha1.ArcGISTokenSpec) int {
	if spec.ExpirationMinutes == 0 {
		return DefaultExpirationMinutes
	}
	return int(spec.ExpirationMinutes)
}

func normalizeURL(raw string) string {
	return strings.TrimRight(raw, "/")
}

func orDefault(v, def string) string {
	if v == "" {
		return def
	}
	return v
}
