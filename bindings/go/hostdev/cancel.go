// SPDX-License-Identifier: Apache-2.0

package hostdev

import (
	"context"
	"sync"
	"syscall"
	"time"

	"github.com/libhostdev/libhostdev/bindings/go/internal/capi"
)

// The context.Context forms of the calls that block. Two kinds of blocking are involved:
//
//   - waits of our own (Monitor.WaitContext, Monitor.Events, DevicePluginLoop.RunContext) end as
//     soon as ctx is done and return ctx.Err();
//   - the library's operations on devices (BindContext, SetNumVFsContext) are not abandoned
//     midway: a bind rolls back what it did and a VF count write is watched by the kernel's own
//     rules, so a half-done call would leave a device between drivers. ctx is checked before the
//     call starts (a done ctx changes nothing on the host), and its deadline caps the library's
//     own timeouts (the wait for the kernel to show a binding, the SR-IOV write watchdog), so the
//     call returns by the deadline plus the time of one rollback.

// capTimeout is the smaller of the timeout given (0: the library's default, def) and the time
// left before ctx's deadline; an error when ctx is done or its deadline passed.
func capTimeout(ctx context.Context, given, def time.Duration) (time.Duration, error) {
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	deadline, ok := ctx.Deadline()
	if !ok {
		return given, nil
	}
	left := time.Until(deadline)
	if left <= 0 {
		return 0, context.DeadlineExceeded
	}
	if given <= 0 {
		given = def
	}
	if left < given {
		return left, nil
	}
	return given, nil
}

// The library's defaults, for capping them (vfio.h, sriov.h).
var (
	defaultBindTimeout  = time.Duration(capi.HOSTDEV_VFIO_DEFAULT_TIMEOUT_MS) * time.Millisecond
	defaultSRIOVTimeout = time.Duration(capi.HOSTDEV_SRIOV_DEFAULT_TIMEOUT_MS) * time.Millisecond
)

// BindContext is Bind with a context: nothing is done when ctx is already done (the error is
// ctx.Err()), and ctx's deadline caps opts.Timeout. A bind that started is completed or rolled
// back, never abandoned.
func (h *Host) BindContext(ctx context.Context, addresses []string, opts *BindOptions) (int, error) {
	o := BindOptions{}
	if opts != nil {
		o = *opts
	}
	timeout, err := capTimeout(ctx, o.Timeout, defaultBindTimeout)
	if err != nil {
		return 0, err
	}
	o.Timeout = timeout
	return h.Bind(addresses, &o)
}

// SetNumVFsContext is SetNumVFs with a context: nothing is written when ctx is already done (the
// error is ctx.Err()), and ctx's deadline caps the watchdog of each write (opts.Timeout). A write
// that started is watched to its end (ETIMEDOUT when the watchdog fires: read the PF again).
func (h *Host) SetNumVFsContext(ctx context.Context, address string, numVFs int, opts *SRIOVOptions) (int, error) {
	o := SRIOVOptions{}
	if opts != nil {
		o = *opts
	}
	timeout, err := capTimeout(ctx, o.Timeout, defaultSRIOVTimeout)
	if err != nil {
		return 0, err
	}
	o.Timeout = timeout
	return h.SetNumVFs(address, numVFs, &o)
}

// wakePipe is a pipe written to once ctx is done: a select(2) on its read end ends a wait.
type wakePipe struct {
	fds  [2]int
	done chan struct{}
	wg   sync.WaitGroup
}

func newWakePipe(ctx context.Context) (*wakePipe, error) {
	w := &wakePipe{done: make(chan struct{})}
	if err := syscall.Pipe2(w.fds[:], syscall.O_CLOEXEC); err != nil {
		return nil, &Error{Op: "WaitContext", Errno: err.(syscall.Errno), Message: "cannot create a pipe: " + err.Error()}
	}
	w.wg.Add(1)
	go func() {
		defer w.wg.Done()
		select {
		case <-ctx.Done():
			syscall.Write(w.fds[1], []byte{1})
		case <-w.done:
		}
	}()
	return w, nil
}

func (w *wakePipe) close() {
	close(w.done)
	w.wg.Wait()
	syscall.Close(w.fds[0])
	syscall.Close(w.fds[1])
}

// WaitContext blocks until events arrive or ctx is done, and returns the events; ctx.Err() when
// ctx ended the wait. The Host stays usable by other goroutines meanwhile.
func (m *Monitor) WaitContext(ctx context.Context) ([]Event, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	fd, err := m.Fd()
	if err != nil {
		return nil, err
	}
	w, err := newWakePipe(ctx)
	if err != nil {
		return nil, err
	}
	defer w.close()
	wake := w.fds[0]
	if fd >= syscall.FD_SETSIZE || wake >= syscall.FD_SETSIZE {
		return nil, &Error{Op: "WaitContext", Errno: syscall.EBADF,
			Message: "the monitor's file descriptor is beyond what select(2) takes; use Fd and Process with your own poller"}
	}
	for {
		var set syscall.FdSet
		set.Bits[fd/64] |= 1 << (uint(fd) % 64)
		set.Bits[wake/64] |= 1 << (uint(wake) % 64)
		top := fd
		if wake > top {
			top = wake
		}
		_, err := syscall.Select(top+1, &set, nil, nil, nil)
		if err == syscall.EINTR {
			continue
		}
		if err != nil {
			return nil, &Error{Op: "WaitContext", Errno: err.(syscall.Errno), Message: err.Error()}
		}
		if set.Bits[wake/64]&(1<<(uint(wake)%64)) != 0 {
			return nil, ctx.Err()
		}
		events, err := m.Process()
		if err != nil || len(events) > 0 {
			return events, err
		}
	}
}

// Events delivers the monitor's events on a channel, in order, until ctx is done or reading
// fails; the channel is then closed and Err says why. Start the monitor first (the replayed
// devices of Start are not sent again). One Events channel per Monitor at a time.
func (m *Monitor) Events(ctx context.Context) <-chan Event {
	ch := make(chan Event)
	m.errMu.Lock()
	m.err = nil
	m.errMu.Unlock()
	go func() {
		defer close(ch)
		for {
			events, err := m.WaitContext(ctx)
			for _, e := range events {
				select {
				case ch <- e:
				case <-ctx.Done():
					m.setErr(ctx.Err())
					return
				}
			}
			if err != nil {
				m.setErr(err)
				return
			}
		}
	}()
	return ch
}

func (m *Monitor) setErr(err error) {
	m.errMu.Lock()
	m.err = err
	m.errMu.Unlock()
}

// Err returns why the last Events channel was closed: ctx.Err() or the error of reading events;
// nil while it is open.
func (m *Monitor) Err() error {
	m.errMu.Lock()
	defer m.errMu.Unlock()
	return m.err
}

// RunContext dispatches on the calling goroutine until ctx is done (it returns ctx.Err()), Quit
// or Close (it returns nil).
func (l *DevicePluginLoop) RunContext(ctx context.Context) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		select {
		case <-ctx.Done():
			l.Quit()
		case <-done:
		}
	}()
	err := l.Run()
	close(done)
	wg.Wait()
	if err == nil {
		err = ctx.Err()
	}
	return err
}
