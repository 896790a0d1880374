// SPDX-License-Identifier: Apache-2.0

package hostdev

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"syscall"

	"github.com/libhostdev/libhostdev/bindings/go/internal/capi"
)

// Kubelet Dynamic Resource Allocation (DRA) plugins (hostdev/dra.h, docs/dra.md):
//
//	loop, err := host.NewDevicePluginLoop()
//	defer loop.Close()
//	plugin, err := loop.ServeDRA("vfio.hostdev.io", driver, &hostdev.DRAOptions{})
//	err = loop.StartThread()
//
// driver is a DRADriver: its PrepareClaim and UnprepareClaim run on a goroutine per claim, so
// they may take their time (read the ResourceClaim, bind devices) without holding up the loop.

// DRAClaim is a claim the kubelet asks to prepare or unprepare: the ResourceClaim's namespace,
// name and uid, and the API version of the kubelet's call ("v1" or "v1beta1").
type DRAClaim struct {
	Namespace  string
	Name       string
	UID        string
	APIVersion string
}

// DRADevice is one prepared device of a claim: Pool and Device as in the claim's allocation
// result, Requests the names of the claim's requests it satisfies, CDIDeviceIDs the fully
// qualified CDI device ids the container runtime applies (CDISpec.DeviceID, DeviceMetadata.CDIID).
type DRADevice struct {
	Pool         string
	Device       string
	Requests     []string
	CDIDeviceIDs []string
}

// DRADriver resolves the claims of a DRA plugin. Each call runs on a goroutine of its own, so
// calls for different claims run concurrently; ctx is cancelled when the plugin is closed.
//
// PrepareClaim must be idempotent (the kubelet repeats Prepare after its restart or a timeout) and
// returns the claim's prepared devices. UnprepareClaim releases what PrepareClaim did; for a claim
// the driver does not know it must return nil. An error fails that claim only: the kubelet gets
// its message (an *Error's Message, else err.Error()) and retries later.
type DRADriver interface {
	PrepareClaim(ctx context.Context, claim DRAClaim) ([]DRADevice, error)
	UnprepareClaim(ctx context.Context, claim DRAClaim) error
}

// DRARegistrationObserver is implemented by a DRADriver that wants the reports of the kubelet's
// plugin watcher: registered is true when the kubelet accepted the plugin, else reason says why it
// did not. It is called on every registration, also after each kubelet restart (the kubelet
// deletes the node's ResourceSlices when it starts: republish them here), one call at a time.
type DRARegistrationObserver interface {
	RegistrationStatus(registered bool, reason string)
}

// DRADriverFuncs makes a DRADriver (and DRARegistrationObserver) of functions. A nil Prepare
// fails every claim; a nil Unprepare lets every unprepare succeed; Registration may be nil.
type DRADriverFuncs struct {
	Prepare      func(ctx context.Context, claim DRAClaim) ([]DRADevice, error)
	Unprepare    func(ctx context.Context, claim DRAClaim) error
	Registration func(registered bool, reason string)
}

// PrepareClaim calls f.Prepare.
func (f DRADriverFuncs) PrepareClaim(ctx context.Context, claim DRAClaim) ([]DRADevice, error) {
	if f.Prepare == nil {
		return nil, fmt.Errorf("the driver prepares no claims (claim %s/%s)", claim.Namespace, claim.Name)
	}
	return f.Prepare(ctx, claim)
}

// UnprepareClaim calls f.Unprepare.
func (f DRADriverFuncs) UnprepareClaim(ctx context.Context, claim DRAClaim) error {
	if f.Unprepare == nil {
		return nil
	}
	return f.Unprepare(ctx, claim)
}

// RegistrationStatus calls f.Registration.
func (f DRADriverFuncs) RegistrationStatus(registered bool, reason string) {
	if f.Registration != nil {
		f.Registration(registered, reason)
	}
}

// DRA API versions, for DRAOptions.APIVersions.
const (
	DRAAPIv1      = "v1"
	DRAAPIv1beta1 = "v1beta1"
)

