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

// Package gc tests what only a cluster's controllers do to our objects: the
// garbage collector deletes an ArcGISToken's Secret through its owner
// reference, and the namespace controller empties and removes a namespace
// holding ArcGISTokens while the manager goes on with the other namespaces.
// The control plane runs kube-controller-manager (built by `make envtest`)
// beside kube-apiserver and etcd; the manager runs in this process.
package gc

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/clock"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	arcgisv1alpha1 "github.com/tokenoperator/arcgis-token-operator/api/v1alpha1"
	"github.com/tokenoperator/arcgis-token-operator/controllers"
	"github.com/tokenoperator/arcgis-token-operator/internal/accountguard"
	"github.com/tokenoperator/arcgis-token-operator/internal/arcgis"
	"github.com/tokenoperator/arcgis-token-operator/internal/arcgissim"
	"github.com/tokenoperator/arcgis-token-operator/internal/testenv"
)

const (
	user     = "gisadmin"
	password = "a-long-password"
)

var (
	k8s client.Client
	mgr ctrl.Manager
	// reconciler is the manager's ArcGISToken reconciler, for what it
	// watches.
	reconciler *controllers.ArcGISTokenReconciler
	sim        *arcgissim.Simulator
	logs       = &lineBuffer{}
	timeout    = 60 * time.Second
)

func TestMain(m *testing.M) {
	code, err := run(m)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		code = 1
	}
	os.Exit(code)
}

func run(m *testing.M) (int, error) {
	env, err := testenv.Start()
	if err != nil {
		return 0, err
	}
	defer func() { _ = env.Stop() }()
	start := time.Now()
	kcm, err := env.StartControllerManager()
	if err != nil {
		return 0, err
	}
	defer func() { _ = kcm.Stop() }()
	fmt.Printf("kube-controller-manager healthy in %s\n", time.Since(start).Round(10*time.Millisecond))

	sim, err = arcgissim.New(arcgissim.Config{Users: map[string]string{user: password}})
	if err != nil {
		return 0, err
	}
	if err := sim.Start(); err != nil {
		return 0, err
	}
	defer func() { _ = sim.Close() }()

	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return 0, err
	}
	if err := arcgisv1alpha1.AddToScheme(scheme); err != nil {
		return 0, err
	}
	if k8s, err = client.New(env.Config, client.Options{Scheme: scheme}); err != nil {
		return 0, err
	}

	// The manager as cmd/main.go wires it, logging JSON lines to a buffer
	// the tests read for errors.
	ctrl.SetLogger(zap.New(zap.WriteTo(logs)))
	mgr, err = ctrl.NewManager(env.Config, ctrl.Options{
		Scheme:                 scheme,
		Cache:                  controllers.CacheOptions(nil),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
	})
	if err != nil {
		return 0, err
	}
	clk := clock.RealClock{}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	reconciler = &controllers.ArcGISTokenReconciler{
		Client:                  mgr.GetClient(),
		APIReader:               mgr.GetAPIReader(),
		Issuer:                  arcgis.New(arcgis.Options{Clock: clk, Timeout: 10 * time.Second}),
		Accounts:                accountguard.New(accountguard.Options{Clock: clk}),
		Recorder:                mgr.GetEventRecorder("arcgis-token-operator"),
		Clock:                   clk,
		MaxConcurrentReconciles: 4,
		Restarter: &controllers.Restarter{
			Client: mgr.GetClient(), Recorder: mgr.GetEventRecorder("arcgis-token-operator"),
			Clock: clk, Debounce: controllers.DefaultRestartDebounce,
		},
	}
	if err := reconciler.SetupWithManager(ctx, mgr); err != nil {
		return 0, err
	}
	stopped := make(chan error, 1)
	go func() { stopped <- mgr.Start(ctx) }()
	code := m.Run()
	cancel()
	if err := <-stopped; err != nil {
		return code, fmt.Errorf("the manager stopped with %w", err)
	}
	if code != 0 {
		fmt.Fprintf(os.Stderr, "kube-controller-manager's log (last 40 lines):\n%s\n", tail(kcm.Log(), 40))
	}
	return code, nil
}

// newNamespace creates a namespace with the simulator's CA and credentials.
func newNamespace(t *testing.T, ctx context.Context) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "gc-"}}
	if err := k8s.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	for _, obj := range []client.Object{
		&corev1.ConfigMap{
			ObjectMeta: metav1.ObjectMeta{Name: "arcgis-ca", Namespace: ns.Name},
			Data:       map[string]string{"ca.crt": string(sim.CAPEM())},
		},
		&corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Name: "credentials", Namespace: ns.Name},
			StringData: map[string]string{"username": user, "password": password},
		},
	} {
		if err := k8s.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
	}
	return ns.Name
}

