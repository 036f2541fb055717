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
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
)

// view draws what the demo shows, and notices rotations.
type view struct {
	c     client.Client
	out   io.Writer
	plain bool
	start time.Time

	// fingerprints of the token last seen per ArcGISToken, and rotations seen.
	fingerprints map[string]string
	rotations    map[string]int
	failureShown bool
}

func newView(c client.Client, out io.Writer, plain bool) *view {
	return &view{c: c, out: out, plain: plain, start: time.Now(),
		fingerprints: map[string]string{}, rotations: map[string]int{}}
}

// loop redraws the view until ctx ends, the manager exits, or (untilRotation)
// a rotation and the failing token's failure have been shown.
func (v *view) loop(ctx context.Context, refresh time.Duration, untilRotation bool, m *managerProcess) error {
	ticker := time.NewTicker(refresh)
	defer ticker.Stop()
	for {
		if err := v.render(ctx); err != nil && ctx.Err() == nil {
			fmt.Fprintln(v.out, "  (could not read the cluster:", err, ")")
		}
		if untilRotation && v.totalRotations() > 0 && v.failureShown {
			fmt.Fprintln(v.out, "\nA token was rotated and the failing token reported its failure: stopping (--until-rotation).")
			return nil
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-m.done:
			return fmt.Errorf("the manager exited: %v (see its log)", m.err)
		case <-ticker.C:
		}
	}
}

func (v *view) totalRotations() int {
	n := 0
	for _, r := range v.rotations {
		n += r
	}
	return n
}

func (v *view) render(ctx context.Context) error {
	list := &arcgisv1alpha1.ArcGISTokenList{}
	if err := v.c.List(ctx, list, client.InNamespace(namespace)); err != nil {
		return err
	}
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
	now := time.Now()

	var b strings.Builder
	if v.plain {
		fmt.Fprintf(&b, "\n--- %s (%s since start) ---\n", now.Format("15:04:05"), now.Sub(v.start).Round(time.Second))
	} else {
		b.WriteString("\033[H\033[2J") // home, clear screen
		fmt.Fprintf(&b, "arcgis-token-operator demo — namespace %s — %s since start — Ctrl-C stops\n\n",
			namespace, now.Sub(v.start).Round(time.Second))
	}

	tw := tabwriter.NewWriter(&b, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tTYPE\tREADY\tREASON\tEXPIRES IN\tRENEWAL IN\tGRANTED\tROTATIONS")
	var secrets, failures []string
	for i := range list.Items {
		t := &list.Items[i]
		ready := meta.FindStatusCondition(t.Status.Conditions, arcgisv1alpha1.ConditionReady)
		status, reason := "-", "-"
		if ready != nil {
			status, reason = string(ready.Status), ready.Reason
			if ready.Status != "True" {
				failures = append(failures, fmt.Sprintf("  %s: Ready=%s %s: %s", t.Name, ready.Status, ready.Reason, ready.Message))
				v.failureShown = v.failureShown || ready.Reason == arcgisv1alpha1.ReasonInvalidCredentials
			}
		}
		granted := "-"
		switch {
		case t.Status.GrantedMinutes > 0 && t.Spec.Type == arcgisv1alpha1.ServiceTypeAPIKey:
			granted = fmt.Sprintf("%dm", t.Status.GrantedMinutes) // the lifetime asked for, no service cap
		case t.Status.GrantedMinutes > 0:
			granted = fmt.Sprintf("%dm of %dm", t.Status.GrantedMinutes, t.Spec.ExpirationMinutes)
		}
		if line, ok := v.secretLine(ctx, t); ok {
			secrets = append(secrets, line)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%d\n", t.Name, t.Spec.Type, status, reason,
			until(now, t.Status.ExpiresAt), until(now, t.Status.RenewalTime), granted, v.rotations[t.Name])
	}
	_ = tw.Flush()

	b.WriteString("\nSecrets (the token itself is masked; its fingerprint changes when it is rotated):\n")
	for _, s := range secrets {
		b.WriteString(s)
	}
	if len(failures) > 0 {
		b.WriteString("\nNot ready:\n")
		b.WriteString(strings.Join(failures, "\n"))
		b.WriteString("\n")
	}
	b.WriteString("\nRecent events:\n")
	b.WriteString(v.events(ctx))
	_, err := io.WriteString(v.out, b.String())
	return err
}

// secretLine describes the token's Secret, and counts a rotation when its
// token changed since the last look.
func (v *view) secretLine(ctx context.Context, t *arcgisv1alpha1.ArcGISToken) (string, bool) {
	if t.Status.SecretName == "" {
		return "", false
	}
	s := &corev1.Secret{}
	if err := v.c.Get(ctx, client.ObjectKey{Namespace: t.Namespace, Name: t.Status.SecretName}, s); err != nil {
		return "", false
	}
	token := s.Data[arcgisv1alpha1.SecretKeyToken]
	sum := sha256.Sum256(token)
	fp := hex.EncodeToString(sum[:4])
	if old, ok := v.fingerprints[t.Name]; ok && old != fp {
		v.rotations[t.Name]++
	}
	v.fingerprints[t.Name] = fp

	var b strings.Builder
	fmt.Fprintf(&b, "  %s\n    token    ******** (%d characters, sha256 %s…)\n", s.Name, len(token), fp)
	for _, k := range []string{arcgisv1alpha1.SecretKeyExpires, arcgisv1alpha1.SecretKeyURL, arcgisv1alpha1.SecretKeyReferer, arcgisv1alpha1.SecretKeySlot} {
		if val, ok := s.Data[k]; ok {
			fmt.Fprintf(&b, "    %-8s %s\n", k, val)
		}
	}
	if st := t.Status.APIKey; st != nil {
		fmt.Fprintf(&b, "    step     %s", st.Step)
		if st.PreviousSlot != 0 {
			fmt.Fprintf(&b, " (previous slot %d", st.PreviousSlot)
			switch {
			case st.PreviousInvalidatedAt != nil:
				b.WriteString(" invalidated)")
			case st.RetireTime != nil:
				fmt.Fprintf(&b, " invalidated in %s)", until(time.Now(), st.RetireTime))
			default:
				b.WriteString(")")
			}
		}
		b.WriteString("\n")
	}
	return b.String(), true
}

func (v *view) events(ctx context.Context) string {
	list := &eventsv1.EventList{}
	if err := v.c.List(ctx, list, client.InNamespace(namespace)); err != nil {
		return "  (none)\n"
	}
	items := list.Items
	sort.Slice(items, func(i, j int) bool { return eventTime(items[i]).Before(eventTime(items[j])) })
	if len(items) > 8 {
		items = items[len(items)-8:]
	}
	var b strings.Builder
	for _, e := range items {
		note := e.Note
		if len(note) > 110 {
			note = note[:107] + "..."
		}
		fmt.Fprintf(&b, "  %s  %-7s  %-18s %-22s %s\n", eventTime(e).Local().Format("15:04:05"), e.Type, e.Reason, e.Regarding.Name, note)
	}
	if b.Len() == 0 {
		return "  (none yet)\n"
	}
	return b.String()
}

func eventTime(e eventsv1.Event) time.Time {
	if e.Series != nil {
		return e.Series.LastObservedTime.Time
	}
	return e.EventTime.Time
}

// until formats the time left until t.
func until(now time.Time, t *metav1.Time) string {
	if t == nil {
		return "-"
	}
	d := t.Sub(now).Round(time.Second)
	if d <= 0 {
		return "now"
	}
	return d.String()
}