// DRAOptions are the options of ServeDRA; nil means all defaults.
type DRAOptions struct {
	// KubeletDir is the kubelet's root: the DRA socket is <KubeletDir>/plugins/<driver>/dra.sock,
	// the registration socket <KubeletDir>/plugins_registry/<driver>-reg.sock. "" = the Host's
	// PathKubelet. PluginDir and RegistryDir set either directly.
	KubeletDir  string
	PluginDir   string
	RegistryDir string
	// APIVersions are the versions served and advertised (DRAAPIv1, DRAAPIv1beta1); nil = both.
	APIVersions []string
	// KubeletUID lets a kubelet running as another user in (root and this process's user always
	// are); 0 = nobody else.
	KubeletUID int
	// NoRegistration serves the DRA socket alone, without the registration socket.
	NoRegistration bool
	// NoStart creates the plugin without starting it.
	NoStart bool
}

func (o *DRAOptions) values() (pluginDir, regDir string, apis uint, uid int, noReg int, err error) {
	uid = -1
	if o == nil {
		return
	}
	pluginDir, regDir = o.PluginDir, o.RegistryDir
	if o.KubeletDir != "" {
		if pluginDir == "" {
			pluginDir = filepath.Join(o.KubeletDir, "plugins")
		}
		if regDir == "" {
			regDir = filepath.Join(o.KubeletDir, "plugins_registry")
		}
	}
	for _, v := range o.APIVersions {
		switch v {
		case DRAAPIv1:
			apis |= uint(capi.HOSTDEV_DRA_API_V1)
		case DRAAPIv1beta1:
			apis |= uint(capi.HOSTDEV_DRA_API_V1BETA1)
		default:
			err = newError("ServeDRA", -int(syscall.EINVAL),
				fmt.Sprintf("unknown DRA API version %q: use %q or %q", v, DRAAPIv1, DRAAPIv1beta1))
			return
		}
	}
	if o.APIVersions != nil && apis == 0 {
		err = newError("ServeDRA", -int(syscall.EINVAL), "APIVersions names no version: use nil for all of them")
		return
	}
	if o.KubeletUID < 0 {
		err = newError("ServeDRA", -int(syscall.EINVAL), fmt.Sprintf("KubeletUID %d is not a user id", o.KubeletUID))
		return
	}
	if o.KubeletUID > 0 {
		uid = o.KubeletUID
	}
	if o.NoRegistration {
		noReg = 1
	}
	return
}

// DRAState is where a DRA plugin stands with the kubelet.
type DRAState int

// DRA plugin states (enum hostdev_dra_state; the test checks the values against it).
const (
	DRAStopped     DRAState = iota // not started, stopped or closed
	DRARegistering                 // serving, waiting for the plugin watcher
	DRARegistered                  // the kubelet accepted the registration
	DRAServing                     // serving without registration (NoRegistration)
)

func (s DRAState) String() string {
	switch s {
	case DRAStopped:
		return "stopped"
	case DRARegistering:
		return "registering"
	case DRARegistered:
		return "registered"
	case DRAServing:
		return "serving"
	}
	return fmt.Sprintf("DRAState(%d)", int(s))
}

// DRAPlugin is the DRA kubelet plugin of one driver (hostdev_dra_plugin), made by ServeDRA. Its
// methods may be called from any goroutine. It lives until Close or the loop's Close.
type DRAPlugin struct {
	core    *dpCore
	mu      sync.RWMutex // RLock for calls, Lock to free
	plugin  capi.Hostdev_dra_plugin
	driver  string
	socket  string
	regPath string
	cancel  context.CancelFunc
	// reader is closed when the queue's reader is done: the C plugin was freed, which it is
	// once released and every claim handed to the driver completed.
	reader chan struct{}
}

