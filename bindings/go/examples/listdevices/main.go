// SPDX-License-Identifier: Apache-2.0

// Command listdevices lists PCI devices like `hostdev list`, with lspci-style filters.
//
//	listdevices [-root DIR] [-pci-ids FILE] [-slot 3b:] [-ids 8086:] [-class 0200] [-driver NAME]
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/libhostdev/libhostdev/bindings/go/hostdev"
)

func main() {
	root := flag.String("root", "", "fake root instead of the real /sys")
	pciIDs := flag.String("pci-ids", "", "pci.ids file")
	slot := flag.String("slot", "", "lspci -s filter")
	ids := flag.String("ids", "", "lspci -d filter")
	class := flag.String("class", "", "class prefix, e.g. 0200")
	driver := flag.String("driver", "", "bound driver, or none")
	flag.Parse()

	var opts []hostdev.Option
	if *root != "" {
		opts = append(opts, hostdev.WithRoot(*root))
	}
	if *pciIDs != "" {
		opts = append(opts, hostdev.WithPath(hostdev.PathPCIIDs, *pciIDs))
	}
	var filters []hostdev.Filter
	for _, f := range []struct {
		value string
		make  func(string) hostdev.Filter
	}{{*slot, hostdev.Slot}, {*ids, hostdev.IDs}, {*class, hostdev.Class}, {*driver, hostdev.Driver}} {
		if f.value != "" {
			filters = append(filters, f.make(f.value))
		}
	}
	if err := run(opts, filters); err != nil {
		var herr *hostdev.Error
		if errors.As(err, &herr) {
			fmt.Fprintf(os.Stderr, "listdevices: %s (errno %d)\n", herr.Message, int(herr.Errno))
		} else {
			fmt.Fprintln(os.Stderr, "listdevices:", err)
		}
		os.Exit(1)
	}
}

func run(opts []hostdev.Option, filters []hostdev.Filter) error {
	host, err := hostdev.Open(opts...)
	if err != nil {
		return err
	}
	defer host.Close()
	devices, err := host.PCIDevices(filters...)
	if err != nil {
		return err
	}
	for _, d := range devices {
		fmt.Printf("%s [%04x:%04x] class=%06x driver=%s iommu_group=%s numa=%s resource=%s\n",
			d.Address, d.VendorID, d.DeviceID, d.Class, orDash(d.Driver), orNone(d.IOMMUGroup),
			orNone(d.NUMANode), d.ResourceName)
	}
	return nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func orNone(n int) string {
	if n < 0 {
		return "none"
	}
	return fmt.Sprint(n)
}
