// SPDX-License-Identifier: Apache-2.0

package hostdev

import (
	"fmt"
	"math"
	"sync"
	"syscall"
	"time"

	"github.com/libhostdev/libhostdev/bindings/go/internal/capi"
)

// DefaultGracePeriod is how long a resource whose last device left is served on (its devices
// Unhealthy) when ManagerOptions.GracePeriod is 0.
const DefaultGracePeriod = time.Duration(capi.HOSTDEV_DP_MANAGER_DEFAULT_GRACE_MS) * time.Millisecond

// ManagerOptions are the options of ServeConfig; nil means all defaults.
type ManagerOptions struct {
	// Server holds the options of every server; its SocketName must be empty (each resource's
	// socket is named after it) and NoStart applies to the manager.
	Server ServerOptions
	// GracePeriod is how long a resource whose last device left keeps its server, its devices
	// listed Unhealthy: 0 = DefaultGracePeriod, < 0 = never ends. EndAtOnce ends it at once.
	GracePeriod time.Duration
	// EndAtOnce ends a resource's server as soon as its last device leaves (a grace of 0).
	EndAtOnce bool
	// ResolveInterval also resolves the config every interval: 0 = on hot-plug events only (at
	// the servers' refresh interval when the host delivers none), < 0 = never.
	ResolveInterval time.Duration
	// NoHotplug watches no hot-plug events: only Resolve and the interval.
	NoHotplug bool
}

func msOrNever(d time.Duration) int {
	switch {
	case d < 0:
		return -1
	case d == 0:
		return 0
	case d.Milliseconds() >= math.MaxInt32:
		return math.MaxInt32
	}
	return int(timeoutMS(d))
}

// DevicePluginManager serves every resource of a config, one built-in server each, following
// hot-plug (hostdev_dp_manager, docs/device-plugin.md "Resources follow hot-plug"): every USB/PCI
// event resolves the config again on the loop; a new resource name gets its server at once; one
// whose last device left lists its devices Unhealthy for the grace period, then ends. Its methods
// may be called from any goroutine. It lives until Close or the loop's Close.
type DevicePluginManager struct {
	core   *dpCore
	mu     sync.RWMutex // RLock for calls, Lock to free
	mgr    capi.Hostdev_dp_manager
	config *DevicePluginConfig
}

// ServeConfig makes a DevicePluginManager for cfg and starts it unless opts.Server.NoStart.
// Errors wrap syscall.EINVAL (a socket name given, bad options), or the error of a server that
// cannot start, naming the resource (the servers started are stopped again).
func (l *DevicePluginLoop) ServeConfig(cfg *DevicePluginConfig, opts *ManagerOptions) (*DevicePluginManager, error) {
	if cfg == nil {
		return nil, newError("ServeConfig", -int(syscall.EINVAL), "no config given")
	}
	if opts == nil {
		opts = &ManagerOptions{}
	}
	if opts.Server.SocketName != "" {
		return nil, newError("ServeConfig", -int(syscall.EINVAL),
			fmt.Sprintf("socket name %q for every server of a config: each resource's socket is named after it; leave SocketName empty",
				opts.Server.SocketName))
	}
	reg, _, dpDir, regDir, refreshMS, err := opts.Server.values()
	if err != nil {
		return nil, err
	}
	graceMS := msOrNever(opts.GracePeriod)
	if opts.GracePeriod == 0 {
		graceMS = int(capi.HOSTDEV_DP_MANAGER_DEFAULT_GRACE_MS)
	}
	if opts.EndAtOnce {
		graceMS = 0
	}
	hotplug := 1
	if opts.NoHotplug {
		hotplug = 0
	}
	cfg.mu.Lock()
	defer cfg.mu.Unlock()
	if cfg.cfg == nil {
		return nil, newError("ServeConfig", -int(syscall.EINVAL), "the config is closed")
	}
	m := &DevicePluginManager{core: l.core, config: cfg}
	err = l.core.call(func(ctx capi.Hostdev_ctx, loop capi.Hostdev_dp_loop) error {
		return dpStatus("ServeConfig", func(st capi.Hdb_status) {
			m.mgr = capi.Hdb_dp_manager_new(ctx, loop, cfg.cfg, reg, dpDir, regDir, refreshMS,
				graceMS, msOrNever(opts.ResolveInterval), hotplug, st)
		})
	})
	if err != nil {
		return nil, err
	}
	l.core.smu.Lock()
	if l.core.closed {
		l.core.smu.Unlock()
		m.release()
		return nil, ErrLoopClosed
	}
	l.core.managers[m] = struct{}{}
	l.core.smu.Unlock()
	if !opts.Server.NoStart {
		if err := m.Start(); err != nil {
			m.Close()
			return nil, err
		}
	}
	return m, nil
}