// ServeDRA creates the DRA plugin of driver driverName (a DNS subdomain such as
// "vfio.hostdev.io") whose claims driver resolves, and starts it unless opts.NoStart. Errors wrap
// syscall.EINVAL (a bad driver name or option, a socket path too long), EADDRINUSE (another
// process serves a socket).
func (l *DevicePluginLoop) ServeDRA(driverName string, driver DRADriver, opts *DRAOptions) (*DRAPlugin, error) {
	pluginDir, regDir, apis, uid, noReg, err := opts.values()
	if err != nil {
		return nil, err
	}
	if driver == nil {
		return nil, newError("ServeDRA", -int(syscall.EINVAL), "no DRADriver given")
	}
	queue := capi.NewHdb_dra_queue()
	if queue == nil || queue.Swigcptr() == 0 {
		return nil, newError("ServeDRA", -int(syscall.EMFILE), "cannot create the pipe of the DRA plugin's queue")
	}
	base, cancel := context.WithCancel(context.Background())
	p := &DRAPlugin{core: l.core, cancel: cancel, reader: make(chan struct{})}
	// The reader owns the queue's Go reference from here: it deletes it at the end of the pipe,
	// which comes when the plugin is freed (or at once when creating it fails).
	go p.read(queue, os.NewFile(uintptr(queue.Take_fd()), "hostdev-dra-queue"), driver, base)
	err = l.core.call(func(ctx capi.Hostdev_ctx, loop capi.Hostdev_dp_loop) error {
		var raw capi.Hostdev_dra_plugin
		err := dpStatus("ServeDRA", func(st capi.Hdb_status) {
			raw = capi.Hdb_dra_plugin_new_go(ctx, loop, driverName, queue, 1, 1, pluginDir, regDir,
				apis, uid, noReg, st)
		})
		if err != nil {
			return err
		}
		p.plugin = raw
		p.driver = capi.Hostdev_dra_plugin_get_driver_name(raw)
		p.socket = capi.Hostdev_dra_plugin_get_socket_path(raw)
		if noReg == 0 {
			p.regPath = capi.Hostdev_dra_plugin_get_registration_path(raw)
		}
		return nil
	})
	if err != nil {
		cancel()
		return nil, err
	}
	l.core.smu.Lock()
	if l.core.closed {
		l.core.smu.Unlock()
		p.release()
		return nil, ErrLoopClosed
	}
	if l.core.dras == nil {
		l.core.dras = map[*DRAPlugin]struct{}{}
	}
	l.core.dras[p] = struct{}{}
	l.core.smu.Unlock()
	if opts == nil || !opts.NoStart {
		if err := p.Start(); err != nil {
			p.Close()
			return nil, err
		}
	}
	return p, nil
}

// read hands what the plugin's ops queue to driver until the plugin is freed.
func (p *DRAPlugin) read(queue capi.Hdb_dra_queue, pipe *os.File, driver DRADriver, ctx context.Context) {
	defer close(p.reader)
	defer pipe.Close()
	observer, _ := driver.(DRARegistrationObserver)
	buf := make([]byte, 64)
	for {
		_, err := pipe.Read(buf)
		for {
			item := queue.Pop()
			if item == nil || item.Swigcptr() == 0 {
				break
			}
			switch item.Kind() {
			case capi.HDB_DRA_REGISTRATION:
				if observer != nil {
					observer.RegistrationStatus(item.Registered() != 0, item.Error())
				}
			default:
				req := item.Take_request()
				go p.handle(ctx, driver, req, item.Kind() == capi.HDB_DRA_PREPARE)
			}
			capi.DeleteHdb_dra_item(item)
		}
		if err != nil {
			if !errors.Is(err, io.EOF) {
				// Not expected from a pipe; the queue's reference is kept (a leak, not a crash).
				return
			}
			break
		}
	}
	capi.DeleteHdb_dra_queue(queue)
}

// handle runs the driver for one claim and completes its request.
func (p *DRAPlugin) handle(ctx context.Context, driver DRADriver, req capi.Struct_SS_hostdev_dra_request, prepare bool) {
	claim := DRAClaim{
		Namespace:  capi.Hostdev_dra_request_get_namespace(req),
		Name:       capi.Hostdev_dra_request_get_name(req),
		UID:        capi.Hostdev_dra_request_get_uid(req),
		APIVersion: capi.Hostdev_dra_request_get_api_version(req),
	}
	var err error
	func() {
		defer func() {
			if r := recover(); r != nil {
				err = fmt.Errorf("the Go DRA driver panicked: %v", r)
			}
		}()
		if prepare {
			var devices []DRADevice
			if devices, err = driver.PrepareClaim(ctx, claim); err == nil {
				err = addDevices(req, devices)
			}
		} else {
			err = driver.UnprepareClaim(ctx, claim)
		}
	}()
	if err != nil {
		var he *Error
		message := err.Error()
		if errors.As(err, &he) {
			message = he.Message
		}
		capi.Hostdev_dra_request_set_error(req, message)
	}
	capi.Hostdev_dra_request_complete(req)
}

