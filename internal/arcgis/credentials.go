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
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"strconv"
)

// Credentials, tokens and requests holding them are printed and logged with
// the secret parts replaced, whatever the verb: %v, %+v, %#v, %s, %q, nested
// in another struct, through log/slog or through encoding/json (which
// structured loggers such as zap use). Code that needs a secret reads its
// field.

// mask stands in for a secret: empty stays empty, so that "not set" can be
// told apart from "set".
func mask(s string) string {
	if s == "" {
		return ""
	}
	return redacted
}

func (c Credentials) masked() Credentials {
	c.Password = mask(c.Password)
	c.ClientSecret = mask(c.ClientSecret)
	return c
}

// String implements fmt.Stringer without the secrets.
func (c Credentials) String() string {
	m := c.masked()
	return fmt.Sprintf("{Username:%s Password:%s ClientID:%s ClientSecret:%s}", m.Username, m.Password, m.ClientID, m.ClientSecret)
}

// GoString implements fmt.GoStringer without the secrets.
func (c Credentials) GoString() string {
	m := c.masked()
	return fmt.Sprintf("arcgis.Credentials{Username:%q, Password:%q, ClientID:%q, ClientSecret:%q}", m.Username, m.Password, m.ClientID, m.ClientSecret)
}

// Format implements fmt.Formatter, so that no verb prints the secrets.
func (c Credentials) Format(f fmt.State, verb rune) { formatMasked(f, verb, c.String(), c.GoString()) }

// LogValue implements slog.LogValuer without the secrets.
func (c Credentials) LogValue() slog.Value {
	m := c.masked()
	return slog.GroupValue(
		slog.String("username", m.Username), slog.String("password", m.Password),
		slog.String("clientID", m.ClientID), slog.String("clientSecret", m.ClientSecret))
}

// MarshalJSON implements json.Marshaler without the secrets; Credentials
// are never meant to be serialised.
func (c Credentials) MarshalJSON() ([]byte, error) {
	type plain Credentials // no methods: no recursion
	return json.Marshal(plain(c.masked()))
}

// String implements fmt.Stringer without the token value.
func (t Token) String() string {
	return fmt.Sprintf("{Token:%s Expires:%s SSL:%t ServiceURL:%s}", mask(t.Token), t.Expires, t.SSL, t.ServiceURL)
}

// GoString implements fmt.GoStringer without the token value.
func (t Token) GoString() string {
	return fmt.Sprintf("arcgis.Token{Token:%q, Expires:%#v, SSL:%t, ServiceURL:%q}", mask(t.Token), t.Expires, t.SSL, t.ServiceURL)
}

// Format implements fmt.Formatter, so that no verb prints the token value.
func (t Token) Format(f fmt.State, verb rune) { formatMasked(f, verb, t.String(), t.GoString()) }

// MarshalJSON implements json.Marshaler without the token value, for
// structured loggers. A Token is not meant to be serialised: the value goes
// into the Secret from the Token field.
func (t Token) MarshalJSON() ([]byte, error) {
	type plain Token
	t.Token = mask(t.Token)
	return json.Marshal(plain(t))
}

// String implements fmt.Stringer without the token value.
func (r ValidateRequest) String() string {
	return fmt.Sprintf("{Type:%s URL:%s ServerURL:%s Token:%s Binding:%+v CABundle:%d bytes}", r.Type, r.URL, r.ServerURL, mask(r.Token), r.Binding, len(r.CABundle))
}

// GoString implements fmt.GoStringer without the token value.
func (r ValidateRequest) GoString() string {
	return fmt.Sprintf("arcgis.ValidateRequest{Type:%q, URL:%q, ServerURL:%q, Token:%q, Binding:%#v, CABundle:%#v}", r.Type, r.URL, r.ServerURL, mask(r.Token), r.Binding, r.CABundle)
}

// Format implements fmt.Formatter, so that no verb prints the token value.
func (r ValidateRequest) Format(f fmt.State, verb rune) {
	formatMasked(f, verb, r.String(), r.GoString())
}

// MarshalJSON implements json.Marshaler without the token value, for
// structured loggers.
func (r ValidateRequest) MarshalJSON() ([]byte, error) {
	type plain ValidateRequest
	r.Token = mask(r.Token)
	return json.Marshal(plain(r))
}

func formatMasked(f fmt.State, verb rune, s, gs string) {
	switch {
	case verb == 'v' && f.Flag('#'):
		_, _ = io.WriteString(f, gs)
	case verb == 'q':
		_, _ = io.WriteString(f, strconv.Quote(s))
	default:
		_, _ = io.WriteString(f, s)
	}
}
