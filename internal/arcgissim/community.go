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
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"
)

// Role is a user's portal role, as community/self reports it.
type Role string

// The portal's built-in roles.
const (
	RoleAdmin     Role = "org_admin"
	RolePublisher Role = "org_publisher"
	RoleUser      Role = "org_user"
)

func (r Role) validate() error {
	switch r {
	case RoleAdmin, RolePublisher, RoleUser:
		return nil
	}
	return fmt.Errorf("unknown role %q (want %s, %s or %s)", r, RoleAdmin, RolePublisher, RoleUser)
}

// PrivilegeGenerateAPIKeys is the privilege the owner of an API key
// credentials item needs to read its app and set its dates (the "Generate
// API keys" privilege; its identifier is inferred). RoleAdmin and
// RolePublisher have it by default, RoleUser does not.
const PrivilegeGenerateAPIKeys = "portal:user:generateApiKeys"

// Privileges of the built-in roles, a plausible subset of a real portal's.
var (
	userPrivileges = []string{
		"portal:user:createGroup", "portal:user:createItem", "portal:user:joinGroup",
		"portal:user:shareToGroup", "portal:user:viewOrgGroups", "portal:user:viewOrgItems",
		"portal:user:viewOrgUsers", "premium:user:geocode", "premium:user:networkanalysis",
	}
	publisherPrivileges = append(slices.Clone(userPrivileges),
		PrivilegeGenerateAPIKeys, "portal:publisher:publishFeatures", "portal:publisher:publishScenes",
		"portal:publisher:publishTiles", "portal:user:shareToOrg", "portal:user:shareToPublic",
	)
	adminPrivileges = append(slices.Clone(publisherPrivileges),
		"portal:admin:assignToGroups", "portal:admin:deleteItems", "portal:admin:deleteUsers",
		"portal:admin:manageLicenses", "portal:admin:updateItems", "portal:admin:updateUsers",
		"portal:admin:viewItems", "portal:admin:viewUsers",
	)
)

// Identity of the simulated organisation.
const (
	orgID        = "SimOrg0123456789"
	emailDomain  = "example.com"
	msgNoUser    = "User does not exist or is inaccessible."
	userTypeName = "creatorUT"
)

// userJSON is a user as community/self, community/users/<name> and
// portals/self show it. The fields after Access are only shown to the user
// and to administrators.
type userJSON struct {
	Username    string   `json:"username"`
	ID          string   `json:"id"`
	FullName    string   `json:"fullName"`
	FirstName   string   `json:"firstName"`
	LastName    string   `json:"lastName"`
	Description string   `json:"description"`
	Tags        []string `json:"tags"`
	Culture     string   `json:"culture"`
	Region      string   `json:"region"`
	Units       string   `json:"units"`
	Thumbnail   *string  `json:"thumbnail"`
	Access      string   `json:"access"`
	Created     int64    `json:"created"`
	Modified    int64    `json:"modified"`
	Provider    string   `json:"provider"`
	OrgID       string   `json:"orgId"`

	Email        string   `json:"email,omitempty"`
	UserType     string   `json:"userType,omitempty"`
	Role         Role     `json:"role,omitempty"`
	Privileges   []string `json:"privileges,omitempty"`
	Level        string   `json:"level,omitempty"`
	Disabled     *bool    `json:"disabled,omitempty"`
	MFAEnabled   *bool    `json:"mfaEnabled,omitempty"`
	LastLogin    *int64   `json:"lastLogin,omitempty"`
	StorageUsage *int64   `json:"storageUsage,omitempty"`
	StorageQuota *int64   `json:"storageQuota,omitempty"`
	Groups       []any    `json:"groups,omitempty"`
}

// roleOf returns a user's role: Config.Roles, else RoleUser for NoAdmin
// users, else RoleAdmin.
func (s *Simulator) roleOf(name string) Role {
	if r, ok := s.cfg.Roles[name]; ok {
		return r
	}
	if s.accounts.isNoAdmin(name) {
		return RoleUser
	}
	return RoleAdmin
}