// readyToken creates an ArcGISToken and waits until it is Ready and its
// Secret, owned by it, exists.
func readyToken(t *testing.T, ctx context.Context, ns, name string) (*arcgisv1alpha1.ArcGISToken, *corev1.Secret) {
	t.Helper()
	tok := &arcgisv1alpha1.ArcGISToken{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: arcgisv1alpha1.ArcGISTokenSpec{
			Type: arcgisv1alpha1.ServiceTypePortal, URL: sim.PortalURL(),
			CredentialsRef:    arcgisv1alpha1.CredentialsReference{Name: "credentials"},
			Referer:           "https://maps.example.com",
			ExpirationMinutes: 60,
			CABundleRef:       &arcgisv1alpha1.CABundleReference{Name: "arcgis-ca"},
		},
	}
	if err := k8s.Create(ctx, tok); err != nil {
		t.Fatal(err)
	}
	waitReady(t, ctx, tok)
	secret := &corev1.Secret{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: tok.Status.SecretName}, secret); err != nil {
		t.Fatal(err)
	}
	if owner := metav1.GetControllerOf(secret); owner == nil || owner.UID != tok.UID {
		t.Fatalf("Secret %s/%s is not controlled by its ArcGISToken: %+v", ns, secret.Name, secret.OwnerReferences)
	}
	return tok, secret
}

func waitReady(t *testing.T, ctx context.Context, tok *arcgisv1alpha1.ArcGISToken) {
	t.Helper()
	eventually(t, fmt.Sprintf("ArcGISToken %s/%s Ready", tok.Namespace, tok.Name), func() (bool, string) {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(tok), tok); err != nil {
			return false, err.Error()
		}
		c := meta.FindStatusCondition(tok.Status.Conditions, arcgisv1alpha1.ConditionReady)
		return c != nil && c.Status == metav1.ConditionTrue && tok.Status.SecretName != "", fmt.Sprintf("%+v", tok.Status.Conditions)
	})
}

func waitGone(t *testing.T, ctx context.Context, obj client.Object, what string) time.Duration {
	t.Helper()
	start := time.Now()
	eventually(t, what+" deleted", func() (bool, string) {
		err := k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj)
		if apierrors.IsNotFound(err) {
			return true, ""
		}
		if err != nil {
			return false, err.Error()
		}
		return false, fmt.Sprintf("still there: deletionTimestamp %v, finalizers %v", obj.GetDeletionTimestamp(), obj.GetFinalizers())
	})
	return time.Since(start)
}

