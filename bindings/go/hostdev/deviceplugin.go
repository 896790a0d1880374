// SPDX-License-Identifier: Apache-2.0

package hostdev

import (
	"bufio"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/libhostdev/libhostdev/bindings/go/internal/capi"
)

// Kubelet device plugins with the built-in plugins (hostdev/deviceplugin.h,
// docs/device-plugin.md):
//
//	cfg, err := host.LoadDevicePluginConfig("/etc/hostdev/device-plugins.json")
//	res, err := host.ResolveResources(cfg)       // the config applied to the host now
//	loop, err := host.NewDevicePluginLoop()
//	defer loop.Close()                            // stops every server
//	servers, err := loop.ServeAll(res, nil)       // one started server per resource
//	err = loop.StartThread()
//
// The loop works with a context of its own, a copy of the paths, node name, log priority and
// logger the Host had when the loop was made: the built-in plugins read the host through it on
// the loop's thread, so the Host stays usable meanwhile.

// ErrLoopClosed is returned by the methods of a closed DevicePluginLoop and of its servers.
var ErrLoopClosed = errors.New("hostdev: device-plugin loop or server is closed")

// dpStatus runs fn with a fresh status and turns a failure into an *Error of op.
func dpStatus(op string, fn func(st capi.Hdb_status)) error {
	st := capi.NewHdb_status()
	defer capi.DeleteHdb_status(st)
	fn(st)
	if code := st.Code(); code < 0 {
		return newError(op, code, st.Message())
	}
	return nil
}

// ---------------------------------------------------------------------------------------------
// Config and resources

// DevicePluginConfig is a parsed resource selection config (docs/device-plugin.md). Close it when
// done; the Resources resolved from it do not need it any more.
type DevicePluginConfig struct {
	mu  sync.Mutex
	cfg capi.Hostdev_dp_config
	// Source is the file it was loaded from, or "<text>".
	Source string
}

func newDevicePluginConfig(cfg capi.Hostdev_dp_config, source string) *DevicePluginConfig {
	c := &DevicePluginConfig{cfg: cfg, Source: source}
	runtime.SetFinalizer(c, (*DevicePluginConfig).Close)
	return c
}

// ParseDevicePluginConfig parses a config from JSON text. Errors wrap syscall.EINVAL with the
// library's message naming the entry, the key, what is wrong and what to write.
func (h *Host) ParseDevicePluginConfig(text string) (*DevicePluginConfig, error) {
	var cfg capi.Hostdev_dp_config
	err := h.do(func(ctx capi.Hostdev_ctx) error {
		return dpStatus("ParseDevicePluginConfig", func(st capi.Hdb_status) {
			cfg = capi.Hdb_dp_config_parse(ctx, text, st)
		})
	})
	if err != nil {
		return nil, err
	}
	return newDevicePluginConfig(cfg, "<text>"), nil
}

// LoadDevicePluginConfig reads and parses the config file path. Errors also wrap the file's
// errno (syscall.ENOENT, EACCES, EISDIR; EFBIG beyond 4 MiB).
func (h *Host) LoadDevicePluginConfig(path string) (*DevicePluginConfig, error) {
	var cfg capi.Hostdev_dp_config
	err := h.do(func(ctx capi.Hostdev_ctx) error {
		return dpStatus("LoadDevicePluginConfig", func(st capi.Hdb_status) {
			cfg = capi.Hdb_dp_config_load(ctx, path, st)
		})
	})
	if err != nil {
		return nil, err
	}
	return newDevicePluginConfig(cfg, path), nil
}

// Close releases the config. Safe to call twice.
func (cfg *DevicePluginConfig) Close() error {
	cfg.mu.Lock()
	defer cfg.mu.Unlock()
	if cfg.cfg != nil {
		capi.DeleteHostdev_dp_config(cfg.cfg)
		cfg.cfg = nil
	}
	runtime.SetFinalizer(cfg, nil)
	return nil
}

// ResourceKind is the kind of a resource's devices.
type ResourceKind int

