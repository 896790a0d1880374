// SPDX-License-Identifier: Apache-2.0

// dp-goplugin: a minimal kubelet device plugin (API v1beta1) written the way a typical Go plugin
// is (grpc-go server, one goroutine per ListAndWatch stream, health from the /dev/vfio group
// nodes watched with inotify like KubeVirt's PCI plugin), as the baseline of bench/run-dp.sh.
//
// It is built offline from Debian's packages only (golang-google-grpc-dev,
// golang-google-protobuf-dev, golang-golang-x-sys-dev) in GOPATH mode, without protoc-gen-go: the
// messages are encoded and decoded by hand with protowire and go through a raw-bytes codec.
//
//	dp-goplugin -socket PATH -resource NAME -manifest FILE -root DIR [-watch=true] [-poll MS]
//
// The manifest is bench/gen-dp-root.py's: {"devices": [{"id", "group", "numa"}, ...]}. A device is
// Healthy while DIR/dev/vfio/<group> exists. Health is re-checked on inotify events in
// DIR/dev/vfio (-watch), every MS milliseconds (-poll) and on SIGUSR1; every change sends the full
// list to every ListAndWatch stream. Allocate answers like libhostdev's vfio PCI plugin:
// PCI_RESOURCE_<NAME> = the allocated addresses in order, /dev/vfio/vfio and /dev/vfio/<group>
// (mrw) once each. No registration (the kubelet is not involved); SIGTERM/SIGINT sends an empty
// list, stops and removes the socket.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io/ioutil"
	"log"
	"net"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
	"google.golang.org/grpc"
	"google.golang.org/grpc/codes"
	"google.golang.org/grpc/status"
	"google.golang.org/protobuf/encoding/protowire"
)

// rawCodec passes the message bytes through: handlers encode and decode protobuf themselves.
type rawCodec struct{}

func (rawCodec) Marshal(v interface{}) ([]byte, error) {
	switch m := v.(type) {
	case []byte:
		return m, nil
	case *[]byte:
		return *m, nil
	}
	return nil, fmt.Errorf("rawCodec: cannot marshal %T", v)
}

func (rawCodec) Unmarshal(data []byte, v interface{}) error {
	p, ok := v.(*[]byte)
	if !ok {
		return fmt.Errorf("rawCodec: cannot unmarshal into %T", v)
	}
	*p = append((*p)[:0], data...)
	return nil
}

func (rawCodec) String() string { return "proto" }

type device struct {
	ID    string `json:"id"`
	Group int    `json:"group"`
	NUMA  int    `json:"numa"`
}

type plugin struct {
	root    string
	envName string
	devices []device
	byID    map[string]*device

	mu       sync.Mutex
	healthy  []bool
	version  uint64
	watchers map[chan struct{}]struct{}
	stopping bool
}

func (p *plugin) groupNode(d *device) string {
	return filepath.Join(p.root, "dev", "vfio", fmt.Sprint(d.Group))
}

// recheck stats every group node and wakes every stream when a health changed.
func (p *plugin) recheck() {
	h := make([]bool, len(p.devices))
	for i := range p.devices {
		_, err := os.Stat(p.groupNode(&p.devices[i]))
		h[i] = err == nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	changed := false
	for i := range h {
		if h[i] != p.healthy[i] {
			changed = true
		}
	}
	if !changed {
		return
	}
	p.healthy = h
	p.version++
	p.wakeLocked()
}

func (p *plugin) wakeLocked() {
	for ch := range p.watchers {
		select {
		case ch <- struct{}{}:
		default:
		}
	}
}

// listMessage: ListAndWatchResponse{devices: [Device{ID, health, topology{nodes[{ID}]}}]}.
func (p *plugin) listMessage() ([]byte, uint64, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	var b []byte
	if !p.stopping {
		for i := range p.devices {
			d := &p.devices[i]
			health := "Unhealthy"
			if p.healthy[i] {
				health = "Healthy"
			}
			var dev []byte
			dev = protowire.AppendTag(dev, 1, protowire.BytesType)
			dev = protowire.AppendString(dev, d.ID)
			dev = protowire.AppendTag(dev, 2, protowire.BytesType)
			dev = protowire.AppendString(dev, health)
			if d.NUMA >= 0 {
				var node, topo []byte
				node = protowire.AppendTag(node, 1, protowire.VarintType)
				node = protowire.AppendVarint(node, uint64(d.NUMA))
				topo = protowire.AppendTag(topo, 1, protowire.BytesType)
				topo = protowire.AppendBytes(topo, node)
				dev = protowire.AppendTag(dev, 3, protowire.BytesType)
				dev = protowire.AppendBytes(dev, topo)
			}
			b = protowire.AppendTag(b, 1, protowire.BytesType)
			b = protowire.AppendBytes(b, dev)
		}
	}
	if b == nil {
		b = []byte{}
	}
	return b, p.version, p.stopping
}

// fields calls fn for every field of message b; an error on malformed input.
func fields(b []byte, fn func(num protowire.Number, typ protowire.Type, v []byte) error) error {
	for len(b) > 0 {
		num, typ, n := protowire.ConsumeTag(b)
		if n < 0 {
			return protowire.ParseError(n)
		}
		b = b[n:]
		m := protowire.ConsumeFieldValue(num, typ, b)
		if m < 0 {
			return protowire.ParseError(m)
		}
		var v []byte
		if typ == protowire.BytesType {
			var k int
			v, k = protowire.ConsumeBytes(b)
			if k < 0 {
				return protowire.ParseError(k)
			}
		}
		if err := fn(num, typ, v); err != nil {
			return err
		}
		b = b[m:]
	}
	return nil
}

func appendStringField(b []byte, num protowire.Number, s string) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendString(b, s)
}

