// SPDX-License-Identifier: Apache-2.0

// Command bindrestore hands a device to vfio-pci for the duration of some work, then gives it
// back.
//
//	bindrestore [-root DIR] [-modules DIR] [-group] [-owner TEXT] ADDRESS
//
// On a real host this needs root, an IOMMU and vfio-pci, and it rebinds real hardware: try it on
// a fake root under the kernel model first (docs/bindings.md). The journal makes the restore
// survive a crash of this program: `hostdev restore --all` finishes the job.
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"syscall"

	"github.com/libhostdev/libhostdev/bindings/go/hostdev"
)

func main() {
	root := flag.String("root", "", "fake root instead of the real system")
	modules := flag.String("modules", "", "kernel module directory")
	group := flag.Bool("group", false, "bind the whole IOMMU group")
	owner := flag.String("owner", "bindrestore", "owner recorded in the journal")
	flag.Parse()
	if flag.NArg() != 1 {
		fmt.Fprintln(os.Stderr, "usage: bindrestore [-root DIR] [-group] [-owner TEXT] ADDRESS")
		os.Exit(2)
	}
	var opts []hostdev.Option
	if *root != "" {
		opts = append(opts, hostdev.WithRoot(*root))
	}
	if *modules != "" {
		opts = append(opts, hostdev.WithPath(hostdev.PathModules, *modules))
	}
	if err := run(opts, flag.Arg(0), &hostdev.BindOptions{Group: *group, Owner: *owner}); err != nil {
		var herr *hostdev.Error
		switch {
		case errors.Is(err, syscall.EBUSY):
			fmt.Fprintf(os.Stderr, "bindrestore: %s\n(pass -group to bind the whole group)\n", herr0(err))
		case errors.As(err, &herr):
			fmt.Fprintf(os.Stderr, "bindrestore: %s (errno %d)\n", herr.Message, int(herr.Errno))
		default:
			fmt.Fprintln(os.Stderr, "bindrestore:", err)
		}
		os.Exit(1)
	}
}

func herr0(err error) string {
	var herr *hostdev.Error
	if errors.As(err, &herr) {
		return herr.Message
	}
	return err.Error()
}

func run(opts []hostdev.Option, address string, bind *hostdev.BindOptions) (err error) {
	host, err := hostdev.Open(opts...)
	if err != nil {
		return err
	}
	defer host.Close()
	dev, err := host.PCIDevice(address)
	if err != nil {
		return err
	}
	fmt.Printf("%s: on %s\n", dev.Address, orNone(dev.Driver))
	before, err := host.Journal()
	if err != nil {
		return err
	}
	if _, err := host.Bind([]string{dev.Address}, bind); err != nil {
		return err
	}
	// Restore what this program moved, whatever happens next.
	defer func() {
		after, jerr := host.Journal()
		if jerr != nil {
			if err == nil {
				err = jerr
			}
			return
		}
		var mine []string
		for _, r := range after.Records {
			if !inJournal(before, r.Address) {
				mine = append(mine, r.Address)
			}
		}
		if len(mine) > 0 {
			if _, rerr := host.Restore(mine, nil); rerr != nil && err == nil {
				err = rerr
			}
		}
		if now, derr := host.PCIDevice(dev.Address); derr == nil {
			fmt.Printf("%s: back on %s\n", dev.Address, orNone(now.Driver))
		}
	}()
	now, err := host.PCIDevice(dev.Address)
	if err != nil {
		return err
	}
	fmt.Printf("%s: on %s, IOMMU group %d (/dev/vfio/%d)\n", dev.Address, now.Driver, dev.IOMMUGroup, dev.IOMMUGroup)
	j, err := host.Journal()
	if err != nil {
		return err
	}
	for _, r := range j.Records {
		fmt.Printf("journal: %s was on %s, owner %s\n", r.Address, orNone(r.Driver), r.Owner)
	}
	return nil
}

func inJournal(j *hostdev.Journal, address string) bool {
	for _, r := range j.Records {
		if r.Address == address {
			return true
		}
	}
	return false
}

func orNone(s string) string {
	if s == "" {
		return "no driver"
	}
	return s
}
