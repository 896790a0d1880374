// SPDX-License-Identifier: Apache-2.0

package main

// vm-kubelet's DRA mode: what the kubelet's plugin watcher and DRA manager do with a DRA driver
// (scenario 96-agent-dra), one call per command so that the scenario decides when each happens.
// The messages are tests/dra/go/draapi (shared with drakubelet, ctest dra.grpc-go).

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"google.golang.org/grpc/status"
	"hostdev.test/draapi"
	"hostdev.test/kubeletapi"
)

// printJSON prints @v as one JSON line.
func printJSON(v interface{}) {
	b, err := json.Marshal(v)
	if err != nil {
		fatal("%v", err)
	}
	fmt.Println(string(b))
}

// failRPC prints a failed call as {"error":{"code":..,"message":..}} and exits 1.
func failRPC(err error) {
	s := status.Convert(err)
	printJSON(map[string]map[string]string{"error": {"code": s.Code().String(), "message": s.Message()}})
	os.Exit(1)
}

// draRegister does what the plugin watcher does with the registration socket of @driver in
// plugins_registry: GetInfo, the checks the kubelet's DRA handler makes (type DRAPlugin, the
// driver's name, an endpoint that is a socket, a DRA version it speaks: v1 preferred), then
// NotifyRegistrationStatus with the verdict. A socket that does not answer yet (not there, or
// left by a plugin that died) is tried again until -timeout, as the watcher acts on the socket
// being created again.
func draRegister(args []string) {
	fs := flag.NewFlagSet("dra-register", flag.ExitOnError)
	registry := fs.String("registry", "/var/lib/kubelet/plugins_registry", "the plugin watcher's directory")
	driver := fs.String("driver", "", "the DRA driver's name")
	timeout := fs.Duration("timeout", 60*time.Second, "how long to wait for the socket to answer")
	fs.Parse(args)
	if *driver == "" {
		fatal("usage: vm-kubelet dra-register [-registry DIR] -driver NAME [-timeout D]")
	}
	sock := filepath.Join(*registry, *driver+"-reg.sock")
	deadline := time.Now().Add(*timeout)
	info := &draapi.PluginInfo{}
	for {
		err := func() error {
			conn, err := kubeletapi.Dial(context.Background(), sock)
			if err != nil {
				return err
			}
			defer conn.Close()
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			if err := conn.Invoke(ctx, "/pluginregistration.Registration/GetInfo", &draapi.InfoRequest{},
				info); err != nil {
				return err
			}
			problem, api := "", ""
			for _, v := range info.SupportedVersions {
				if v == "v1.DRAPlugin" || (v == "v1beta1.DRAPlugin" && api == "") {
					api = strings.TrimSuffix(v, ".DRAPlugin")
				}
			}
			if fi, err := os.Stat(info.Endpoint); info.Type != "DRAPlugin" {
				problem = "type " + info.Type + " is not handled"
			} else if info.Name != *driver {
				problem = "name " + info.Name + " is not the driver " + *driver
			} else if err != nil || fi.Mode()&os.ModeSocket == 0 {
				problem = "endpoint " + info.Endpoint + " is not a socket"
			} else if api == "" {
				problem = fmt.Sprintf("no supported version in %v", info.SupportedVersions)
			}
			if err := conn.Invoke(ctx, "/pluginregistration.Registration/NotifyRegistrationStatus",
				&draapi.RegistrationStatus{PluginRegistered: problem == "", Error: problem},
				&draapi.RegistrationStatusResponse{}); err != nil {
				return err
			}
			printJSON(map[string]interface{}{"event": "registered", "name": info.Name, "type": info.Type,
				"endpoint": info.Endpoint, "versions": info.SupportedVersions, "api": api,
				"refused": problem})
			if problem != "" {
				os.Exit(1)
			}
			return nil
		}()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			fatal("registering %s at %s: %v", *driver, sock, err)
		}
		time.Sleep(100 * time.Millisecond) // poll for the socket answering, bounded by -timeout
	}
}

// parseClaims reads NAMESPACE/NAME/UID arguments.
func parseClaims(args []string) *draapi.ClaimsRequest {
	req := &draapi.ClaimsRequest{}
	for _, a := range args {
		p := strings.Split(a, "/")
		if len(p) != 3 {
			fatal("claim %q: want NAMESPACE/NAME/UID", a)
		}
		req.Claims = append(req.Claims, &draapi.Claim{Namespace: p[0], Name: p[1], UID: p[2]})
	}
	return req
}

// draCall makes one NodePrepareResources or NodeUnprepareResources call (@method) on the DRA
// endpoint, as the kubelet's DRA manager does when a pod with these claims is admitted or gone,
// and prints the answer (@resp) as one JSON line ({"claims":{UID:{"devices":[{"request_names":..,
// "pool_name":..,"device_name":..,"cdi_device_ids":..}],"error":..}}}). @claimErrors reads the
// per-claim errors of the answer. Exit status: 1 when the call failed, 2 when a claim is missing
// from the answer or has an error, else 0.
func draCall(name, method string, resp interface{}, claimErrors func() map[string]string, args []string) {
	fs := flag.NewFlagSet(name, flag.ExitOnError)
	socket := fs.String("socket", "", "the driver's DRA endpoint (PluginInfo.endpoint)")
	api := fs.String("api", "v1", "the DRA API version (v1 or v1beta1)")
	fs.Parse(args)
	if *socket == "" || fs.NArg() == 0 {
		fatal("usage: vm-kubelet %s -socket PATH [-api v1] NAMESPACE/NAME/UID...", name)
	}
	req := parseClaims(fs.Args())
	conn, err := kubeletapi.Dial(context.Background(), *socket)
	if err != nil {
		fatal("dial %s: %v", *socket, err)
	}
	defer conn.Close()
	// The kubelet's own deadline for these calls is 45 s; a loaded guest gets more.
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	if err := conn.Invoke(ctx, "/k8s.io.kubelet.pkg.apis.dra."+*api+".DRAPlugin/"+method, req, resp); err != nil {
		conn.Close()
		failRPC(err)
	}
	printJSON(resp)
	errs := claimErrors()
	for _, c := range req.Claims {
		if e, ok := errs[c.UID]; !ok || e != "" {
			conn.Close()
			os.Exit(2)
		}
	}
}

func draPrepare(args []string) {
	resp := &draapi.NodePrepareResourcesResponse{}
	draCall("dra-prepare", "NodePrepareResources", resp, func() map[string]string {
		out := map[string]string{}
		for uid, c := range resp.Claims {
			out[uid] = c.GetError()
		}
		return out
	}, args)
}

func draUnprepare(args []string) {
	resp := &draapi.NodeUnprepareResourcesResponse{}
	draCall("dra-unprepare", "NodeUnprepareResources", resp, func() map[string]string {
		out := map[string]string{}
		for uid, c := range resp.Claims {
			out[uid] = ""
			if c != nil {
				out[uid] = c.Error
			}
		}
		return out
	}, args)
}