func appendMessageField(b []byte, num protowire.Number, m []byte) []byte {
	b = protowire.AppendTag(b, num, protowire.BytesType)
	return protowire.AppendBytes(b, m)
}

// allocate answers AllocateRequest{container_requests: [{devices_ids: [...]}]}.
func (p *plugin) allocate(req []byte) ([]byte, error) {
	var containers [][]string
	err := fields(req, func(num protowire.Number, typ protowire.Type, v []byte) error {
		if num != 1 || typ != protowire.BytesType {
			return nil
		}
		var ids []string
		err := fields(v, func(num protowire.Number, typ protowire.Type, v []byte) error {
			if num == 1 && typ == protowire.BytesType {
				ids = append(ids, string(v))
			}
			return nil
		})
		containers = append(containers, ids)
		return err
	})
	if err != nil {
		return nil, status.Errorf(codes.InvalidArgument, "malformed AllocateRequest: %v", err)
	}
	var resp []byte
	for _, ids := range containers {
		var addrs []string
		var c []byte
		seen := map[string]bool{}
		nodes := []string{"/dev/vfio/vfio"}
		for _, id := range ids {
			d, ok := p.byID[id]
			if !ok {
				return nil, status.Errorf(codes.NotFound, "%q is not a device of this resource", id)
			}
			if seen[id] {
				continue
			}
			seen[id] = true
			addrs = append(addrs, id)
			node := fmt.Sprintf("/dev/vfio/%d", d.Group)
			dup := false
			for _, n := range nodes {
				dup = dup || n == node
			}
			if !dup {
				nodes = append(nodes, node)
			}
		}
		if len(addrs) > 0 {
			var env []byte
			env = appendStringField(env, 1, p.envName)
			env = appendStringField(env, 2, strings.Join(addrs, ","))
			c = appendMessageField(c, 1, env)
		}
		for _, n := range nodes {
			var spec []byte
			spec = appendStringField(spec, 1, n)
			spec = appendStringField(spec, 2, n)
			spec = appendStringField(spec, 3, "mrw")
			c = appendMessageField(c, 3, spec)
		}
		resp = appendMessageField(resp, 1, c)
	}
	if resp == nil {
		resp = []byte{}
	}
	return resp, nil
}

func (p *plugin) listAndWatch(stream grpc.ServerStream) error {
	ch := make(chan struct{}, 1)
	p.mu.Lock()
	p.watchers[ch] = struct{}{}
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		delete(p.watchers, ch)
		p.mu.Unlock()
	}()
	sent := ^uint64(0)
	for {
		msg, version, stopping := p.listMessage()
		if version != sent || stopping {
			if err := stream.SendMsg(msg); err != nil {
				return err
			}
			sent = version
		}
		if stopping {
			return nil
		}
		select {
		case <-ch:
		case <-stream.Context().Done():
			return stream.Context().Err()
		}
	}
}

func unary(fn func(p *plugin, req []byte) ([]byte, error)) func(interface{}, context.Context, func(interface{}) error, grpc.UnaryServerInterceptor) (interface{}, error) {
	return func(srv interface{}, ctx context.Context, dec func(interface{}) error, _ grpc.UnaryServerInterceptor) (interface{}, error) {
		var req []byte
		if err := dec(&req); err != nil {
			return nil, err
		}
		return fn(srv.(*plugin), req)
	}
}

