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

// Path names one of the paths a Context owns.
type Path int

// The paths of a Context (enum hostdev_path).
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

// ErrClosed is returned by every method of a closed Context.
var ErrClosed = errors.New("hostdev: context is closed")

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

// Context is a libhostdev context: the root paths, the node name, the logger. Its methods may be
// called from several goroutines: calls are serialised (the C context is not thread-safe).
// Close it when done; a finalizer releases a forgotten one.
type Context struct {
	mu     sync.Mutex
	ctx    capi.Hostdev_ctx
	log    capi.Hdb_log
	logger Logger
}

// Open creates a context. Without options it reads the real system.
func Open(opts ...Option) (*Context, error) {
	cfg := config{paths: map[Path]string{}}
	for _, o := range opts {
		o(&cfg)
	}
	rc := []int{0}
	ctx := capi.Hdb_ctx_new(rc)
	if rc[0] < 0 {
		return nil, newError("Open", rc[0], "cannot create a libhostdev context")
	}
	c := &Context{ctx: ctx}
	runtime.SetFinalizer(c, (*Context).Close)
	fail := func(err error) (*Context, error) {
		c.Close()
		return nil, err
	}
	if cfg.logger != nil {
		c.logger = cfg.logger
		c.log = capi.NewHdb_log(ctx, cfg.logPriority)
	}
	if cfg.root != "" {
		if err := c.SetRoot(cfg.root); err != nil {
			return fail(err)
		}
	}
	for p, v := range cfg.paths {
		if err := c.SetPath(p, v); err != nil {
			return fail(err)
		}
	}
	if cfg.nodeName != "" {
		if err := c.SetNodeName(cfg.nodeName); err != nil {
			return fail(err)
		}
	}
	return c, nil
}

// Close releases the context. Further calls return ErrClosed. Safe to call twice.
func (c *Context) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.log != nil {
		c.flushLog()
		capi.DeleteHdb_log(c.log)
		c.log = nil
	}
	if c.ctx != nil {
		capi.DeleteHostdev_ctx(c.ctx)
		c.ctx = nil
	}
	runtime.SetFinalizer(c, nil)
	return nil
}

// do runs fn with the C context under the lock, then delivers the log messages of the call.
func (c *Context) do(fn func(ctx capi.Hostdev_ctx) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx == nil {
		return ErrClosed
	}
	defer c.flushLog()
	return fn(c.ctx)
}

// check turns a C result into an error, with the context's message. Called under the lock.
func (c *Context) check(op string, r int) error {
	if r >= 0 {
		return nil
	}
	return newError(op, r, capi.Hdb_ctx_get_error(c.ctx))
}

func (c *Context) flushLog() {
	if c.log == nil {
		return
	}
	text := c.log.Take()
	for _, line := range strings.Split(strings.TrimSuffix(text, "\n"), "\n") {
		if line == "" {
			continue
		}
		prio, msg, _ := strings.Cut(line, "\t")
		p, _ := strconv.Atoi(prio)
		c.logger(p, msg)
	}
}

// SetPath sets one path.
func (c *Context) SetPath(p Path, value string) error {
	return c.do(func(ctx capi.Hostdev_ctx) error {
		return c.check("SetPath", capi.Hostdev_ctx_set_path(ctx, p.c(), value))
	})
}

// Path returns the current value of one path ("" for a closed context).
func (c *Context) Path(p Path) string {
	var v string
	_ = c.do(func(ctx capi.Hostdev_ctx) error {
		v = capi.Hostdev_ctx_get_path(ctx, p.c())
		return nil
	})
	return v
}

// SetRoot points sysfs, dev, proc, state, config and kubelet below root.
func (c *Context) SetRoot(root string) error {
	return c.do(func(ctx capi.Hostdev_ctx) error {
		return c.check("SetRoot", capi.Hostdev_ctx_set_root(ctx, root))
	})
}

// SetNodeName sets the node name used in Harvester object names.
func (c *Context) SetNodeName(name string) error {
	return c.do(func(ctx capi.Hostdev_ctx) error {
		return c.check("SetNodeName", capi.Hostdev_ctx_set_node_name(ctx, name))
	})
}

// NodeName returns the node name.
func (c *Context) NodeName() string {
	var v string
	_ = c.do(func(ctx capi.Hostdev_ctx) error {
		v = capi.Hostdev_ctx_get_node_name(ctx)
		return nil
	})
	return v
}

// LastError returns the message of the last failed call ("" if none).
func (c *Context) LastError() string {
	var v string
	_ = c.do(func(ctx capi.Hostdev_ctx) error {
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
