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
	"sync"
	"time"
)

// flight runs one function per key at a time and shares its result with
// every caller that asks for the same key meanwhile: one discovery per
// server, one portal login per account, however many tokens need them at
// once. That also means one failed login, not one per waiting token, when
// the password is wrong, which matters to accounts that lock.
//
// The function runs on its own goroutine with a context detached from the
// callers' cancellation, so that the first caller giving up does not fail the
// others; each caller stops waiting when its own context ends.
type flight[K comparable, V any] struct {
	mu    sync.Mutex
	calls map[K]*flightCall[V]
}

type flightCall[V any] struct {
	done chan struct{}
	val  V
	err  *Error
}

// do returns fn's result for key. limit bounds how long fn may run once
// detached from the callers.
func (f *flight[K, V]) do(ctx context.Context, key K, limit time.Duration, fn func(context.Context) (V, *Error)) (V, *Error) {
	if err := ctx.Err(); err != nil {
		// Do not start work for a caller that has already given up.
		var zero V
		return zero, contextError(ctx, err, "before the request was sent")
	}
	f.mu.Lock()
	if f.calls == nil {
		f.calls = map[K]*flightCall[V]{}
	}
	fc, ok := f.calls[key]
	if !ok {
		fc = &flightCall[V]{done: make(chan struct{})}
		f.calls[key] = fc
		detached, cancel := context.WithTimeout(context.WithoutCancel(ctx), limit)
		go func() {
			defer cancel()
			defer func() {
				f.mu.Lock()
				delete(f.calls, key)
				f.mu.Unlock()
				close(fc.done)
			}()
			fc.val, fc.err = fn(detached)
		}()
	}
	f.mu.Unlock()

	select {
	case <-fc.done:
		// Every caller gets its own copy of the error.
		if fc.err != nil {
			e := *fc.err
			var zero V
			return zero, &e
		}
		return fc.val, nil
	case <-ctx.Done():
		var zero V
		return zero, contextError(ctx, ctx.Err(), "while waiting for a shared request")
	}
}
