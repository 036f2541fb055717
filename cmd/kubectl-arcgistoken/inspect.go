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

package main

import (
	"fmt"
	"io"
	"slices"
	"sort"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
)

// inspectReport is what the token Secret holds; -o json|yaml prints it as it is.
type inspectReport struct {
	Namespace   string `json:"namespace"`
	ArcGISToken string `json:"arcgisToken"`
	Secret      string `json:"secret"`
	// Error says why the Secret could not be read; nothing below is set then.
	Error string `json:"error,omitempty"`
	// Controlled says whether the Secret is controlled by the ArcGISToken
	// (the operator writes only such Secrets).
	Controlled bool         `json:"controlled"`
	Token      *maskedToken `json:"token,omitempty"`
	Expires    string       `json:"expires,omitempty"`
	ExpiresAt  *time.Time   `json:"expiresAt,omitempty"`
	URL        string       `json:"url,omitempty"`
	Referer    string       `json:"referer,omitempty"`
	// Identity is the user or application the token belongs to, from the
	// ArcGISToken's status (the Secret does not hold it).
	Identity string `json:"identity,omitempty"`
	// The operator's record of the token, from the Secret's annotations.
	IssuedAt     string `json:"issuedAt,omitempty"`
	IssuedFor    string `json:"issuedFor,omitempty"`
	RenewRequest string `json:"renewRequest,omitempty"`
	// OtherKeys are keys the operator does not write; their values are not shown.
	OtherKeys []string `json:"otherKeys,omitempty"`
}

func newInspectCommand(o *options) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "inspect NAME",
		Short: "Show what an ArcGISToken's Secret holds: expiry, url, referer, identity, and the token masked",
		Example: `  kubectl arcgistoken inspect portal-token -n gis
  kubectl arcgistoken inspect portal-token -n gis -o yaml`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			c, ns, err := o.client()
			if err != nil {
				return err
			}
			tok, err := getToken(cmd.Context(), c, ns, args[0])
			if err != nil {
				return err
			}
			r := &inspectReport{Namespace: tok.Namespace, ArcGISToken: tok.Name, Secret: secretName(tok), Identity: tok.Status.Identity}
			s, why := readSecret(cmd.Context(), c, tok)
			if s == nil {
				r.Error = why
			} else {
				r.Controlled = controlledBy(s, tok)
				r.Token = mask(s.Data[arcgisv1alpha1.SecretKeyToken])
				r.Expires = string(s.Data[arcgisv1alpha1.SecretKeyExpires])
				if t, err := time.Parse(time.RFC3339, r.Expires); err == nil {
					t = t.UTC()
					r.ExpiresAt = &t
				}
				r.URL = string(s.Data[arcgisv1alpha1.SecretKeyURL])
				r.Referer = string(s.Data[arcgisv1alpha1.SecretKeyReferer])
				r.IssuedAt = s.Annotations[arcgisv1alpha1.IssuedAtAnnotation]
				r.IssuedFor = s.Annotations[arcgisv1alpha1.IssuedForAnnotation]
				r.RenewRequest = s.Annotations[arcgisv1alpha1.RenewRequestAnnotation]
				known := []string{arcgisv1alpha1.SecretKeyToken, arcgisv1alpha1.SecretKeyExpires, arcgisv1alpha1.SecretKeyURL, arcgisv1alpha1.SecretKeyReferer}
				for k := range s.Data {
					if !slices.Contains(known, k) {
						r.OtherKeys = append(r.OtherKeys, k)
					}
				}
				sort.Strings(r.OtherKeys)
			}
			if output != "" {
				return printStructured(o, output, r)
			}
			o.printInspect(o.streams.Out, r)
			if r.Error != "" {
				return fmt.Errorf("secret %s/%s: %s", r.Namespace, r.Secret, r.Error)
			}
			return nil
		},
	}
	outputFlag(cmd, &output)
	return cmd
}

func (o *options) printInspect(w io.Writer, r *inspectReport) {
	fmt.Fprintf(w, "Secret %s/%s of ArcGISToken %s", r.Namespace, r.Secret, r.ArcGISToken)
	switch {
	case r.Error != "":
		fmt.Fprintf(w, ": %s\n", r.Error)
		return
	case r.Controlled:
		fmt.Fprintln(w, " (controlled by it)")
	default:
		fmt.Fprintln(w, " (NOT controlled by it: the operator does not write this Secret; see SecretConflict)")
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, v string) {
		if v == "" {
			v = "-"
		}
		fmt.Fprintf(tw, "  %s\t%s\n", k, v)
	}
	row("token", r.Token.String())
	expires := r.Expires
	if r.ExpiresAt != nil {
		expires = o.when(*r.ExpiresAt)
	}
	row("expires", expires)
	row("url", r.URL)
	if r.Referer != "" {
		row("referer", r.Referer)
	} else {
		row("referer", "(none: the token is not bound to a Referer)")
	}
	row("identity", r.Identity)
	issued := r.IssuedAt
	if t, err := time.Parse(time.RFC3339, issued); err == nil {
		issued = o.when(t)
	}
	row("issued at", issued)
	row("issued for", r.IssuedFor)
	if r.RenewRequest != "" {
		row("renew request", r.RenewRequest)
	}
	for _, k := range r.OtherKeys {
		row(k, "(not written by the operator; not shown)")
	}
	_ = tw.Flush()
}
