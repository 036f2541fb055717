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
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
	"github.com/tokenoperator/arcgis-token-operator/internal/reasons"
)

// statusReport is what `status` shows; -o json|yaml prints it as it is.
type statusReport struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Type      string `json:"type"`
	URL       string `json:"url"`
	ServerURL string `json:"serverURL,omitempty"`
	Suspended bool   `json:"suspended"`
	Identity  string `json:"identity,omitempty"`

	Ready      bool              `json:"ready"`
	Conditions []conditionReport `json:"conditions"`

	IssuedAt         *time.Time `json:"issuedAt,omitempty"`
	ExpiresAt        *time.Time `json:"expiresAt,omitempty"`
	RenewalTime      *time.Time `json:"renewalTime,omitempty"`
	RequestedMinutes int32      `json:"requestedMinutes,omitempty"`
	GrantedMinutes   int32      `json:"grantedMinutes,omitempty"`

	Secret      secretReport   `json:"secret"`
	LastFailure *failureReport `json:"lastFailure,omitempty"`
	// Advice is what to do about the current state when it needs a person
	// but is not a failure (a suspended token).
	Advice *adviceReport `json:"advice,omitempty"`
}

type conditionReport struct {
	Type               string    `json:"type"`
	Status             string    `json:"status"`
	Reason             string    `json:"reason"`
	Message            string    `json:"message,omitempty"`
	LastTransitionTime time.Time `json:"lastTransitionTime"`
}

type secretReport struct {
	Name  string       `json:"name"`
	Token *maskedToken `json:"token,omitempty"`
	// Error says why the Secret could not be read.
	Error string `json:"error,omitempty"`
}

type failureReport struct {
	Reason   string     `json:"reason"`
	Time     *time.Time `json:"time,omitempty"`
	Attempts int32      `json:"attempts"`
	// Message is the message of the condition that carries the reason: what
	// the service answered, and when the next attempt is.
	Message string `json:"message,omitempty"`
	adviceReport
}

type adviceReport struct {
	Summary         string `json:"summary,omitempty"`
	Advice          string `json:"advice,omitempty"`
	Troubleshooting string `json:"troubleshooting,omitempty"`
}

func adviceFor(reason string) adviceReport {
	i := reasons.Lookup(reason)
	a := adviceReport{Summary: i.Summary, Advice: i.Advice}
	if reasons.Known(reason) && i.Advice != "" {
		a.Troubleshooting = i.Anchor()
	}
	return a
}

func newStatusCommand(o *options) *cobra.Command {
	var output string
	cmd := &cobra.Command{
		Use:   "status NAME",
		Short: "Show an ArcGISToken's conditions, expiry, next renewal and last failure, with what to do about it",
		Example: `  kubectl arcgistoken status portal-token -n gis
  kubectl arcgistoken status portal-token -n gis -o json`,
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
			r := buildStatus(tok)
			s, why := readSecret(cmd.Context(), c, tok)
			r.Secret.Error = why
			if s != nil {
				r.Secret.Token = mask(s.Data[arcgisv1alpha1.SecretKeyToken])
			}
			if output != "" {
				return printStructured(o, output, r)
			}
			return o.printStatus(o.streams.Out, r)
		},
	}
	outputFlag(cmd, &output)
	return cmd
}

// buildStatus reads the report from the ArcGISToken alone.
func buildStatus(tok *arcgisv1alpha1.ArcGISToken) *statusReport {
	st := tok.Status
	r := &statusReport{
		Namespace: tok.Namespace, Name: tok.Name,
		Type: string(tok.Spec.Type), URL: tok.Spec.URL, ServerURL: tok.Spec.ServerURL,
		Suspended: tok.Spec.Suspend, Identity: st.Identity,
		IssuedAt: timeOf(st.IssuedAt), ExpiresAt: timeOf(st.ExpiresAt), RenewalTime: timeOf(st.RenewalTime),
		RequestedMinutes: tok.Spec.ExpirationMinutes, GrantedMinutes: st.GrantedMinutes,
		Secret:     secretReport{Name: secretName(tok)},
		Conditions: []conditionReport{},
	}
	for _, c := range st.Conditions {
		r.Conditions = append(r.Conditions, conditionReport{
			Type: c.Type, Status: string(c.Status), Reason: c.Reason, Message: c.Message,
			LastTransitionTime: c.LastTransitionTime.UTC(),
		})
	}
	r.Ready = meta.IsStatusConditionTrue(st.Conditions, arcgisv1alpha1.ConditionReady)

	// The last failure: status records it until the next success; the
	// condition that carries its reason holds the service's words and the
	// next attempt. A failure condition without a recorded attempt (bad
	// inputs, waiting for a backoff) is shown the same way.
	reason := st.LastFailureReason
	var carrier *metav1.Condition
	for _, t := range []string{arcgisv1alpha1.ConditionIssuing, arcgisv1alpha1.ConditionReady} {
		c := meta.FindStatusCondition(st.Conditions, t)
		if c == nil {
			continue
		}
		if reason == "" && reasons.Known(c.Reason) && reasons.Lookup(c.Reason).Failure() {
			reason = c.Reason
		}
		if c.Reason == reason && carrier == nil {
			carrier = c
		}
	}
	if reason != "" {
		f := &failureReport{Reason: reason, Time: timeOf(st.LastFailureTime), Attempts: st.FailedAttempts, adviceReport: adviceFor(reason)}
		if carrier != nil {
			f.Message = carrier.Message
		}
		r.LastFailure = f
	}
	if tok.Spec.Suspend {
		a := adviceFor(arcgisv1alpha1.ReasonSuspended)
		r.Advice = &a
	}
	return r
}

