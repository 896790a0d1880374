// SPDX-License-Identifier: Apache-2.0

// Package kubeletapi is the kubelet's side of the device-plugin API v1beta1 shared by the two
// grpc-go kubelet peers: tests/deviceplugin/go/fakekubelet (ctest deviceplugin.grpc-go) and
// tests/vm/kubelet-go (vm-kubelet, scenario 93-deviceplugin). Built in GOPATH mode: each build
// script links this directory as $WORK/gopath/src/hostdev.test/kubeletapi.
//
// The messages (src/deviceplugin/proto/deviceplugin_v1beta1.proto) are written by hand in the form
// protoc-gen-go produced for github.com/golang/protobuf 1.3: structs with protobuf field tags,
// marshalled by the library's reflection (Debian ships grpc-go and golang/protobuf but no
// protoc-gen-go, and the builds are offline). JSON tags are for vm-kubelet's printing.
package kubeletapi

import "github.com/golang/protobuf/proto"

type Empty struct{}

func (m *Empty) Reset()         { *m = Empty{} }
func (m *Empty) String() string { return proto.CompactTextString(m) }
func (*Empty) ProtoMessage()    {}

type DevicePluginOptions struct {
	PreStartRequired                bool `protobuf:"varint,1,opt,name=pre_start_required,proto3" json:"pre_start_required"`
	GetPreferredAllocationAvailable bool `protobuf:"varint,2,opt,name=get_preferred_allocation_available,proto3" json:"get_preferred_allocation_available"`
}

func (m *DevicePluginOptions) Reset()         { *m = DevicePluginOptions{} }
func (m *DevicePluginOptions) String() string { return proto.CompactTextString(m) }
func (*DevicePluginOptions) ProtoMessage()    {}

type RegisterRequest struct {
	Version      string               `protobuf:"bytes,1,opt,name=version,proto3"`
	Endpoint     string               `protobuf:"bytes,2,opt,name=endpoint,proto3"`
	ResourceName string               `protobuf:"bytes,3,opt,name=resource_name,proto3"`
	Options      *DevicePluginOptions `protobuf:"bytes,4,opt,name=options,proto3"`
}

func (m *RegisterRequest) Reset()         { *m = RegisterRequest{} }
func (m *RegisterRequest) String() string { return proto.CompactTextString(m) }
func (*RegisterRequest) ProtoMessage()    {}

type NUMANode struct {
	ID int64 `protobuf:"varint,1,opt,name=ID,proto3"`
}

func (m *NUMANode) Reset()         { *m = NUMANode{} }
func (m *NUMANode) String() string { return proto.CompactTextString(m) }
func (*NUMANode) ProtoMessage()    {}

type TopologyInfo struct {
	Nodes []*NUMANode `protobuf:"bytes,1,rep,name=nodes,proto3"`
}

func (m *TopologyInfo) Reset()         { *m = TopologyInfo{} }
func (m *TopologyInfo) String() string { return proto.CompactTextString(m) }
func (*TopologyInfo) ProtoMessage()    {}

type Device struct {
	ID       string        `protobuf:"bytes,1,opt,name=ID,proto3"`
	Health   string        `protobuf:"bytes,2,opt,name=health,proto3"`
	Topology *TopologyInfo `protobuf:"bytes,3,opt,name=topology,proto3"`
}

func (m *Device) Reset()         { *m = Device{} }
func (m *Device) String() string { return proto.CompactTextString(m) }
func (*Device) ProtoMessage()    {}

type ListAndWatchResponse struct {
	Devices []*Device `protobuf:"bytes,1,rep,name=devices,proto3"`
}

func (m *ListAndWatchResponse) Reset()         { *m = ListAndWatchResponse{} }
func (m *ListAndWatchResponse) String() string { return proto.CompactTextString(m) }
func (*ListAndWatchResponse) ProtoMessage()    {}

type ContainerAllocateRequest struct {
	DevicesIDs []string `protobuf:"bytes,1,rep,name=devices_ids,proto3"`
}

func (m *ContainerAllocateRequest) Reset()         { *m = ContainerAllocateRequest{} }
func (m *ContainerAllocateRequest) String() string { return proto.CompactTextString(m) }
func (*ContainerAllocateRequest) ProtoMessage()    {}

type AllocateRequest struct {
	ContainerRequests []*ContainerAllocateRequest `protobuf:"bytes,1,rep,name=container_requests,proto3"`
}

func (m *AllocateRequest) Reset()         { *m = AllocateRequest{} }
func (m *AllocateRequest) String() string { return proto.CompactTextString(m) }
func (*AllocateRequest) ProtoMessage()    {}

type Mount struct {
	ContainerPath string `protobuf:"bytes,1,opt,name=container_path,proto3" json:"container_path"`
	HostPath      string `protobuf:"bytes,2,opt,name=host_path,proto3" json:"host_path"`
	ReadOnly      bool   `protobuf:"varint,3,opt,name=read_only,proto3" json:"read_only"`
}

