// SPDX-License-Identifier: Apache-2.0

// Command mdevslice lists mediated device types, or creates one mdev, shows how a VM would use
// it, and removes it.
//
//	mdevslice [-root DIR]                                  # the types of every parent
//	mdevslice [-root DIR] [-keep] [-uuid U] PARENT TYPE
//
// On a real host creating an mdev needs root and a vGPU (or mtty) driver: try it on a fake root
// under the kernel model first (docs/bindings.md).
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/libhostdev/libhostdev/bindings/go/hostdev"
)

func main() {
	root := flag.String("root", "", "fake root instead of the real system")
	uuid := flag.String("uuid", "", "UUID of the new mdev (default: a generated one)")
	keep := flag.Bool("keep", false, "do not remove the mdev")
	flag.Parse()
	if flag.NArg() != 0 && flag.NArg() != 2 {
		fmt.Fprintln(os.Stderr, "usage: mdevslice [-root DIR] [-keep] [-uuid U] [PARENT TYPE]")
		os.Exit(2)
	}
	var opts []hostdev.Option
	if *root != "" {
		opts = append(opts, hostdev.WithRoot(*root))
	}
	if err := run(opts, flag.Arg(0), flag.Arg(1), *uuid, *keep); err != nil {
		var herr *hostdev.Error
		if errors.As(err, &herr) {
			fmt.Fprintf(os.Stderr, "mdevslice: %s (errno %d)\n", herr.Message, int(herr.Errno))
		} else {
			fmt.Fprintln(os.Stderr, "mdevslice:", err)
		}
		os.Exit(1)
	}
}

func run(opts []hostdev.Option, parent, mdevType, uuid string, keep bool) error {
	host, err := hostdev.Open(opts...)
	if err != nil {
		return err
	}
	defer host.Close()
	if parent == "" {
		types, err := host.MdevTypes("")
		if err != nil {
			return err
		}
		for _, t := range types {
			fmt.Printf("%s %s available=%d selector=%s\n", t.Parent, t.ID, t.Available, t.Selector)
		}
		return nil
	}
	uuid, err = host.CreateMdev(parent, mdevType, uuid, nil)
	if err != nil {
		return err
	}
	mdevs, err := host.Mdevs()
	if err != nil {
		return err
	}
	for _, m := range mdevs {
		if m.UUID == uuid {
			fmt.Printf("created %s on %s (%s, KubeVirt selector %s), driver %s, IOMMU group %d (/dev/vfio/%d)\n",
				m.UUID, m.Parent, m.Type, m.Selector, m.Driver, m.IOMMUGroup, m.IOMMUGroup)
		}
	}
	if keep {
		return nil
	}
	if err := host.RemoveMdev(uuid, nil); err != nil {
		return err
	}
	fmt.Printf("removed %s\n", uuid)
	return nil
}
