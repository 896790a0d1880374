// SPDX-License-Identifier: Apache-2.0

// Command consumer-go is a Go program built against an installed libhostdev through the Go binding:
// tests/abi/check-install.sh builds it against `cmake --install`'s prefix, the Debian packaging test
// (tests/packaging) against /usr/share/gocode of golang-github-libhostdev-libhostdev-bindings-dev.
// It prints the library's version; the tests check with ldd which libhostdev.so it loads.
package main

import (
	"fmt"

	"github.com/libhostdev/libhostdev/bindings/go/hostdev"
)

func main() {
	fmt.Println("libhostdev", hostdev.Version())
}