// Kinds of resources (enum hostdev_dp_kind).
const (
	KindPCI  ResourceKind = iota // vfio PCI functions; device ids are PCI addresses
	KindUSB                      // USB devices; ids are stable USB identities
	KindMdev                     // mediated devices; ids are UUIDs
)

func (k ResourceKind) String() string {
	switch k {
	case KindPCI:
		return "pci"
	case KindUSB:
		return "usb"
	case KindMdev:
		return "mdev"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Resource is one resolved resource: its extended resource name, kind and the ids of the
// devices it has now.
type Resource struct {
	Name      string
	Kind      ResourceKind
	DeviceIDs []string
}

// Resources are the resources a config gives on this host (Host.ResolveResources), sorted by
// name: what a DevicePluginLoop serves. Close it when done; servers made from it do not need it.
type Resources struct {
	mu   sync.Mutex
	res  capi.Hostdev_dp_resources
	list []Resource
}

// ResolveResources applies cfg to the host now. Errors wrap syscall.EINVAL when two entries give
// the same resource name on this host (the message names both), or an enumeration error.
func (h *Host) ResolveResources(cfg *DevicePluginConfig) (*Resources, error) {
	if cfg == nil {
		return nil, newError("ResolveResources", -int(syscall.EINVAL), "no config given")
	}
	cfg.mu.Lock()
	defer cfg.mu.Unlock()
	if cfg.cfg == nil {
		return nil, newError("ResolveResources", -int(syscall.EINVAL), "the config is closed")
	}
	var raw capi.Hostdev_dp_resources
	err := h.do(func(ctx capi.Hostdev_ctx) error {
		return dpStatus("ResolveResources", func(st capi.Hdb_status) {
			raw = capi.Hdb_dp_resources_resolve(ctx, cfg.cfg, st)
		})
	})
	if err != nil {
		return nil, err
	}
	r := &Resources{res: raw}
	n := capi.Hostdev_dp_resources_get_count(raw)
	for i := int64(0); i < n; i++ {
		res := Resource{
			Name:      capi.Hostdev_dp_resources_get_name(raw, i),
			Kind:      ResourceKind(capi.Hostdev_dp_resources_get_kind(raw, i)),
			DeviceIDs: []string{},
		}
		m := capi.Hostdev_dp_resources_get_device_count(raw, i)
		for j := int64(0); j < m; j++ {
			res.DeviceIDs = append(res.DeviceIDs, capi.Hostdev_dp_resources_get_device_id(raw, i, j))
		}
		r.list = append(r.list, res)
	}
	runtime.SetFinalizer(r, (*Resources).Close)
	return r, nil
}

// List returns the resources, sorted by name (a copy).
func (r *Resources) List() []Resource {
	out := make([]Resource, len(r.list))
	for i, res := range r.list {
		res.DeviceIDs = append([]string(nil), res.DeviceIDs...)
		out[i] = res
	}
	return out
}

// Len is the number of resources.
func (r *Resources) Len() int { return len(r.list) }

// Index returns the position of the resource named name, -1 when there is none.
func (r *Resources) Index(name string) int {
	for i, res := range r.list {
		if res.Name == name {
			return i
		}
	}
	return -1
}

// PermittedFormat is the output format of PermittedHostDevices.
type PermittedFormat int

// Formats of PermittedHostDevices (enum hostdev_dp_format).
const (
	JSON PermittedFormat = iota
	YAML
)

// PermittedHostDevices returns KubeVirt's spec.configuration.permittedHostDevices for the
// resources as JSON or YAML text (docs/device-plugin.md says how to merge it).
func (r *Resources) PermittedHostDevices(format PermittedFormat) (string, error) {
	if format != JSON && format != YAML {
		return "", newError("PermittedHostDevices", -int(syscall.EINVAL),
			fmt.Sprintf("unknown format %d: use hostdev.JSON or hostdev.YAML", int(format)))
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.res == nil {
		return "", ErrLoopClosed
	}
	var text string
	err := dpStatus("PermittedHostDevices", func(st capi.Hdb_status) {
		text = capi.Hdb_dp_resources_permitted_host_devices(r.res, int(format), st)
	})
	return text, err
}

// Close releases the resources. Safe to call twice.
func (r *Resources) Close() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.res != nil {
		capi.DeleteHostdev_dp_resources(r.res)
		r.res = nil
	}
	runtime.SetFinalizer(r, nil)
	return nil
}

// ---------------------------------------------------------------------------------------------
// Loop

// dpCore is what a loop's servers share with it: the C loop and its context. The servers point
// here rather than at the DevicePluginLoop, so that a forgotten loop is unreachable (and its
// finalizer runs) while it still has servers.
type dpCore struct {
	mu      sync.RWMutex // RLock for calls, Lock to free
	ctx     capi.Hostdev_ctx
	loop    capi.Hostdev_dp_loop
	thread  int32 // 1 while the loop's thread runs
	running int32 // Run calls in progress

	smu      sync.Mutex
	servers  map[*Server]struct{}
	managers map[*DevicePluginManager]struct{}
	dras     map[*DRAPlugin]struct{}
	closed   bool
}

// DevicePluginLoop is the event loop that serves device plugins (hostdev_dp_loop): every server
// socket, kubelet call, timer and watch of its servers. Run it on a thread of its own
// (StartThread) or on a goroutine (Run until Quit). Its methods and those of its servers may be
// called from any goroutine. Close stops the thread and every server; a finalizer closes a
// forgotten loop.
type DevicePluginLoop struct {
	core    *dpCore
	logPipe capi.Hdb_log_pipe
	logDone chan struct{}
}

// NewDevicePluginLoop creates a loop on a copy of the Host's settings. With WithLogger, the
// loop's messages (serving, registered, lists sent, failures; LogInfo shows the life of each
// server) go to the same Logger from a goroutine of the loop's own, at any time: the Logger must
// be safe to call concurrently with the Host's calls.
func (h *Host) NewDevicePluginLoop() (*DevicePluginLoop, error) {
	var clone capi.Hostdev_ctx
	var logger Logger
	err := h.do(func(ctx capi.Hostdev_ctx) error {
		logger = h.logger
		return dpStatus("NewDevicePluginLoop", func(st capi.Hdb_status) {
			clone = capi.Hdb_ctx_clone(ctx, st)
		})
	})
	if err != nil {
		return nil, err
	}
	core := &dpCore{ctx: clone, servers: map[*Server]struct{}{},
		managers: map[*DevicePluginManager]struct{}{}}
	l := &DevicePluginLoop{core: core}
	if logger != nil {
		l.logPipe = capi.NewHdb_log_pipe(clone, capi.Hostdev_ctx_get_log_priority(clone))
		if l.logPipe == nil {
			capi.DeleteHostdev_ctx(clone)
			return nil, newError("NewDevicePluginLoop", -int(syscall.EMFILE),
				"cannot create the pipe for the loop's log messages")
		}
		l.logDone = make(chan struct{})
		go deliverLog(os.NewFile(uintptr(l.logPipe.Take_fd()), "hostdev-log"), logger, l.logDone)
	}
	err = dpStatus("NewDevicePluginLoop", func(st capi.Hdb_status) {
		core.loop = capi.Hdb_dp_loop_new(clone, st)
	})
	if err != nil {
		l.free()
		return nil, err
	}
	runtime.SetFinalizer(l, (*DevicePluginLoop).Close)
	return l, nil
}

// deliverLog hands the lines of the loop's log pipe to logger until the pipe is closed.
func deliverLog(f *os.File, logger Logger, done chan struct{}) {
	defer close(done)
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		prio, msg, _ := strings.Cut(sc.Text(), "\t")
		p, _ := strconv.Atoi(prio)
		logger(p, msg)
	}
}

// call runs fn with the C loop and its context under the read lock.
func (core *dpCore) call(fn func(ctx capi.Hostdev_ctx, loop capi.Hostdev_dp_loop) error) error {
	core.mu.RLock()
	defer core.mu.RUnlock()
	if core.loop == nil {
		return ErrLoopClosed
	}
	return fn(core.ctx, core.loop)
}

// StartThread runs the loop on a thread of its own. Errors wrap syscall.EALREADY when one runs.
func (l *DevicePluginLoop) StartThread() error {
	return l.core.call(func(ctx capi.Hostdev_ctx, loop capi.Hostdev_dp_loop) error {
		err := dpStatus("StartThread", func(st capi.Hdb_status) { capi.Hdb_dp_loop_start_thread(ctx, loop, st) })
		if err == nil {
			atomic.StoreInt32(&l.core.thread, 1)
		}
		return err
	})
}

// StopThread quits the loop's thread and waits for it (nothing when none runs).
func (l *DevicePluginLoop) StopThread() error {
	return l.core.call(func(ctx capi.Hostdev_ctx, loop capi.Hostdev_dp_loop) error {
		atomic.StoreInt32(&l.core.thread, 0)
		return dpStatus("StopThread", func(st capi.Hdb_status) { capi.Hdb_dp_loop_stop_thread(ctx, loop, st) })
	})
}

// Run dispatches on the calling goroutine (holding its OS thread) until Quit or Close.
func (l *DevicePluginLoop) Run() error {
	// Counted before the lock is taken: Close quits a Run it sees, before it waits for the lock.
	atomic.AddInt32(&l.core.running, 1)
	defer atomic.AddInt32(&l.core.running, -1)
	return l.core.call(func(ctx capi.Hostdev_ctx, loop capi.Hostdev_dp_loop) error {
		return dpStatus("Run", func(st capi.Hdb_status) { capi.Hdb_dp_loop_run(ctx, loop, st) })
	})
}

// Quit makes Run (or the loop's thread) return. Safe from any goroutine.
func (l *DevicePluginLoop) Quit() {
	_ = l.core.call(func(_ capi.Hostdev_ctx, loop capi.Hostdev_dp_loop) error {
		capi.Hostdev_dp_loop_quit(loop)
		return nil
	})
}

// flush dispatches until idle when no thread runs the loop, so that what the servers queued (the
// empty list and the end of each stream on stop) reaches the kubelet. Under the read lock.
func (core *dpCore) flush() {
	if atomic.LoadInt32(&core.thread) != 0 || core.loop == nil || atomic.LoadInt32(&core.running) > 0 {
		return
	}
	st := capi.NewHdb_status()
	defer capi.DeleteHdb_status(st)
	// Bounded: other servers of the loop may keep it busy.
	for deadline := time.Now().Add(500 * time.Millisecond); time.Now().Before(deadline); {
		if capi.Hdb_dp_loop_dispatch(core.ctx, core.loop, 50, st) <= 0 {
			return
		}
	}
}

// Close stops the thread and every server (their ListAndWatch streams get an empty list, their
// sockets are removed), releases the loop and delivers its last log messages. Safe to call twice;
// not from the Logger.
func (l *DevicePluginLoop) Close() error {
	core := l.core
	core.smu.Lock()
	if core.closed {
		core.smu.Unlock()
		return nil
	}
	core.closed = true
	servers := core.servers
	core.servers = map[*Server]struct{}{}
	managers := core.managers
	core.managers = map[*DevicePluginManager]struct{}{}
	dras := core.dras
	core.dras = nil
	core.smu.Unlock()

	core.mu.RLock()
	if core.loop != nil {
		st := capi.NewHdb_status()
		capi.Hdb_dp_loop_stop_thread(core.ctx, core.loop, st)
		capi.DeleteHdb_status(st)
		atomic.StoreInt32(&core.thread, 0)
		if atomic.LoadInt32(&core.running) > 0 {
			capi.Hostdev_dp_loop_quit(core.loop)
		}
	}
	core.mu.RUnlock()
	for s := range servers {
		s.release()
	}
	for m := range managers {
		m.release()
	}
	for p := range dras {
		p.release()
	}
	l.free()
	// The DRA drivers' calls in flight complete their claims (their contexts are cancelled).
	for p := range dras {
		<-p.reader
	}
	runtime.SetFinalizer(l, nil)
	return nil
}

// free releases the C loop, then the log pipe and the context, and waits for the log goroutine.
func (l *DevicePluginLoop) free() {
	core := l.core
	core.mu.Lock()
	core.flush()
	if core.loop != nil {
		capi.DeleteHostdev_dp_loop(core.loop)
		core.loop = nil
	}
	// Only now: no thread uses the loop's context any more.
	if l.logPipe != nil {
		capi.DeleteHdb_log_pipe(l.logPipe)
		l.logPipe = nil
	}
	if core.ctx != nil {
		capi.DeleteHostdev_ctx(core.ctx)
		core.ctx = nil
	}
	core.mu.Unlock()
	if l.logDone != nil {
		<-l.logDone
	}
}

// ---------------------------------------------------------------------------------------------
// Servers

// Registration says how a server makes itself known to the kubelet.
type Registration int

// Registration modes (enum hostdev_dp_registration).
const (
	// RegisterClassic registers on <device-plugins>/kubelet.sock and again whenever the
	// kubelet restarts.
	RegisterClassic Registration = iota
	// RegisterWatcher puts the socket in the kubelet's plugins_registry for its plugin watcher.
	RegisterWatcher
	// RegisterNone only serves the socket (tests, or another component registers).
	RegisterNone
)

// ServerState is where a server stands with the kubelet.
type ServerState int

// States of a server (enum hostdev_dp_state).
const (
	StateStopped     ServerState = iota // not started, or stopped
	StateRegistering                    // serving; registration in flight or waiting to retry
	StateRegistered                     // the kubelet accepted the registration
	StateServing                        // serving without registration (RegisterNone)
)

func (s ServerState) String() string {
	switch s {
	case StateStopped:
		return "stopped"
	case StateRegistering:
		return "registering"
	case StateRegistered:
		return "registered"
	case StateServing:
		return "serving"
	}
	return "state(" + strconv.Itoa(int(s)) + ")"
}

// DefaultRefreshInterval is how often a server re-reads its devices when
// ServerOptions.RefreshInterval is 0.
const DefaultRefreshInterval = time.Duration(capi.HOSTDEV_DP_DEFAULT_REFRESH_MS) * time.Millisecond

// ServerOptions are the options of Serve; nil means all defaults.
type ServerOptions struct {
	// Registration: RegisterClassic (the zero value), RegisterWatcher or RegisterNone.
	Registration Registration
	// KubeletDir is the kubelet's root: the socket and kubelet.sock are in
	// <KubeletDir>/device-plugins, the watcher's socket in <KubeletDir>/plugins_registry.
	// "" = the Host's PathKubelet. DevicePluginDir and PluginsRegistryDir set either
	// directly.
	KubeletDir         string
	DevicePluginDir    string
	PluginsRegistryDir string
	// SocketName is the socket's file name; "" = derived from the resource name.
	SocketName string
	// RefreshInterval is how often the devices are re-read to catch health changes;
	// 0 = DefaultRefreshInterval, < 0 = never (call Refresh after hot-plug events).
	RefreshInterval time.Duration
	// NoStart creates the server without starting it.
	NoStart bool
}

func (o *ServerOptions) values() (reg int, socket, dpDir, regDir string, refreshMS int, err error) {
	if o == nil {
		return int(RegisterClassic), "", "", "", 0, nil
	}
	switch o.Registration {
	case RegisterClassic, RegisterWatcher, RegisterNone:
	default:
		return 0, "", "", "", 0, newError("Serve", -int(syscall.EINVAL),
			fmt.Sprintf("unknown registration %d: use RegisterClassic, RegisterWatcher or RegisterNone",
				int(o.Registration)))
	}
	dpDir, regDir = o.DevicePluginDir, o.PluginsRegistryDir
	if o.KubeletDir != "" {
		if dpDir == "" {
			dpDir = filepath.Join(o.KubeletDir, "device-plugins")
		}
		if regDir == "" {
			regDir = filepath.Join(o.KubeletDir, "plugins_registry")
		}
	}
	switch {
	case o.RefreshInterval < 0:
		refreshMS = -1
	case o.RefreshInterval == 0:
		refreshMS = 0
	case o.RefreshInterval.Milliseconds() >= math.MaxInt32:
		refreshMS = math.MaxInt32
	default:
		refreshMS = int(timeoutMS(o.RefreshInterval))
	}
	return int(o.Registration), o.SocketName, dpDir, regDir, refreshMS, nil
}

// Server is a device-plugin server for one extended resource (hostdev_dp_server) with the
// built-in plugin of its kind. Its methods may be called from any goroutine. It lives until Close
// or the loop's Close.
type Server struct {
	core     *dpCore
	mu       sync.RWMutex // RLock for calls, Lock to free
	srv      capi.Hostdev_dp_server
	resource Resource
	name     string
	socket   string
}

// Serve creates a server for resource i of res (Resources.Index finds one by name) with the
// built-in plugin of its kind, and starts it unless opts.NoStart. Errors wrap syscall.ERANGE (no
// resource i), EINVAL (e.g. a directory too long for a socket path; the message gives the limit),
// EADDRINUSE (another process serves the socket), or the error of reading the devices.
func (l *DevicePluginLoop) Serve(res *Resources, i int, opts *ServerOptions) (*Server, error) {
	reg, socket, dpDir, regDir, refreshMS, err := opts.values()
	if err != nil {
		return nil, err
	}
	if res == nil {
		return nil, newError("Serve", -int(syscall.EINVAL), "no resources given")
	}
	if i < 0 || i >= res.Len() {
		return nil, newError("Serve", -int(syscall.ERANGE),
			fmt.Sprintf("no resource %d: there are %d", i, res.Len()))
	}
	res.mu.Lock()
	defer res.mu.Unlock()
	if res.res == nil {
		return nil, newError("Serve", -int(syscall.EINVAL), "the resources are closed")
	}
	var s *Server
	err = l.core.call(func(ctx capi.Hostdev_ctx, loop capi.Hostdev_dp_loop) error {
		var raw capi.Hostdev_dp_server
		err := dpStatus("Serve", func(st capi.Hdb_status) {
			raw = capi.Hdb_dp_server_new_builtin(ctx, loop, res.res, int64(i), reg, socket, dpDir,
				regDir, refreshMS, st)
		})
		if err != nil {
			return err
		}
		r := res.list[i]
		r.DeviceIDs = append([]string(nil), r.DeviceIDs...)
		s = &Server{core: l.core, srv: raw, resource: r,
			name:   capi.Hostdev_dp_server_get_resource_name(raw),
			socket: capi.Hostdev_dp_server_get_socket_path(raw)}
		return nil
	})
	if err != nil {
		return nil, err
	}
	l.core.smu.Lock()
	if l.core.closed {
		l.core.smu.Unlock()
		s.release()
		return nil, ErrLoopClosed
	}
	l.core.servers[s] = struct{}{}
	l.core.smu.Unlock()
	if opts == nil || !opts.NoStart {
		if err := s.Start(); err != nil {
			s.Close()
			return nil, err
		}
	}
	return s, nil
}

// ServeAll serves every resource of res with the same options. When one fails, the servers
// already made are closed.
func (l *DevicePluginLoop) ServeAll(res *Resources, opts *ServerOptions) ([]*Server, error) {
	var servers []*Server
	for i := 0; i < res.Len(); i++ {
		s, err := l.Serve(res, i, opts)
		if err != nil {
			for _, s := range servers {
				s.Close()
			}
			return nil, err
		}
		servers = append(servers, s)
	}
	return servers, nil
}

// call runs fn with the C server and the loop's context under the read lock.
func (s *Server) call(op string, fn func(ctx capi.Hostdev_ctx, srv capi.Hostdev_dp_server, st capi.Hdb_status)) error {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.srv == nil {
		return ErrLoopClosed
	}
	return dpStatus(op, func(st capi.Hdb_status) { fn(s.core.ctx, s.srv, st) })
}

// Start reads the devices, listens on the socket (replacing a stale one) and starts registering;
// it returns once listening. Errors wrap syscall.EALREADY (started), EADDRINUSE (another process
// serves the socket), or the error of reading the devices.
func (s *Server) Start() error {
	return s.call("Start", func(ctx capi.Hostdev_ctx, srv capi.Hostdev_dp_server, st capi.Hdb_status) {
		capi.Hdb_dp_server_start(ctx, srv, st)
	})
}

// Stop makes every ListAndWatch stream get an empty list and end, and removes the socket: the
// kubelet sees no devices for the resource. A stopped server can be started again.
func (s *Server) Stop() error {
	err := s.call("Stop", func(ctx capi.Hostdev_ctx, srv capi.Hostdev_dp_server, st capi.Hdb_status) {
		capi.Hdb_dp_server_stop(ctx, srv, st)
	})
	s.core.mu.RLock()
	s.core.flush()
	s.core.mu.RUnlock()
	return err
}

// Refresh re-reads the devices now and sends the list when it changed (after a hot-plug event).
func (s *Server) Refresh() error {
	return s.call("Refresh", func(ctx capi.Hostdev_ctx, srv capi.Hostdev_dp_server, st capi.Hdb_status) {
		capi.Hdb_dp_server_refresh(ctx, srv, st)
	})
}

// AdvertisedDevice is a device for SetDevices.
type AdvertisedDevice struct {
	ID       string // 1-63 characters of [A-Za-z0-9._:-], alphanumeric at both ends
	Healthy  bool
	NUMANode int // -1: no topology
}

// SetDevices advertises devices until the next refresh. Errors wrap syscall.EINVAL (a malformed
// id) and EEXIST (an id twice).
func (s *Server) SetDevices(devices []AdvertisedDevice) error {
	var list capi.Hostdev_dp_devices
	if err := dpStatus("SetDevices", func(st capi.Hdb_status) { list = capi.Hdb_dp_devices_new(st) }); err != nil {
		return err
	}
	defer capi.DeleteHostdev_dp_devices(list)
	for _, d := range devices {
		healthy := 0
		if d.Healthy {
			healthy = 1
		}
		switch r := capi.Hostdev_dp_devices_add(list, d.ID, healthy, d.NUMANode); {
		case r == -int(syscall.EINVAL):
			return newError("SetDevices", r, fmt.Sprintf("device id %q is not valid: 1-63 characters "+
				"of [A-Za-z0-9._:-], alphanumeric at both ends", d.ID))
		case r == -int(syscall.EEXIST):
			return newError("SetDevices", r, fmt.Sprintf("device id %q is in the list twice", d.ID))
		case r < 0:
			return newError("SetDevices", r, "")
		}
	}
	return s.call("SetDevices", func(ctx capi.Hostdev_ctx, srv capi.Hostdev_dp_server, st capi.Hdb_status) {
		capi.Hdb_dp_server_set_devices(ctx, srv, list, st)
	})
}

// State returns where the server stands with the kubelet (StateStopped once closed).
func (s *Server) State() ServerState {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.srv == nil {
		return StateStopped
	}
	return ServerState(capi.Hostdev_dp_server_get_state(s.srv))
}

// Registrations returns how many times the kubelet accepted a registration (1 after the first).
func (s *Server) Registrations() int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if s.srv == nil {
		return 0
	}
	return int(capi.Hostdev_dp_server_get_registrations(s.srv))
}

// SocketPath returns the absolute path of the plugin socket.
func (s *Server) SocketPath() string { return s.socket }

// ResourceName returns the extended resource name.
func (s *Server) ResourceName() string { return s.name }

// Resource returns the resource served, as it was resolved (its devices follow the host since).
func (s *Server) Resource() Resource { return s.resource }

// release frees the C server: the last reference stops it.
func (s *Server) release() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.srv != nil {
		capi.DeleteHostdev_dp_server(s.srv)
		s.srv = nil
	}
}

// Close stops the server and releases it. Safe to call twice.
func (s *Server) Close() error {
	s.core.smu.Lock()
	delete(s.core.servers, s)
	s.core.smu.Unlock()
	s.release()
	s.core.mu.RLock()
	s.core.flush()
	s.core.mu.RUnlock()
	return nil
}
