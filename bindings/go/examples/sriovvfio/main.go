// SPDX-License-Identifier: Apache-2.0

// Command sriovvfio creates SR-IOV VFs for virtual machines: N VFs left driverless, then handed
// to vfio-pci.
//
//	sriovvfio [-root DIR] [-modules DIR] [-owner TEXT] PF N
//	sriovvfio [-root DIR] [-modules DIR] [-owner TEXT] -release PF
//
// -release gives the owner's VFs back and sets the VF count to 0. On a real host this needs root
// and changes real hardware: try it on a fake root under the kernel model first
// (docs/bindings.md).
package main

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"strconv"

	"github.com/libhostdev/libhostdev/bindings/go/hostdev"
)

func main() {
	root := flag.String("root", "", "fake root instead of the real system")
	modules := flag.String("modules", "", "kernel module directory")
	owner := flag.String("owner", "sriovvfio", "owner recorded in the vfio journal")
	release := flag.Bool("release", false, "restore the VFs and remove them")
	flag.Parse()
	numVFs := -1
	switch {
	case *release && flag.NArg() == 1:
	case !*release && flag.NArg() == 2:
		n, err := strconv.Atoi(flag.Arg(1))
		if err != nil || n < 0 {
			fmt.Fprintf(os.Stderr, "sriovvfio: %q is not a VF count\n", flag.Arg(1))
			os.Exit(2)
		}
		numVFs = n
	default:
		fmt.Fprintln(os.Stderr, "usage: sriovvfio [-root DIR] [-owner TEXT] PF N | -release PF")
		os.Exit(2)
	}
	var opts []hostdev.Option
	if *root != "" {
		opts = append(opts, hostdev.WithRoot(*root))
	}
	if *modules != "" {
		opts = append(opts, hostdev.WithPath(hostdev.PathModules, *modules))
	}
	if err := run(opts, flag.Arg(0), numVFs, *owner); err != nil {
		var herr *hostdev.Error
		if errors.As(err, &herr) {
			fmt.Fprintf(os.Stderr, "sriovvfio: %s (errno %d)\n", herr.Message, int(herr.Errno))
		} else {
			fmt.Fprintln(os.Stderr, "sriovvfio:", err)
		}
		os.Exit(1)
	}
}

// run enables numVFs VFs and binds them, or with numVFs -1 releases them.
func run(opts []hostdev.Option, address string, numVFs int, owner string) error {
	host, err := hostdev.Open(opts...)
	if err != nil {
		return err
	}
	defer host.Close()
	if numVFs < 0 {
		restored, err := host.RestoreAll(&hostdev.RestoreOptions{Owner: owner})
		if err != nil {
			return err
		}
		if _, err := host.SetNumVFs(address, 0, nil); err != nil {
			return err
		}
		fmt.Printf("%s: %d VFs given back, 0 VFs enabled\n", address, restored)
		return nil
	}
	// AutoprobeOff: the VFs get no host driver, so nothing needs unbinding.
	enabled, err := host.SetNumVFs(address, numVFs, &hostdev.SRIOVOptions{Autoprobe: hostdev.AutoprobeOff})
	if err != nil {
		return err
	}
	pf, err := host.SRIOVPF(address)
	if err != nil {
		return err
	}
	autoprobe := map[int]string{1: "on", 0: "off", -1: "unknown"}[pf.Autoprobe]
	fmt.Printf("%s: %d of %d VFs enabled (driver %s), autoprobe %s\n", pf.Address, enabled, pf.TotalVFs,
		pf.Driver, autoprobe)
	var vfs []string
	for _, vf := range pf.VFs {
		vfs = append(vfs, vf.Address)
	}
	if len(vfs) > 0 {
		if _, err := host.Bind(vfs, &hostdev.BindOptions{Owner: owner}); err != nil {
			return err
		}
	}
	if pf, err = host.SRIOVPF(address); err != nil {
		return err
	}
	for _, vf := range pf.VFs {
		fmt.Printf("VF %d %s on %s, IOMMU group %d (/dev/vfio/%d)\n", vf.Index, vf.Address, vf.Driver,
			vf.IOMMUGroup, vf.IOMMUGroup)
	}
	return nil
}