// call runs fn with the C manager and the loop's context under the read lock.
func (m *DevicePluginManager) call(op string, fn func(ctx capi.Hostdev_ctx, mgr capi.Hostdev_dp_manager, st capi.Hdb_status)) error {
	m.mu.RLock()
	defer m.mu.RUnlock()
	if m.mgr == nil {
		return ErrLoopClosed
	}
	return dpStatus(op, func(st capi.Hdb_status) { fn(m.core.ctx, m.mgr, st) })
}

// Start resolves the config, starts a server for each resource and follows hot-plug. Errors wrap
// syscall.EALREADY (started) or the error of a server that cannot start.
func (m *DevicePluginManager) Start() error {
	return m.call("Start", func(ctx capi.Hostdev_ctx, mgr capi.Hostdev_dp_manager, st capi.Hdb_status) {
		capi.Hdb_dp_manager_start(ctx, mgr, st)
	})
}

// Stop stops following hot-plug and stops every server (empty lists, sockets removed); Start
// serves again.
func (m *DevicePluginManager) Stop() error {
	err := m.call("Stop", func(ctx capi.Hostdev_ctx, mgr capi.Hostdev_dp_manager, st capi.Hdb_status) {
		capi.Hdb_dp_manager_stop(ctx, mgr, st)
	})
	m.core.mu.RLock()
	m.core.flush()
	m.core.mu.RUnlock()
	return err
}

// Resolve resolves the config again now, as a hot-plug event does.
func (m *DevicePluginManager) Resolve() error {
	return m.call("Resolve", func(ctx capi.Hostdev_ctx, mgr capi.Hostdev_dp_manager, st capi.Hdb_status) {
		capi.Hdb_dp_manager_resolve(ctx, mgr, st)
	})
}

// Refresh re-reads every server's devices now.
func (m *DevicePluginManager) Refresh() error {
	return m.call("Refresh", func(ctx capi.Hostdev_ctx, mgr capi.Hostdev_dp_manager, st capi.Hdb_status) {
		capi.Hdb_dp_manager_refresh(ctx, mgr, st)
	})
}

// ServedResource is what a DevicePluginManager serves for one resource, as of the moment it was
// read.
type ServedResource struct {
	ResourceName  string
	SocketPath    string
	State         ServerState
	Registrations int
}

// Resources returns a ServedResource per server now, in the order they started (they come and go
// with hot-plug).
func (m *DevicePluginManager) Resources() []ServedResource {
	var out []ServedResource
	_ = m.call("Resources", func(_ capi.Hostdev_ctx, mgr capi.Hostdev_dp_manager, _ capi.Hdb_status) {
		n := capi.Hostdev_dp_manager_get_count(mgr)
		for i := int64(0); i < n; i++ {
			srv := capi.Hdb_dp_manager_get_server(mgr, i)
			if srv == nil {
				break
			}
			out = append(out, ServedResource{
				ResourceName:  capi.Hostdev_dp_server_get_resource_name(srv),
				SocketPath:    capi.Hostdev_dp_server_get_socket_path(srv),
				State:         ServerState(capi.Hostdev_dp_server_get_state(srv)),
				Registrations: int(capi.Hostdev_dp_server_get_registrations(srv)),
			})
			capi.DeleteHostdev_dp_server(srv)
		}
	})
	return out
}

// Config returns the config it serves.
func (m *DevicePluginManager) Config() *DevicePluginConfig { return m.config }

// release frees the C manager: the last reference stops its servers.
func (m *DevicePluginManager) release() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.mgr != nil {
		capi.DeleteHostdev_dp_manager(m.mgr)
		m.mgr = nil
	}
}

// Close stops every server and releases the manager. Safe to call twice.
func (m *DevicePluginManager) Close() error {
	m.core.smu.Lock()
	delete(m.core.managers, m)
	m.core.smu.Unlock()
	m.release()
	m.core.mu.RLock()
	m.core.flush()
	m.core.mu.RUnlock()
	return nil
}