func addDevices(req capi.Struct_SS_hostdev_dra_request, devices []DRADevice) error {
	for _, d := range devices {
		i := capi.Hostdev_dra_request_add_device(req, d.Pool, d.Device)
		if i < 0 {
			return newError("PrepareClaim", i, fmt.Sprintf("invalid device %q of pool %q: both need a non-empty name", d.Device, d.Pool))
		}
		for _, name := range d.Requests {
			if r := capi.Hostdev_dra_request_add_request_name(req, i, name); r < 0 {
				return newError("PrepareClaim", r, fmt.Sprintf("invalid request name %q of device %q", name, d.Device))
			}
		}
		for _, id := range d.CDIDeviceIDs {
			if r := capi.Hostdev_dra_request_add_cdi_id(req, i, id); r < 0 {
				return newError("PrepareClaim", r, fmt.Sprintf("invalid CDI id %q of device %q: it must be <vendor>/<class>=<name>", id, d.Device))
			}
		}
	}
	return nil
}

// call runs fn with the C plugin and the loop's context under the read lock.
func (p *DRAPlugin) call(op string, fn func(ctx capi.Hostdev_ctx, plugin capi.Hostdev_dra_plugin, st capi.Hdb_status)) error {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.plugin == nil {
		return ErrLoopClosed
	}
	return dpStatus(op, func(st capi.Hdb_status) { fn(p.core.ctx, p.plugin, st) })
}

// Start listens on the DRA socket, then on the registration socket (stale socket files are
// replaced), and waits for the kubelet's plugin watcher. Errors wrap syscall.EALREADY (started)
// or EADDRINUSE (another process serves a socket).
func (p *DRAPlugin) Start() error {
	return p.call("Start", func(ctx capi.Hostdev_ctx, plugin capi.Hostdev_dra_plugin, st capi.Hdb_status) {
		capi.Hdb_dra_plugin_start(ctx, plugin, st)
	})
}

// Stop closes both sockets and their connections and removes the socket files; calls in flight
// get no answer (the kubelet retries them). A stopped plugin can be started again.
func (p *DRAPlugin) Stop() error {
	return p.call("Stop", func(ctx capi.Hostdev_ctx, plugin capi.Hostdev_dra_plugin, st capi.Hdb_status) {
		capi.Hdb_dra_plugin_stop(ctx, plugin, st)
	})
}

// State returns where the plugin stands with the kubelet (DRAStopped once closed).
func (p *DRAPlugin) State() DRAState {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.plugin == nil {
		return DRAStopped
	}
	return DRAState(capi.Hostdev_dra_plugin_get_state(p.plugin))
}

// Registrations returns how many times the kubelet accepted a registration (1 after the first).
func (p *DRAPlugin) Registrations() int {
	p.mu.RLock()
	defer p.mu.RUnlock()
	if p.plugin == nil {
		return 0
	}
	return int(capi.Hostdev_dra_plugin_get_registrations(p.plugin))
}

// DriverName returns the driver name.
func (p *DRAPlugin) DriverName() string { return p.driver }

// SocketPath returns the absolute path of the DRA socket, <plugin dir>/<driver>/dra.sock.
func (p *DRAPlugin) SocketPath() string { return p.socket }

// RegistrationPath returns the absolute path of the registration socket ("" with
// NoRegistration).
func (p *DRAPlugin) RegistrationPath() string { return p.regPath }

// release stops and frees the C plugin (the driver's calls in flight still complete).
func (p *DRAPlugin) release() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.plugin != nil {
		st := capi.NewHdb_status()
		capi.Hdb_dra_plugin_stop(p.core.ctx, p.plugin, st)
		capi.DeleteHdb_status(st)
		capi.DeleteHostdev_dra_plugin(p.plugin)
		p.plugin = nil
	}
	p.cancel()
}

// Close stops the plugin, cancels the context of the driver's calls in flight and waits for them
// to return and for the plugin to be freed. Safe to call twice; not from the driver's methods.
func (p *DRAPlugin) Close() error {
	p.core.smu.Lock()
	delete(p.core.dras, p)
	p.core.smu.Unlock()
	p.release()
	<-p.reader
	return nil
}