func eventually(t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	var last string
	for time.Now().Before(deadline) {
		var ok bool
		if ok, last = cond(); ok {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
	t.Fatalf("%s: not within %s (last: %s)", what, timeout, last)
}

// Deleting an ArcGISToken deletes its Secret: the garbage collector follows
// the owner reference, in the background (kubectl delete's default) and in
// the foreground (the ArcGISToken waits for its Secret).
func TestDeletingATokenDeletesItsSecret(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t, ctx)
	for name, policy := range map[string]metav1.DeletionPropagation{
		"background": metav1.DeletePropagationBackground,
		"foreground": metav1.DeletePropagationForeground,
	} {
		t.Run(name, func(t *testing.T) {
			tok, secret := readyToken(t, ctx, ns, name)
			if err := k8s.Delete(ctx, tok, client.PropagationPolicy(policy)); err != nil {
				t.Fatal(err)
			}
			took := waitGone(t, ctx, secret, "Secret "+secret.Name)
			t.Logf("%s deletion: the garbage collector deleted the Secret %s after %s", name, secret.Name, took.Round(10*time.Millisecond))
			waitGone(t, ctx, tok, "ArcGISToken "+tok.Name)
		})
	}
}

// Deleting a namespace that holds ArcGISTokens completes, and the manager
// goes on with the ArcGISTokens of other namespaces without an error.
func TestDeletingANamespace(t *testing.T) {
	ctx := context.Background()
	gone, stays := newNamespace(t, ctx), newNamespace(t, ctx)
	for _, name := range []string{"a", "b"} {
		readyToken(t, ctx, gone, name)
	}
	other, _ := readyToken(t, ctx, stays, "other")
	// The events of the first issue are sent in the background: let them
	// land before the namespace refuses new content, so that every error
	// line after this comes from what the manager did while it went away.
	eventsSettled(t, ctx, gone)

	logBefore := logs.Len()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: gone}}
	if err := k8s.Delete(ctx, ns); err != nil {
		t.Fatal(err)
	}
	took := waitGone(t, ctx, ns, "namespace "+gone)
	t.Logf("namespace %s with 2 ArcGISTokens deleted in %s", gone, took.Round(10*time.Millisecond))

	// The other namespace is still served: a renewal asked for now happens.
	renewAt := time.Now().UTC().Format(time.RFC3339Nano)
	patch := client.MergeFrom(other.DeepCopy())
	metav1.SetMetaDataAnnotation(&other.ObjectMeta, arcgisv1alpha1.RenewAtAnnotation, renewAt)
	if err := k8s.Patch(ctx, other, patch); err != nil {
		t.Fatal(err)
	}
	eventually(t, "the renewal of "+stays+"/other", func() (bool, string) {
		var s corev1.Secret
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: stays, Name: other.Status.SecretName}, &s); err != nil {
			return false, err.Error()
		}
		return s.Annotations[arcgisv1alpha1.RenewRequestAnnotation] == renewAt, fmt.Sprintf("annotations %v", s.Annotations)
	})
	waitReady(t, ctx, other)

	// No error at all, in either namespace: the namespace controller
	// deletes Secrets and ArcGISTokens in no set order, and a Secret gone
	// before its ArcGISToken is not re-issued into the terminating
	// namespace.
	// One kind of line is tolerated, and counted: the event sink's "Server
	// rejected event" for an event about an ArcGISToken of the namespace
	// that reached the API server after the namespace began terminating
	// (events are sent in the background, and the namespace controller
	// deletes Secrets before their owners). No write, no login and no
	// other error is.
	rejectedEvents := 0
	for _, line := range logs.ErrorLinesSince(logBefore) {
		if strings.Contains(line, "Server rejected event") && strings.Contains(line, `"namespace":"`+gone+`"`) &&
			strings.Contains(line, "because it is being terminated") {
			rejectedEvents++
			continue
		}
		t.Errorf("the manager logged an error while namespace %s went away:\n%s", gone, line)
	}
	if rejectedEvents > 0 {
		t.Logf("%d events about ArcGISTokens of namespace %s were refused by the terminating namespace", rejectedEvents, gone)
	}
	var left arcgisv1alpha1.ArcGISTokenList
	if err := mgr.GetCache().List(ctx, &left, client.InNamespace(gone)); err != nil {
		t.Fatal(err)
	}
	if len(left.Items) != 0 {
		t.Errorf("the manager's cache still holds %d ArcGISTokens of namespace %s", len(left.Items), gone)
	}
	assertNoInformersLeftFor(t, gone)
}

// eventsSettled waits until the number of events in namespace ns has not
// changed for two seconds.
func eventsSettled(t *testing.T, ctx context.Context, ns string) {
	t.Helper()
	last, since := -1, time.Now()
	eventually(t, "the events of namespace "+ns+" settled", func() (bool, string) {
		var list eventsv1.EventList
		if err := k8s.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return false, err.Error()
		}
		if n := len(list.Items); n != last {
			last, since = n, time.Now()
		}
		return time.Since(since) >= 2*time.Second, fmt.Sprintf("%d events", last)
	})
}

// assertNoInformersLeftFor checks that the manager stopped the informers of
// the referenced Secrets and ConfigMaps of namespace ns, which holds no
// ArcGISToken any more.
func assertNoInformersLeftFor(t *testing.T, ns string) {
	t.Helper()
	eventually(t, "no informer left for namespace "+ns, func() (bool, string) {
		watched := reconciler.WatchedNamespaces()
		return !slices.Contains(watched, ns), fmt.Sprintf("still watched: %v", watched)
	})
}

// lineBuffer keeps the manager's log.
type lineBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lineBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lineBuffer) Len() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Len()
}

// ErrorLinesSince returns the error lines logged after offset.
func (b *lineBuffer) ErrorLinesSince(offset int) []string {
	b.mu.Lock()
	data := append([]byte(nil), b.buf.Bytes()[offset:]...)
	b.mu.Unlock()
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	for sc.Scan() {
		if strings.Contains(sc.Text(), `"level":"error"`) {
			out = append(out, sc.Text())
		}
	}
	return out
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
