// SPDX-License-Identifier: Apache-2.0

// Command standalone is a Go program in a module of its own that uses the binding through a
// replace directive (go.mod), the way a project outside this repository does (docs/bindings.md,
// "Using it from a Go module"). It prints the PCI devices of a class as the JSON documents of
// docs/json-schema.md, one per line, and waits for a context's deadline or cancellation
// (SIGINT) on the hot-plug monitor when asked to.
//
//	standalone [-root DIR] [-class 0200] [-watch DURATION]
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"time"

	"github.com/libhostdev/libhostdev/bindings/go/hostdev"
)

func main() {
	root := flag.String("root", "", "fake root instead of the real /sys")
	class := flag.String("class", "", "class prefix, e.g. 0200")
	watch := flag.Duration("watch", 0, "then print PCI hot-plug events for this long (0: not at all)")
	flag.Parse()

	var opts []hostdev.Option
	if *root != "" {
		opts = append(opts, hostdev.WithRoot(*root))
	}
	host, err := hostdev.Open(opts...)
	if err != nil {
		fail(err)
	}
	defer host.Close()

	var filters []hostdev.Filter
	if *class != "" {
		filters = append(filters, hostdev.Class(*class))
	}
	devices, err := host.PCIDevices(filters...)
	if err != nil {
		fail(err)
	}
	enc := json.NewEncoder(os.Stdout)
	for _, d := range devices {
		if err := enc.Encode(d); err != nil {
			fail(err)
		}
	}
	if *watch <= 0 {
		return
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	ctx, cancel := context.WithTimeout(ctx, *watch)
	defer cancel()
	mon, err := host.NewMonitor(&hostdev.MonitorOptions{Subsystems: []string{"pci"}})
	if err != nil {
		fail(err)
	}
	defer mon.Close()
	if _, err := mon.Start(&hostdev.StartOptions{Kernel: true}); err != nil {
		fail(err)
	}
	for e := range mon.Events(ctx) {
		fmt.Printf("%s %s %s\n", time.Now().Format(time.RFC3339), e.Action, e.Name)
	}
	if err := mon.Err(); err != nil && !errors.Is(err, context.DeadlineExceeded) && !errors.Is(err, context.Canceled) {
		fail(err)
	}
}

func fail(err error) {
	var herr *hostdev.Error
	if errors.As(err, &herr) {
		fmt.Fprintf(os.Stderr, "standalone: %s (errno %d)\n", herr.Message, int(herr.Errno))
	} else {
		fmt.Fprintf(os.Stderr, "standalone: %v\n", err)
	}
	os.Exit(1)
}
