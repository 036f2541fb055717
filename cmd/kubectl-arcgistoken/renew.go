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
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
)

type renewal struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	RenewAt   string `json:"renewAt"`
	// Unchanged says the annotation already had this value (a request in the
	// same second), which the operator does not count as a new request.
	Unchanged bool `json:"unchanged,omitempty"`
}

func newRenewCommand(o *options) *cobra.Command {
	var output string
	var all bool
	cmd := &cobra.Command{
		Use:   "renew (NAME... | --all)",
		Short: "Ask the operator for a new token now (sets the renew-at annotation to the current time)",
		Long: `Ask the operator for a new token now.

renew sets the annotation arcgis.tokenoperator.dev/renew-at of each ArcGISToken
to the current time (RFC 3339, UTC) with a merge patch. Each new value gets
exactly one new token; the old one is served until the new one is stored. A
running backoff and the account guard still apply. Watch it with
"kubectl arcgistoken status NAME": Issuing shows ManualRenew until the token
is stored.`,
		Example: `  kubectl arcgistoken renew portal-token -n gis
  kubectl arcgistoken renew --all -n gis`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkOutput(output); err != nil {
				return err
			}
			switch {
			case all && len(args) > 0:
				return errors.New("give names or --all, not both")
			case !all && len(args) == 0:
				return errors.New("give the name of an ArcGISToken, or --all for every one in the namespace")
			}
			c, ns, err := o.client()
			if err != nil {
				return err
			}
			names := args
			if all {
				var list arcgisv1alpha1.ArcGISTokenList
				if err := c.List(cmd.Context(), &list, client.InNamespace(ns)); err != nil {
					return fmt.Errorf("listing ArcGISTokens in namespace %q: %w", ns, err)
				}
				for _, t := range list.Items {
					names = append(names, t.Name)
				}
				if len(names) == 0 {
					fmt.Fprintf(o.streams.ErrOut, "No ArcGISTokens found in namespace %s.\n", ns)
				}
			}
			at := o.clock.Now().UTC().Format(time.RFC3339)
			done := []renewal{}
			var failed error
			for _, name := range names {
				r, err := o.renew(cmd, c, ns, name, at)
				if err != nil {
					fmt.Fprintln(o.streams.ErrOut, "error: "+err.Error())
					failed = errors.New("not every renewal was requested")
					continue
				}
				done = append(done, r)
				if output == "" {
					fmt.Fprintf(o.streams.Out, "arcgistoken %s/%s: renewal requested (renew-at=%s)", r.Namespace, r.Name, r.RenewAt)
					if r.Unchanged {
						fmt.Fprint(o.streams.Out, "; it already had that value, so this is no new request: try again in a second")
					}
					fmt.Fprintln(o.streams.Out)
				}
			}
			if output != "" {
				if err := printStructured(o, output, done); err != nil {
					return err
				}
			}
			return failed
		},
	}
	cmd.Flags().BoolVar(&all, "all", false, "Renew every ArcGISToken in the namespace.")
	outputFlag(cmd, &output)
	return cmd
}

// renew sets the renew-at annotation with a merge patch, which touches that
// key only: no read-modify-write, so nothing another writer set is lost.
func (o *options) renew(cmd *cobra.Command, c client.Client, ns, name, at string) (renewal, error) {
	tok, err := getToken(cmd.Context(), c, ns, name)
	if err != nil {
		return renewal{}, err
	}
	r := renewal{Namespace: ns, Name: name, RenewAt: at, Unchanged: tok.Annotations[arcgisv1alpha1.RenewAtAnnotation] == at}
	patch, err := json.Marshal(map[string]any{
		"metadata": map[string]any{"annotations": map[string]string{arcgisv1alpha1.RenewAtAnnotation: at}},
	})
	if err != nil {
		return renewal{}, err
	}
	if err := c.Patch(cmd.Context(), tok, client.RawPatch(types.MergePatchType, patch)); err != nil {
		if apierrors.IsForbidden(err) {
			return renewal{}, fmt.Errorf("you may not patch ArcGISToken %s/%s (forbidden): renewing needs the patch verb on arcgistokens", ns, name)
		}
		return renewal{}, fmt.Errorf("patching ArcGISToken %s/%s: %w", ns, name, err)
	}
	return r, nil
}
