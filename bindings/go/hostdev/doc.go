// SPDX-License-Identifier: Apache-2.0

// Package hostdev is the Go binding of libhostdev: host PCI devices with every attribute an
// operator needs, vfio-pci binding with a crash-safe journal and restore, a preflight report,
// boot-time persistence, SR-IOV VF creation, mediated devices, Harvester/KubeVirt resource
// names, and kubelet device plugins served with the built-in plugins.
//
//	host, err := hostdev.Open()                         // or hostdev.Open(hostdev.WithRoot(dir))
//	if err != nil { ... }
//	defer host.Close()
//	nics, err := host.PCIDevices(hostdev.Class("0200")) // []hostdev.PCIDevice, plain Go values
//	n, err := host.Bind([]string{"0000:3b:00.0"}, &hostdev.BindOptions{Owner: "vm-a"})
//	if errors.Is(err, syscall.EBUSY) { ... }            // IOMMU group shared with host devices
//	n, err = host.SetNumVFs("0000:3b:00.0", 4, &hostdev.SRIOVOptions{Autoprobe: hostdev.AutoprobeOff})
//	uuid, err := host.CreateMdev("0000:af:00.0", "nvidia-222", "", nil)
//	cfg, err := host.LoadDevicePluginConfig("/etc/hostdev/device-plugins.json")
//	res, err := host.ResolveResources(cfg)
//	loop, err := host.NewDevicePluginLoop()             // defer loop.Close()
//	servers, err := loop.ServeAll(res, nil)             // registered with the kubelet
//	err = loop.StartThread()
//
// Errors are *hostdev.Error values carrying the errno and the library's message; they unwrap
// to syscall.Errno. The C library comes from pkg-config (libhostdev); the cgo glue is generated
// by SWIG from bindings/hostdev.i when the package is built. See docs/bindings.md.
package hostdev
