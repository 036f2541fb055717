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

import "time"

// The service's clock is Config.Clock plus an offset, so a test can run a
// service whose clock is ahead of or behind its own (the operator's), as
// real deployments are: everything the service computes (token and key
// expiry, lock-out windows, expiry checks on use, item dates, the Date
// header) follows it. Counters keep Config.Clock's time, so tests compare
// them with their own clock.

// SetClockOffset sets the service clock to Config.Clock + d (d may be
// negative). It takes effect at once, for tokens already issued too: a
// token's expiry is a point in service time.
func (s *Simulator) SetClockOffset(d time.Duration) { s.offset.Store(int64(d)) }

// ClockOffset returns the service clock's offset from Config.Clock.
func (s *Simulator) ClockOffset() time.Duration { return time.Duration(s.offset.Load()) }

// ServiceNow returns the service's time: Config.Clock's now plus the offset.
func (s *Simulator) ServiceNow() time.Time { return s.cfg.Clock.Now().Add(s.ClockOffset()) }

// now reads the service clock.
func (s *Simulator) now() time.Time { return s.ServiceNow() }

// observed reads Config.Clock, for counters.
func (s *Simulator) observed() time.Time { return s.cfg.Clock.Now() }
