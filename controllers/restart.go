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

package controllers

import (
	"context"
	"fmt"
	"sync"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/events"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
)

// DefaultRestartDebounce is how long a rollout restart waits for other tokens
// of the same workload to rotate, so that they cost one restart.
const DefaultRestartDebounce = 10 * time.Second

// +kubebuilder:rbac:groups=apps,resources=deployments;statefulsets;daemonsets,verbs=patch

// Restarter restarts the workloads that consume rotated tokens, the way
// `kubectl rollout restart` does: it sets an annotation on the pod template,
// and the workload's controller rolls the pods. Requests for one workload
// within the debounce window become one restart. It runs on the leader only.
//
// Pending restarts live in memory: if the operator stops within the window,
// that restart is lost, and the consumers keep the previous token, which
// stays valid until it expires (a third of its lifetime by default) and the
// next rotation restarts them.
type Restarter struct {
	Client   client.Client
	Recorder events.EventRecorder
	Clock    clock.PassiveClock
	Debounce time.Duration

	once  sync.Once
	queue workqueue.TypedDelayingInterface[workload]

	mu        sync.Mutex
	requested map[workload][]client.ObjectKey // the ArcGISTokens that asked, for events
}

// workload identifies a restart target.
type workload struct {
	namespace, name string
	kind            arcgisv1alpha1.WorkloadKind
}

func (r *Restarter) init() {
	r.once.Do(func() {
		r.queue = workqueue.NewTypedDelayingQueueWithConfig(workqueue.TypedDelayingQueueConfig[workload]{Name: "rollout-restart"})
		r.requested = map[workload][]client.ObjectKey{}
		if r.Debounce <= 0 {
			r.Debounce = DefaultRestartDebounce
		}
		if r.Clock == nil {
			r.Clock = clock.RealClock{}
		}
	})
}

// Schedule asks for a restart of the ArcGISToken's targets after a rotation.
func (r *Restarter) Schedule(tok *arcgisv1alpha1.ArcGISToken) {
	if r == nil || len(tok.Spec.RolloutRestartTargets) == 0 {
		return
	}
	r.init()
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, t := range tok.Spec.RolloutRestartTargets {
		w := workload{namespace: tok.Namespace, name: t.Name, kind: t.Kind}
		if _, pending := r.requested[w]; !pending {
			// The first request opens the window; later ones join it.
			r.queue.AddAfter(w, r.Debounce)
		}
		r.requested[w] = append(r.requested[w], client.ObjectKeyFromObject(tok))
	}
}

// NeedLeaderElection makes the restarter run on the leader only.
func (r *Restarter) NeedLeaderElection() bool { return true }

// Start restarts workloads as their windows close, until ctx ends.
func (r *Restarter) Start(ctx context.Context) error {
	r.init()
	go func() {
		<-ctx.Done()
		r.queue.ShutDown()
	}()
	for {
		w, shutdown := r.queue.Get()
		if shutdown {
			return nil
		}
		r.mu.Lock()
		tokens := r.requested[w]
		delete(r.requested, w)
		r.mu.Unlock()
		err := r.restart(ctx, w)
		r.report(ctx, w, tokens, err)
		r.queue.Done(w)
	}
}

// restart sets the restart annotation on the workload's pod template.
func (r *Restarter) restart(ctx context.Context, w workload) error {
	var obj client.Object
	switch w.kind {
	case arcgisv1alpha1.WorkloadKindDeployment:
		obj = &appsv1.Deployment{}
	case arcgisv1alpha1.WorkloadKindStatefulSet:
		obj = &appsv1.StatefulSet{}
	case arcgisv1alpha1.WorkloadKindDaemonSet:
		obj = &appsv1.DaemonSet{}
	default:
		return fmt.Errorf("cannot restart a %s", w.kind)
	}
	// A merge patch of one annotation: no read, no conflict with the
	// workload's other writers.
	patch := fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{%q:%q}}}}}`,
		arcgisv1alpha1.RestartedAtAnnotation, r.Clock.Now().UTC().Format(time.RFC3339))
	obj.SetNamespace(w.namespace)
	obj.SetName(w.name)
	return r.Client.Patch(ctx, obj, client.RawPatch("application/merge-patch+json", []byte(patch)))
}

func (r *Restarter) report(ctx context.Context, w workload, tokens []client.ObjectKey, err error) {
	log := logf.FromContext(ctx).WithValues("kind", w.kind, "workload", w.name, "namespace", w.namespace)
	if err != nil {
		log.Error(err, "Could not restart a workload after a token rotation")
	} else {
		log.Info("Restarted a workload after a token rotation", "tokens", len(tokens))
	}
	if r.Recorder == nil {
		return
	}
	seen := map[client.ObjectKey]bool{}
	for _, key := range tokens {
		if seen[key] {
			continue
		}
		seen[key] = true
		tok := &arcgisv1alpha1.ArcGISToken{}
		if getErr := r.Client.Get(ctx, key, tok); getErr != nil {
			continue
		}
		if err != nil {
			r.Recorder.Eventf(tok, nil, corev1.EventTypeWarning, "RolloutRestartFailed", "Restart",
				"Could not restart %s %s after the token rotated: %s", w.kind, w.name, restartFailure(err))
		} else {
			r.Recorder.Eventf(tok, nil, corev1.EventTypeNormal, "RolloutRestarted", "Restart",
				"Restarted %s %s after the token rotated", w.kind, w.name)
		}
	}
}

// restartFailure says why a restart failed, in words fit for an event.
func restartFailure(err error) string {
	switch {
	case client.IgnoreNotFound(err) == nil:
		return "it does not exist"
	default:
		return err.Error()
	}
}
