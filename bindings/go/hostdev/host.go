// SPDX-License-Identifier: Apache-2.0

package hostdev

import (
	"errors"
	"runtime"
	"strconv"
	"strings"
	"sync"

	"github.com/libhostdev/libhostdev/bindings/go/internal/capi"
)

// Path names one of the paths a Host owns.
type Path int

// The paths of a Host (enum hostdev_path).
const (
	PathSysfs   Path = iota // sysfs mount, default "/sys"
	PathDev                 // device nodes, default "/dev"
	PathProc                // procfs mount, default "/proc"
	PathState               // library state (journal, locks), default "/var/lib/hostdev"
	PathConfig              // configuration, default "/etc/hostdev"
	PathKubelet             // kubelet root, default "/var/lib/kubelet"
	PathPCIIDs              // pci.ids database
	PathUSBIDs              // usb.ids database
	PathModules             // kernel module directory, "" = libkmod's default
)

func (p Path) c() capi.Enum_SS_hostdev_path { return capi.Enum_SS_hostdev_path(p) }

// Log priorities (syslog numbers) of the messages a Logger receives.
const (
	LogErr     = 3
	LogWarning = 4
	LogNotice  = 5
	LogInfo    = 6
	LogDebug   = 7
)

// Logger receives the library's log messages.
type Logger func(priority int, message string)

// Version is the version of the libhostdev library in use.
func Version() string { return capi.Hostdev_version() }

// ErrClosed is returned by every method of a closed Host.
var ErrClosed = errors.New("hostdev: the Host is closed")

type config struct {
	root        string
	paths       map[Path]string
	nodeName    string
	logger      Logger
	logPriority int
}

// Option configures Open.
type Option func(*config)

// WithRoot points sysfs, dev, proc, state, config and kubelet below a fake root
// (hostdev_ctx_set_root). Paths given with WithPath are applied after it.
func WithRoot(dir string) Option { return func(c *config) { c.root = dir } }

// WithPath sets one path.
func WithPath(p Path, value string) Option {
	return func(c *config) { c.paths[p] = value }
}

// WithNodeName sets the Kubernetes node name used in Harvester object names.
func WithNodeName(name string) Option { return func(c *config) { c.nodeName = name } }

// WithLogger delivers the library's messages up to maxPriority (LogWarning, LogDebug...) to fn.
// The messages of a call are delivered when it returns, in the calling goroutine.
func WithLogger(fn Logger, maxPriority int) Option {
	return func(c *config) { c.logger, c.logPriority = fn, maxPriority }
}

// Host is the library's handle for one host, the real system or a fake root: its paths, the node
// name, the logger (a libhostdev context, hostdev_ctx, in C). Its methods may be called from
// several goroutines: calls are serialised (the C context is not thread-safe). Close it when
// done; a finalizer releases a forgotten one.
type Host struct {
	mu     sync.Mutex
	ctx    capi.Hostdev_ctx
	log    capi.Hdb_log
	logger Logger
}

// Context is the former name of Host.
//
// Deprecated: use Host. The name clashed with the ctx context.Context of Go code; Context remains
// an alias, so code written against it builds unchanged.
type Context = Host

// Open returns a Host for the real system, or for what the options point at (WithRoot).
func Open(opts ...Option) (*Host, error) {
	cfg := config{paths: map[Path]string{}}
	for _, o := range opts {
		o(&cfg)
	}
	rc := []int{0}
	ctx := capi.Hdb_ctx_new(rc)
	if rc[0] < 0 {
		return nil, newError("Open", rc[0], "cannot create a libhostdev context")
	}
	h := &Host{ctx: ctx}
	runtime.SetFinalizer(h, (*Host).Close)
	fail := func(err error) (*Host, error) {
		h.Close()
		return nil, err
	}
	if cfg.logger != nil {
		h.logger = cfg.logger
		h.log = capi.NewHdb_log(ctx, cfg.logPriority)
	}
	if cfg.root != "" {
		if err := h.SetRoot(cfg.root); err != nil {
			return fail(err)
		}
	}
	for p, v := range cfg.paths {
		if err := h.SetPath(p, v); err != nil {
			return fail(err)
		}
	}
	if cfg.nodeName != "" {
		if err := h.SetNodeName(cfg.nodeName); err != nil {
			return fail(err)
		}
	}
	return h, nil
}

// Close releases the Host. Further calls return ErrClosed. Safe to call twice.
func (h *Host) Close() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.log != nil {
		h.flushLog()
		capi.DeleteHdb_log(h.log)
		h.log = nil
	}
	if h.ctx != nil {
		capi.DeleteHostdev_ctx(h.ctx)
		h.ctx = nil
	}
	runtime.SetFinalizer(h, nil)
	return nil
}

// do runs fn with the C context under the lock, then delivers the log messages of the call.
func (h *Host) do(fn func(ctx capi.Hostdev_ctx) error) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.ctx == nil {
		return ErrClosed
	}
	defer h.flushLog()
	return fn(h.ctx)
}

// check turns a C result into an error, with the context's message. Called under the lock.
func (h *Host) check(op string, r int) error {
	if r >= 0 {
		return nil
	}
	return newError(op, r, capi.Hdb_ctx_get_error(h.ctx))
}

func (h *Host) flushLog() {
	if h.log == nil {
		return
	}
	text := h.log.Take()
	for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if line == "" {
			continue
		}
		prio, msg, _ := strings.Cut(line, "\t")
		p, _ := strconv.Atoi(prio)
		h.logger(p, msg)
	}
}

// SetPath sets one path.
func (h *Host) SetPath(p Path, value string) error {
	return h.do(func(ctx capi.Hostdev_ctx) error {
		return h.check("SetPath", capi.Hostdev_ctx_set_path(ctx, p.c(), value))
	})
}

// Path returns the current value of one path ("" for a closed Host).
func (h *Host) Path(p Path) string {
	var v string
	_ = h.do(func(ctx capi.Hostdev_ctx) error {
		v = capi.Hostdev_ctx_get_path(ctx, p.c())
		return nil
	})
	return v
}

// SetRoot points sysfs, dev, proc, state, config and kubelet below root.
func (h *Host) SetRoot(root string) error {
	return h.do(func(ctx capi.Hostdev_ctx) error {
		return h.check("SetRoot", capi.Hostdev_ctx_set_root(ctx, root))
	})
}

// SetNodeName sets the node name used in Harvester object names.
func (h *Host) SetNodeName(name string) error {
	return h.do(func(ctx capi.Hostdev_ctx) error {
		return h.check("SetNodeName", capi.Hostdev_ctx_set_node_name(ctx, name))
	})
}

// NodeName returns the node name.
func (h *Host) NodeName() string {
	var v string
	_ = h.do(func(ctx capi.Hostdev_ctx) error {
		v = capi.Hostdev_ctx_get_node_name(ctx)
		return nil
	})
	return v
}

// LastError returns the message of the last failed call ("" if none).
func (h *Host) LastError() string {
	var v string
	_ = h.do(func(ctx capi.Hostdev_ctx) error {
		v = capi.Hdb_ctx_get_error(ctx)
		return nil
	})
	return v
}

// strv builds the C string list the shims take; the caller deletes it.
func strv(items []string) capi.Hdb_strv {
	v := capi.NewHdb_strv()
	for _, s := range items {
		if v.Append(s) < 0 {
			panic("hostdev: out of memory")
		}
	}
	return v
}