func (m *Mount) Reset()         { *m = Mount{} }
func (m *Mount) String() string { return proto.CompactTextString(m) }
func (*Mount) ProtoMessage()    {}

type DeviceSpec struct {
	ContainerPath string `protobuf:"bytes,1,opt,name=container_path,proto3" json:"container_path"`
	HostPath      string `protobuf:"bytes,2,opt,name=host_path,proto3" json:"host_path"`
	Permissions   string `protobuf:"bytes,3,opt,name=permissions,proto3" json:"permissions"`
}

func (m *DeviceSpec) Reset()         { *m = DeviceSpec{} }
func (m *DeviceSpec) String() string { return proto.CompactTextString(m) }
func (*DeviceSpec) ProtoMessage()    {}

type CDIDevice struct {
	Name string `protobuf:"bytes,1,opt,name=name,proto3" json:"name"`
}

func (m *CDIDevice) Reset()         { *m = CDIDevice{} }
func (m *CDIDevice) String() string { return proto.CompactTextString(m) }
func (*CDIDevice) ProtoMessage()    {}

type ContainerAllocateResponse struct {
	Envs        map[string]string `protobuf:"bytes,1,rep,name=envs,proto3" protobuf_key:"bytes,1,opt,name=key,proto3" protobuf_val:"bytes,2,opt,name=value,proto3" json:"envs"`
	Mounts      []*Mount          `protobuf:"bytes,2,rep,name=mounts,proto3" json:"mounts"`
	Devices     []*DeviceSpec     `protobuf:"bytes,3,rep,name=devices,proto3" json:"devices"`
	Annotations map[string]string `protobuf:"bytes,4,rep,name=annotations,proto3" protobuf_key:"bytes,1,opt,name=key,proto3" protobuf_val:"bytes,2,opt,name=value,proto3" json:"annotations"`
	CDIDevices  []*CDIDevice      `protobuf:"bytes,5,rep,name=cdi_devices,proto3" json:"cdi_devices"`
}

func (m *ContainerAllocateResponse) Reset()         { *m = ContainerAllocateResponse{} }
func (m *ContainerAllocateResponse) String() string { return proto.CompactTextString(m) }
func (*ContainerAllocateResponse) ProtoMessage()    {}

type AllocateResponse struct {
	ContainerResponses []*ContainerAllocateResponse `protobuf:"bytes,1,rep,name=container_responses,proto3" json:"container_responses"`
}

func (m *AllocateResponse) Reset()         { *m = AllocateResponse{} }
func (m *AllocateResponse) String() string { return proto.CompactTextString(m) }
func (*AllocateResponse) ProtoMessage()    {}

type ContainerPreferredAllocationRequest struct {
	AvailableDeviceIDs   []string `protobuf:"bytes,1,rep,name=available_deviceIDs,proto3"`
	MustIncludeDeviceIDs []string `protobuf:"bytes,2,rep,name=must_include_deviceIDs,proto3"`
	AllocationSize       int32    `protobuf:"varint,3,opt,name=allocation_size,proto3"`
}

func (m *ContainerPreferredAllocationRequest) Reset() {
	*m = ContainerPreferredAllocationRequest{}
}
func (m *ContainerPreferredAllocationRequest) String() string { return proto.CompactTextString(m) }
func (*ContainerPreferredAllocationRequest) ProtoMessage()    {}

type PreferredAllocationRequest struct {
	ContainerRequests []*ContainerPreferredAllocationRequest `protobuf:"bytes,1,rep,name=container_requests,proto3"`
}

func (m *PreferredAllocationRequest) Reset()         { *m = PreferredAllocationRequest{} }
func (m *PreferredAllocationRequest) String() string { return proto.CompactTextString(m) }
func (*PreferredAllocationRequest) ProtoMessage()    {}

type ContainerPreferredAllocationResponse struct {
	DeviceIDs []string `protobuf:"bytes,1,rep,name=deviceIDs,proto3"`
}

func (m *ContainerPreferredAllocationResponse) Reset() {
	*m = ContainerPreferredAllocationResponse{}
}
func (m *ContainerPreferredAllocationResponse) String() string { return proto.CompactTextString(m) }
func (*ContainerPreferredAllocationResponse) ProtoMessage()    {}

type PreferredAllocationResponse struct {
	ContainerResponses []*ContainerPreferredAllocationResponse `protobuf:"bytes,1,rep,name=container_responses,proto3"`
}

func (m *PreferredAllocationResponse) Reset()         { *m = PreferredAllocationResponse{} }
func (m *PreferredAllocationResponse) String() string { return proto.CompactTextString(m) }
func (*PreferredAllocationResponse) ProtoMessage()    {}