func (o *options) printStatus(w io.Writer, r *statusReport) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	line := func(k, v string) { fmt.Fprintf(tw, "%s:\t%s\n", k, v) }
	when := func(t *time.Time, none string) string {
		if t == nil {
			return none
		}
		return o.when(*t)
	}

	line("ArcGISToken", r.Namespace+"/"+r.Name)
	target := r.URL
	if r.ServerURL != "" {
		target = r.ServerURL + " (through the portal " + r.URL + ")"
	}
	line("Type", r.Type+"  "+target)
	if r.Suspended {
		line("Suspended", "yes: the token is neither issued nor renewed")
	}
	if r.Identity != "" {
		line("Identity", r.Identity)
	}
	secret := r.Secret.Name
	switch {
	case r.Secret.Error != "":
		secret += " (" + r.Secret.Error + ")"
	case r.Secret.Token == nil:
		secret += " (no token yet)"
	default:
		secret += "  token sha256:" + r.Secret.Token.SHA256 + " (" + fmt.Sprint(r.Secret.Token.Length) + " characters; the token is not shown)"
	}
	line("Secret", secret)
	line("Issued", when(r.IssuedAt, "-"))
	line("Expires", when(r.ExpiresAt, "-"))
	line("Next renewal", when(r.RenewalTime, "-"))
	if r.GrantedMinutes > 0 {
		line("Lifetime", fmt.Sprintf("%d minutes granted of %d asked for", r.GrantedMinutes, r.RequestedMinutes))
	}
	line("Last check", o.lastCheck(r))
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(w)
	fmt.Fprintln(w, "Conditions:")
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  TYPE\tSTATUS\tREASON\tSINCE\tMESSAGE")
	for _, c := range r.Conditions {
		fmt.Fprintf(tw, "  %s\t%s\t%s\t%s\t%s\n", c.Type, c.Status, c.Reason, o.when(c.LastTransitionTime), oneLine(c.Message))
	}
	if len(r.Conditions) == 0 {
		fmt.Fprintln(tw, "  (none yet: the operator has not reconciled it)")
	}
	if err := tw.Flush(); err != nil {
		return err
	}

	fmt.Fprintln(w)
	if f := r.LastFailure; f != nil {
		head := f.Reason
		if f.Attempts > 0 {
			head += fmt.Sprintf(", %d failed attempt", f.Attempts)
			if f.Attempts > 1 {
				head += "s"
			}
		}
		if f.Time != nil {
			head += ", the last at " + o.when(*f.Time)
		}
		fmt.Fprintln(w, "Last failure: "+head)
		printAdvice(w, f.adviceReport, f.Message)
	} else {
		fmt.Fprintln(w, "Last failure: none")
	}
	if r.Advice != nil {
		fmt.Fprintln(w)
		fmt.Fprintln(w, "Suspended:")
		printAdvice(w, *r.Advice, "")
	}
	return nil
}

func printAdvice(w io.Writer, a adviceReport, message string) {
	if message != "" {
		fmt.Fprintln(w, "  "+oneLine(message))
	}
	if a.Summary != "" {
		fmt.Fprintln(w, "  Means:      "+a.Summary)
	}
	if a.Advice != "" {
		fmt.Fprintln(w, "  What to do: "+a.Advice)
	}
	if a.Troubleshooting != "" {
		fmt.Fprintln(w, "  More:       "+a.Troubleshooting)
	}
}

// oneLine keeps a message on one line of the table.
func oneLine(s string) string {
	return strings.Join(strings.Fields(s), " ")
}

// lastCheck describes the Validated condition: what the last check of the
// stored token against the service said, and since when (checks that change
// nothing are not recorded: they cost no write).
func (o *options) lastCheck(r *statusReport) string {
	for _, c := range r.Conditions {
		if c.Type != arcgisv1alpha1.ConditionValidated {
			continue
		}
		if c.Status == string(metav1.ConditionTrue) {
			return "passed, accepted since " + o.when(c.LastTransitionTime)
		}
		return fmt.Sprintf("failed: %s since %s", c.Reason, o.when(c.LastTransitionTime))
	}
	return "off, or not yet"
}
