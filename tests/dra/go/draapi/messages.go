// SPDX-License-Identifier: Apache-2.0

// Package draapi holds the kubelet's DRA and plugin-registration messages for the grpc-go kubelet
// stand-ins: drakubelet (ctest dra.grpc-go) and vm-kubelet's DRA mode (the QEMU guest, tests/vm).
package draapi

// The messages of src/dra/proto/dra_v1.proto (v1beta1 has the same wire form without share_id) and
// of src/pluginreg/proto/pluginregistration_v1.proto, written by hand in the form protoc-gen-go
// produced for github.com/golang/protobuf 1.3: structs with protobuf field tags, marshalled by the
// library's reflection (Debian ships grpc-go and golang/protobuf but no protoc-gen-go, and the
// build is offline). Maps carry protobuf_key/protobuf_val tags like generated code. The json tags
// are the proto field names, for the JSON lines vm-kubelet prints.

import "github.com/golang/protobuf/proto"

type Claim struct {
	Namespace string `protobuf:"bytes,1,opt,name=namespace,proto3" json:"namespace"`
	UID       string `protobuf:"bytes,2,opt,name=uid,proto3" json:"uid"`
	Name      string `protobuf:"bytes,3,opt,name=name,proto3" json:"name"`
}

func (m *Claim) Reset()         { *m = Claim{} }
func (m *Claim) String() string { return proto.CompactTextString(m) }
func (*Claim) ProtoMessage()    {}

type ClaimsRequest struct {
	Claims []*Claim `protobuf:"bytes,1,rep,name=claims,proto3" json:"claims"`
}

func (m *ClaimsRequest) Reset()         { *m = ClaimsRequest{} }
func (m *ClaimsRequest) String() string { return proto.CompactTextString(m) }
func (*ClaimsRequest) ProtoMessage()    {}

type Device struct {
	RequestNames []string `protobuf:"bytes,1,rep,name=request_names,proto3" json:"request_names"`
	PoolName     string   `protobuf:"bytes,2,opt,name=pool_name,proto3" json:"pool_name"`
	DeviceName   string   `protobuf:"bytes,3,opt,name=device_name,proto3" json:"device_name"`
	CDIDeviceIDs []string `protobuf:"bytes,4,rep,name=cdi_device_ids,proto3" json:"cdi_device_ids"`
}

func (m *Device) Reset()         { *m = Device{} }
func (m *Device) String() string { return proto.CompactTextString(m) }
func (*Device) ProtoMessage()    {}

type NodePrepareResourceResponse struct {
	Devices []*Device `protobuf:"bytes,1,rep,name=devices,proto3" json:"devices"`
	Error   string    `protobuf:"bytes,2,opt,name=error,proto3" json:"error"`
}

func (m *NodePrepareResourceResponse) Reset()         { *m = NodePrepareResourceResponse{} }
func (m *NodePrepareResourceResponse) String() string { return proto.CompactTextString(m) }
func (*NodePrepareResourceResponse) ProtoMessage()    {}

// GetError is "" for a claim missing from the answer (checked where the answer is read).
func (m *NodePrepareResourceResponse) GetError() string {
	if m == nil {
		return ""
	}
	return m.Error
}

type NodePrepareResourcesResponse struct {
	Claims map[string]*NodePrepareResourceResponse `protobuf:"bytes,1,rep,name=claims,proto3" protobuf_key:"bytes,1,opt,name=key,proto3" protobuf_val:"bytes,2,opt,name=value,proto3" json:"claims"`
}

func (m *NodePrepareResourcesResponse) Reset()         { *m = NodePrepareResourcesResponse{} }
func (m *NodePrepareResourcesResponse) String() string { return proto.CompactTextString(m) }
func (*NodePrepareResourcesResponse) ProtoMessage()    {}

type NodeUnprepareResourceResponse struct {
	Error string `protobuf:"bytes,1,opt,name=error,proto3" json:"error"`
}

func (m *NodeUnprepareResourceResponse) Reset()         { *m = NodeUnprepareResourceResponse{} }
func (m *NodeUnprepareResourceResponse) String() string { return proto.CompactTextString(m) }
func (*NodeUnprepareResourceResponse) ProtoMessage()    {}

type NodeUnprepareResourcesResponse struct {
	Claims map[string]*NodeUnprepareResourceResponse `protobuf:"bytes,1,rep,name=claims,proto3" protobuf_key:"bytes,1,opt,name=key,proto3" protobuf_val:"bytes,2,opt,name=value,proto3" json:"claims"`
}

func (m *NodeUnprepareResourcesResponse) Reset()         { *m = NodeUnprepareResourcesResponse{} }
func (m *NodeUnprepareResourcesResponse) String() string { return proto.CompactTextString(m) }
func (*NodeUnprepareResourcesResponse) ProtoMessage()    {}

type InfoRequest struct{}

func (m *InfoRequest) Reset()         { *m = InfoRequest{} }
func (m *InfoRequest) String() string { return proto.CompactTextString(m) }
func (*InfoRequest) ProtoMessage()    {}

type PluginInfo struct {
	Type              string   `protobuf:"bytes,1,opt,name=type,proto3" json:"type"`
	Name              string   `protobuf:"bytes,2,opt,name=name,proto3" json:"name"`
	Endpoint          string   `protobuf:"bytes,3,opt,name=endpoint,proto3" json:"endpoint"`
	SupportedVersions []string `protobuf:"bytes,4,rep,name=supported_versions,proto3" json:"supported_versions"`
}

func (m *PluginInfo) Reset()         { *m = PluginInfo{} }
func (m *PluginInfo) String() string { return proto.CompactTextString(m) }
func (*PluginInfo) ProtoMessage()    {}

type RegistrationStatus struct {
	PluginRegistered bool   `protobuf:"varint,1,opt,name=plugin_registered,proto3" json:"plugin_registered"`
	Error            string `protobuf:"bytes,2,opt,name=error,proto3" json:"error"`
}

func (m *RegistrationStatus) Reset()         { *m = RegistrationStatus{} }
func (m *RegistrationStatus) String() string { return proto.CompactTextString(m) }
func (*RegistrationStatus) ProtoMessage()    {}

type RegistrationStatusResponse struct{}

func (m *RegistrationStatusResponse) Reset()         { *m = RegistrationStatusResponse{} }
func (m *RegistrationStatusResponse) String() string { return proto.CompactTextString(m) }
func (*RegistrationStatusResponse) ProtoMessage()    {}