var serviceDesc = grpc.ServiceDesc{
	ServiceName: "v1beta1.DevicePlugin",
	HandlerType: (*interface{})(nil),
	Methods: []grpc.MethodDesc{
		// DevicePluginOptions{}: no PreStartContainer, no GetPreferredAllocation.
		{MethodName: "GetDevicePluginOptions", Handler: unary(func(*plugin, []byte) ([]byte, error) { return []byte{}, nil })},
		{MethodName: "Allocate", Handler: unary(func(p *plugin, req []byte) ([]byte, error) { return p.allocate(req) })},
		{MethodName: "PreStartContainer", Handler: unary(func(*plugin, []byte) ([]byte, error) { return []byte{}, nil })},
		{MethodName: "GetPreferredAllocation", Handler: unary(func(*plugin, []byte) ([]byte, error) {
			return nil, status.Error(codes.Unimplemented, "GetPreferredAllocation is not offered")
		})},
	},
	Streams: []grpc.StreamDesc{{
		StreamName:    "ListAndWatch",
		ServerStreams: true,
		Handler:       func(srv interface{}, stream grpc.ServerStream) error { return srv.(*plugin).listAndWatch(stream) },
	}},
	Metadata: "deviceplugin_v1beta1_service.proto",
}

// watchDir re-checks health on every entry created, removed or renamed in dir (inotify).
func (p *plugin) watchDir(dir string) error {
	fd, err := unix.InotifyInit1(unix.IN_CLOEXEC)
	if err != nil {
		return err
	}
	if _, err := unix.InotifyAddWatch(fd, dir, unix.IN_CREATE|unix.IN_DELETE|unix.IN_MOVED_FROM|unix.IN_MOVED_TO|unix.IN_ATTRIB); err != nil {
		unix.Close(fd)
		return err
	}
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := unix.Read(fd, buf)
			if err == unix.EINTR {
				continue
			}
			if err != nil || n <= 0 {
				log.Printf("inotify: %v", err)
				return
			}
			p.recheck()
		}
	}()
	return nil
}

// envName is KubeVirt's PCI_RESOURCE_<resource name upper-cased, '.' and '/' as '_'>.
func envName(resource string) string {
	r := strings.NewReplacer(".", "_", "/", "_", "-", "_")
	return "PCI_RESOURCE_" + strings.ToUpper(r.Replace(resource))
}

func main() {
	socket := flag.String("socket", "", "plugin socket to serve")
	resource := flag.String("resource", "example.com/nic", "resource name (for the env variable)")
	manifest := flag.String("manifest", "", "devices, as written by bench/gen-dp-root.py --manifest")
	root := flag.String("root", "/", "root whose dev/vfio/<group> nodes give the health")
	watch := flag.Bool("watch", true, "re-check health on inotify events in ROOT/dev/vfio")
	poll := flag.Int("poll", 0, "also re-check health every MS milliseconds (0: never)")
	flag.Parse()
	log.SetFlags(log.Ldate | log.Ltime | log.Lmicroseconds | log.LUTC)
	log.SetPrefix("dp-goplugin: ")
	if *socket == "" || *manifest == "" {
		log.Fatal("-socket and -manifest are required")
	}
	data, err := ioutil.ReadFile(*manifest)
	if err != nil {
		log.Fatal(err)
	}
	var m struct {
		Devices []device `json:"devices"`
	}
	if err := json.Unmarshal(data, &m); err != nil {
		log.Fatalf("%s: %v", *manifest, err)
	}
	p := &plugin{root: *root, envName: envName(*resource), devices: m.Devices,
		byID: map[string]*device{}, healthy: make([]bool, len(m.Devices)),
		watchers: map[chan struct{}]struct{}{}}
	for i := range p.devices {
		p.byID[p.devices[i].ID] = &p.devices[i]
	}
	p.recheck()
	if *watch {
		if err := p.watchDir(filepath.Join(*root, "dev", "vfio")); err != nil {
			log.Fatalf("inotify on %s/dev/vfio: %v", *root, err)
		}
	}
	if *poll > 0 {
		go func() {
			for range time.Tick(time.Duration(*poll) * time.Millisecond) {
				p.recheck()
			}
		}()
	}

	os.Remove(*socket)
	lis, err := net.Listen("unix", *socket)
	if err != nil {
		log.Fatal(err)
	}
	srv := grpc.NewServer(grpc.CustomCodec(rawCodec{}))
	srv.RegisterService(&serviceDesc, p)

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT, syscall.SIGUSR1)
	go func() {
		for s := range sigs {
			if s == syscall.SIGUSR1 {
				p.recheck()
				continue
			}
			log.Printf("stopping: advertising no devices, removing %s", *socket)
			p.mu.Lock()
			p.stopping = true
			p.wakeLocked()
			p.mu.Unlock()
			done := make(chan struct{})
			go func() { srv.GracefulStop(); close(done) }()
			select {
			case <-done:
			case <-time.After(2 * time.Second):
				srv.Stop()
			}
			return
		}
	}()
	log.Printf("serving %d devices of %s on %s", len(p.devices), *resource, *socket)
	if err := srv.Serve(lis); err != nil {
		log.Fatal(err)
	}
	os.Remove(*socket)
}
