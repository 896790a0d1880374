// SPDX-License-Identifier: Apache-2.0

// Command watchusb prints USB hot-plug events as they come, like `hostdev watch --usb`.
//
//	watchusb [-enumerate] [-kernel] [-ids 0627:] [-count N] [-timeout 10s]
//
// -enumerate first reports the devices already present; -kernel listens to the kernel's uevents
// (needed where no udevd runs, as in containers and the tests).
package main

import (
	"flag"
	"fmt"
	"os"
	"time"

	"github.com/libhostdev/libhostdev/bindings/go/hostdev"
)

func main() {
	enumerate := flag.Bool("enumerate", false, "report the devices already present first")
	kernel := flag.Bool("kernel", false, "listen to the kernel's uevents")
	ids := flag.String("ids", "", "vendor:product filter")
	count := flag.Int("count", 0, "stop after N events")
	timeout := flag.Duration("timeout", -1, "stop after this long without an event")
	flag.Parse()
	if err := run(*enumerate, *kernel, *ids, *count, *timeout); err != nil {
		fmt.Fprintln(os.Stderr, "watchusb:", err)
		os.Exit(1)
	}
}

func run(enumerate, kernel bool, ids string, count int, timeout time.Duration) error {
	host, err := hostdev.Open()
	if err != nil {
		return err
	}
	defer host.Close()
	opts := &hostdev.MonitorOptions{Subsystems: []string{"usb"}}
	if ids != "" {
		opts.IDs = []string{ids}
	}
	mon, err := host.NewMonitor(opts)
	if err != nil {
		return err
	}
	defer mon.Close()
	events, err := mon.Start(&hostdev.StartOptions{Enumerate: enumerate, Kernel: kernel})
	if err != nil {
		return err
	}
	fd, _ := mon.Fd()
	fmt.Printf("watching (fd %d)\n", fd)
	seen := 0
	for {
		for _, e := range events {
			present := ""
			if e.Replay {
				present = " (present)"
			}
			if e.USB != nil {
				fmt.Printf("%s %s %04x:%04x port=%s%s\n", e.Action, e.Name, e.USB.VendorID,
					e.USB.ProductID, e.USB.PortPath, present)
			} else {
				fmt.Printf("%s %s ????:???? port=?%s\n", e.Action, e.Name, present)
			}
			seen++
			if count > 0 && seen >= count {
				return nil
			}
		}
		if events, err = mon.Wait(timeout); err != nil {
			return err
		}
		if len(events) == 0 && timeout >= 0 {
			return nil
		}
	}
}