// privilegesOf returns a user's privileges: Config.Privileges, else the
// role's.
func (s *Simulator) privilegesOf(name string) []string {
	if p, ok := s.cfg.Privileges[name]; ok {
		return slices.Clone(p)
	}
	switch s.roleOf(name) {
	case RoleAdmin:
		return slices.Clone(adminPrivileges)
	case RolePublisher:
		return slices.Clone(publisherPrivileges)
	}
	return slices.Clone(userPrivileges)
}

// hasPrivilege reports whether a user holds a privilege.
func (s *Simulator) hasPrivilege(name, privilege string) bool {
	return slices.Contains(s.privilegesOf(name), privilege)
}

// userOf builds a user's JSON. full adds what only the user and
// administrators see (inferred: which fields others see).
func (s *Simulator) userOf(name string, full bool) *userJSON {
	first := titleCase(name)
	created := s.created.UnixMilli()
	u := &userJSON{
		Username:    name,
		ID:          stableID(name),
		FullName:    first + " User",
		FirstName:   first,
		LastName:    "User",
		Description: "",
		Tags:        []string{},
		Culture:     "en",
		Region:      "US",
		Units:       "metric",
		Access:      "org",
		Created:     created,
		Modified:    created,
		Provider:    "arcgis",
		OrgID:       orgID,
	}
	if !full {
		return u
	}
	no := false
	var zero int64
	quota := int64(2 << 30)
	lastLogin := int64(-1)
	if at, ok := s.accounts.lastLogin(name); ok {
		lastLogin = at.UnixMilli()
	}
	u.Email = strings.ToLower(name) + "@" + emailDomain
	u.UserType = userTypeName
	u.Role = s.roleOf(name)
	u.Privileges = s.privilegesOf(name)
	u.Level = "2"
	u.Disabled, u.MFAEnabled = &no, &no
	u.LastLogin, u.StorageUsage, u.StorageQuota = &lastLogin, &zero, &quota
	u.Groups = []any{}
	return u
}

// titleCase upper-cases the first letter of a username for its first name.
func titleCase(name string) string {
	r, size := utf8.DecodeRuneInString(name)
	if r == utf8.RuneError {
		return name
	}
	return string(unicode.ToUpper(r)) + name[size:]
}

// stableID is a 32-hex-digit ID derived from a name, like portal IDs.
func stableID(name string) string {
	sum := sha256.Sum256([]byte(name))
	return hex.EncodeToString(sum[:16])
}

// communitySelf is /portal/sharing/rest/community/self: the user a token
// belongs to, as arcgis-rest-js reads it right after generateToken. It takes
// GET and POST, with the token anywhere a token may be. An OAuth app token
// has no user: 403 (inferred). An API key shows its owner, with the key's
// privileges (inferred).
func (s *Simulator) communitySelf(c *call) {
	if !c.checkResourceRequest() {
		return
	}
	t, ok := s.authenticate(c, true, true)
	if !ok {
		return
	}
	switch {
	case t.kind == kindAPIKey:
		u := s.userOf(t.subject, true)
		u.Privileges = slices.Clone(t.privileges)
		c.ok(u)
	case t.app:
		c.fail(permissionDenied())
	default:
		c.ok(s.userOf(t.subject, true))
	}
}

// communityUser is /portal/sharing/rest/community/users/<username>: the
// user's full profile for the user and for administrators, the public part
// for other users (inferred), 400 "User does not exist or is inaccessible."
// for an unknown username (looked up case-sensitively, inferred). A token is
// required (an organisation's portal; inferred).
func (s *Simulator) communityUser(c *call) {
	if !c.checkResourceRequest() {
		return
	}
	t, ok := s.authenticate(c, true, true)
	if !ok {
		return
	}
	name := c.vars[0]
	if !s.accounts.exists(name) {
		c.fail(apiError{outcome: OutcomeNotFound, code: 400, message: msgNoUser})
		return
	}
	viewer := t.subject
	full := !t.app && (viewer == name || s.roleOf(viewer) == RoleAdmin)
	if t.kind == kindAPIKey {
		full = viewer == name
	}
	c.ok(s.userOf(name, full))
}

// userCreatedAgo is how long before the simulator started its users were
// created, so that created/modified look like an account's.
const userCreatedAgo = 30 * 24 * time.Hour
