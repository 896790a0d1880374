// SPDX-License-Identifier: Apache-2.0

package hostdev

import (
	"fmt"
	"syscall"
)

// Error is the error of a failed libhostdev call: the errno the C function returned (negated)
// and the library's message, one sentence naming the device, the problem and the remedy.
//
// It unwraps to its syscall.Errno, so errors.Is(err, syscall.ENODEV) and
// errors.Is(err, fs.ErrNotExist) work, and errors.As(err, &hostdevErr) gives the details.
type Error struct {
	// Op is the operation that failed, e.g. "Bind" or "PCIDevice".
	Op string
	// Errno is the positive errno of the failure.
	Errno syscall.Errno
	// Message is hostdev_ctx_get_error() of the Host (its C context), or strerror when there is none.
	Message string
}

func (e *Error) Error() string {
	return fmt.Sprintf("hostdev: %s: %s", e.Op, e.Message)
}

// Unwrap returns the syscall.Errno.
func (e *Error) Unwrap() error { return e.Errno }

func newError(op string, code int, message string) *Error {
	if code < 0 {
		code = -code
	}
	errno := syscall.Errno(code)
	if message == "" {
		message = errno.Error()
	}
	return &Error{Op: op, Errno: errno, Message: message}
}
