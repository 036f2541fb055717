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
	"context"
	"net/url"
	"strings"
)

// ValidateToken checks a stored token with one cheap authenticated request:
// the portal's portals/self for Portal and OAuth tokens, the server's
// rest/services for Server, ServerAdmin and Federated tokens; an API key
// (type APIKey) at portals/self. The token goes
// in the POST body, with the token's Referer when it is referer-bound. An
// IP-bound token validates only if the operator's address is the bound one.
func (c *Client) ValidateToken(ctx context.Context, req ValidateRequest) (*Validation, error) {
	sec := newSecrets(req.Token)
	v, e := c.validate(ctx, &req, sec)
	if e != nil {
		return nil, e.sanitized(sec)
	}
	return v, nil
}

func (c *Client) validate(ctx context.Context, req *ValidateRequest, sec *secrets) (*Validation, *Error) {
	var (
		raw, field, endpoint, path string
		suffixes                   []string
	)
	switch req.Type {
	case Portal, OAuth, APIKey:
		raw, field, suffixes = req.URL, "url", portalSuffixes
		endpoint, path = EndpointPortalSelf, "/sharing/rest/portals/self"
	case Server, ServerAdmin:
		raw, field, suffixes = req.URL, "url", serverSuffixes
		endpoint, path = EndpointRestServices, "/rest/services"
	case Federated:
		raw, field, suffixes = req.ServerURL, "serverURL", serverSuffixes
		endpoint, path = EndpointRestServices, "/rest/services"
	default:
		return nil, invalidRequest("unknown service type %q (want %s, %s, %s, %s, %s or %s)",
			req.Type, Portal, Server, ServerAdmin, Federated, OAuth, APIKey)
	}
	root, e := parseRoot(raw, field, suffixes)
	if e != nil {
		return nil, at(e, endpoint, nil)
	}
	target := endpointURL(root, path)
	if strings.TrimSpace(req.Token) == "" {
		return nil, at(invalidRequest("there is no token to validate"), endpoint, target)
	}
	referer, e := refererOf(req.Binding)
	if e != nil {
		return nil, at(e, endpoint, target)
	}
	client, e := c.transports.get(req.CABundle)
	if e != nil {
		return nil, at(e, endpoint, target)
	}
	form := url.Values{}
	form.Set("token", req.Token)
	v := &Validation{}
	e = c.post(ctx, &call{
		endpoint: endpoint,
		url:      target,
		form:     form,
		referer:  referer,
		client:   client,
		secrets:  sec,
		maxBody:  maxInfoBody,
	}, func(rep *reply) *Error {
		obj, isJSON := decodeObject(rep.body)
		if e := failure(rep, obj, isJSON, c.clock.Now()); e != nil {
			return e
		}
		if endpoint == EndpointPortalSelf {
			v.Identity = identityOf(obj)
		}
		return nil
	})
	if e != nil {
		return nil, e
	}
	return v, nil
}

// identityOf reads who a portals/self answer is for: the user, or for an
// application's token the application.
func identityOf(obj jsonObject) string {
	if user := obj.object("user"); user != nil {
		if name, ok := user.str("username"); ok && name != "" {
			return name
		}
	}
	if app := obj.object("appInfo"); app != nil {
		if id, ok := app.str("appId"); ok {
			return id
		}
	}
	return ""
}
