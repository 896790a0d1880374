// SPDX-License-Identifier: Apache-2.0

// Command servedevices serves kubelet device plugins for the devices a config selects, until
// SIGINT or SIGTERM.
//
//	servedevices [-root DIR] [-kubelet-dir DIR] [-registration MODE] [-refresh DURATION]
//	             (-config FILE | -resource NAME -vendor-device VVVV:DDDD)
//	servedevices ... -permitted yaml|json
//
// With -resource, one vfio PCI resource of the devices with that vendor:device id. Each resource
// is served by the built-in plugin of its kind on the loop's own thread; on a signal every
// resource advertises no devices and its socket is removed. -permitted prints KubeVirt's
// permittedHostDevices for the resources instead.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"github.com/libhostdev/libhostdev/bindings/go/hostdev"
)

func main() {
	root := flag.String("root", "", "fake root instead of the real system")
	kubeletDir := flag.String("kubelet-dir", "", "kubelet root (default /var/lib/kubelet below the root)")
	registration := flag.String("registration", "classic", "classic, watcher or none")
	refresh := flag.Duration("refresh", 0, "re-read the devices this often (default 5s, negative: never)")
	config := flag.String("config", "", "resource selection config (JSON)")
	resource := flag.String("resource", "", "resource name, e.g. example.com/nic")
	vendorDevice := flag.String("vendor-device", "", "vendor:device id of the devices, e.g. 8086:10d3")
	permitted := flag.String("permitted", "", "print KubeVirt's permittedHostDevices (yaml or json) and exit")
	verbose := flag.Bool("v", false, "log debug messages")
	flag.Parse()
	modes := map[string]hostdev.Registration{"classic": hostdev.RegisterClassic,
		"watcher": hostdev.RegisterWatcher, "none": hostdev.RegisterNone}
	reg, ok := modes[*registration]
	if !ok || flag.NArg() != 0 || (*config != "") == (*resource != "" && *vendorDevice != "") ||
		(*permitted != "" && *permitted != "yaml" && *permitted != "json") {
		fmt.Fprintln(os.Stderr, "usage: servedevices [-root DIR] [-kubelet-dir DIR] [-registration classic|watcher|none] "+
			"(-config FILE | -resource NAME -vendor-device VVVV:DDDD) [-permitted yaml|json]")
		os.Exit(2)
	}
	priority := hostdev.LogInfo
	if *verbose {
		priority = hostdev.LogDebug
	}
	opts := []hostdev.Option{hostdev.WithLogger(func(p int, msg string) {
		fmt.Fprintf(os.Stderr, "hostdev[%d]: %s\n", p, msg)
	}, priority)}
	if *root != "" {
		opts = append(opts, hostdev.WithRoot(*root))
	}
	serve := &hostdev.ServerOptions{Registration: reg, KubeletDir: *kubeletDir, RefreshInterval: *refresh}
	if err := run(opts, *config, *resource, *vendorDevice, *permitted, serve); err != nil {
		var herr *hostdev.Error
		if errors.As(err, &herr) {
			fmt.Fprintf(os.Stderr, "servedevices: %s (errno %d)\n", herr.Message, int(herr.Errno))
		} else {
			fmt.Fprintln(os.Stderr, "servedevices:", err)
		}
		os.Exit(1)
	}
}

func run(opts []hostdev.Option, configPath, resource, vendorDevice, permitted string,
	serve *hostdev.ServerOptions) error {
	host, err := hostdev.Open(opts...)
	if err != nil {
		return err
	}
	defer host.Close()

	var cfg *hostdev.DevicePluginConfig
	if configPath != "" {
		cfg, err = host.LoadDevicePluginConfig(configPath)
	} else {
		text, _ := json.Marshal(map[string]any{"resources": []any{map[string]any{
			"kind": "pci", "resourceName": resource,
			"selectors": map[string]any{"vendorDevice": []string{vendorDevice}}}}})
		cfg, err = host.ParseDevicePluginConfig(string(text))
	}
	if err != nil {
		return err
	}
	defer cfg.Close()
	res, err := host.ResolveResources(cfg)
	if err != nil {
		return err
	}
	defer res.Close()
	if permitted != "" {
		format := hostdev.YAML
		if permitted == "json" {
			format = hostdev.JSON
		}
		text, err := res.PermittedHostDevices(format)
		if err != nil {
			return err
		}
		fmt.Print(text)
		return nil
	}

	// Signals first: one that arrives while the servers start still stops them cleanly.
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	loop, err := host.NewDevicePluginLoop()
	if err != nil {
		return err
	}
	defer loop.Close()
	servers, err := loop.ServeAll(res, serve)
	if err != nil {
		return err
	}
	for _, s := range servers {
		fmt.Printf("serving %s (%d devices) on %s\n", s.ResourceName(), len(s.Resource().DeviceIDs),
			s.SocketPath())
	}
	if err := loop.StartThread(); err != nil {
		return err
	}
	<-stop
	// Close stops every server: empty lists sent, sockets removed.
	if err := loop.Close(); err != nil {
		return err
	}
	fmt.Println("stopped")
	return nil
}
