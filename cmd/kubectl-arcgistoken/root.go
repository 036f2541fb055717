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
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/spf13/cobra"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/duration"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/cli-runtime/pkg/genericiooptions"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
	"github.com/tokenoperator/arcgis-token-operator/internal/version"
)

// options are what every command shares: the kubeconfig flags kubectl has
// (--kubeconfig, --context, -n, ...), the streams, and the clock that
// relative times are computed with.
type options struct {
	flags   *genericclioptions.ConfigFlags
	streams genericiooptions.IOStreams
	clock   clock.PassiveClock
}

func newRootCommand(streams genericiooptions.IOStreams, clk clock.PassiveClock) *cobra.Command {
	o := &options{flags: genericclioptions.NewConfigFlags(true), streams: streams, clock: clk}
	cmd := &cobra.Command{
		Use:   "kubectl-arcgistoken",
		Short: "Look at and renew ArcGISTokens",
		Long: `Look at and renew ArcGISTokens (arcgis.tokenoperator.dev/v1alpha1).

  status NAME         conditions, expiry, next renewal, the last failure and what to do
  inspect NAME        what the token Secret holds, with the token masked
  renew NAME...       ask the operator for a new token now
  renew --all         ... for every ArcGISToken in the namespace

No command prints a token: only its length and a SHA-256 fingerprint.`,
		Version:       version.Version,
		SilenceUsage:  true,
		SilenceErrors: false,
		Annotations:   map[string]string{cobra.CommandDisplayNameAnnotation: "kubectl arcgistoken"},
	}
	cmd.SetOut(streams.Out)
	cmd.SetErr(streams.ErrOut)
	o.flags.AddFlags(cmd.PersistentFlags())
	cmd.AddCommand(newStatusCommand(o), newInspectCommand(o), newRenewCommand(o))
	return cmd
}

// client returns a client for the cluster of the kubeconfig flags, and the
// namespace they select (-n, or the context's, or "default").
func (o *options) client() (client.Client, string, error) {
	cfg, err := o.flags.ToRESTConfig()
	if err != nil {
		return nil, "", err
	}
	ns, _, err := o.flags.ToRawKubeConfigLoader().Namespace()
	if err != nil {
		return nil, "", err
	}
	scheme := runtime.NewScheme()
	if err := corev1.AddToScheme(scheme); err != nil {
		return nil, "", err
	}
	if err := arcgisv1alpha1.AddToScheme(scheme); err != nil {
		return nil, "", err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, "", err
	}
	return c, ns, nil
}

// getToken reads one ArcGISToken, with an error a person can act on.
func getToken(ctx context.Context, c client.Client, ns, name string) (*arcgisv1alpha1.ArcGISToken, error) {
	var tok arcgisv1alpha1.ArcGISToken
	if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &tok); err != nil {
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("ArcGISToken %q not found in namespace %q", name, ns)
		}
		return nil, fmt.Errorf("reading ArcGISToken %s/%s: %w", ns, name, err)
	}
	return &tok, nil
}

// outputFlag adds -o/--output to a command.
func outputFlag(cmd *cobra.Command, output *string) {
	cmd.Flags().StringVarP(output, "output", "o", "", "Output format: empty for people, json or yaml for scripts.")
}

// checkOutput refuses an unknown output format before anything is read.
func checkOutput(output string) error {
	switch output {
	case "", "json", "yaml":
		return nil
	}
	return fmt.Errorf("unknown output format %q: use json or yaml, or nothing", output)
}

// printStructured writes v as JSON or YAML.
func printStructured(o *options, output string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	if output == "yaml" {
		if b, err = yaml.JSONToYAML(b); err != nil {
			return err
		}
	} else {
		b = append(b, '\n')
	}
	_, err = o.streams.Out.Write(b)
	return err
}

// when formats a time as RFC 3339 in UTC with how far it is from now, as
// kubectl shows ages: "2026-11-25T16:13:11Z (in 48s)", "(3m ago)".
func (o *options) when(t time.Time) string {
	now := o.clock.Now()
	s := t.UTC().Format(time.RFC3339)
	switch d := t.Sub(now).Truncate(time.Second); {
	case d > 0:
		return s + " (in " + duration.HumanDuration(d) + ")"
	case d < 0:
		return s + " (" + duration.HumanDuration(-d) + " ago)"
	}
	return s + " (now)"
}

// timeOf returns the time t holds, or nil.
func timeOf(t *metav1.Time) *time.Time {
	if t == nil {
		return nil
	}
	u := t.UTC()
	return &u
}
