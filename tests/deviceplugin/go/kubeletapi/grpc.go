// SPDX-License-Identifier: Apache-2.0

package kubeletapi

import (
	"context"
	"net"
	"time"

	"google.golang.org/grpc"
)

// Dial connects to a Unix socket with a custom dialer, like the kubelet, so the plugin sees the
// socket path as :authority (what kubelets before 1.26 send). It blocks for up to 10 s.
func Dial(ctx context.Context, path string) (*grpc.ClientConn, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	return grpc.DialContext(ctx, path, grpc.WithInsecure(), grpc.WithBlock(),
		grpc.WithContextDialer(func(ctx context.Context, addr string) (net.Conn, error) {
			return (&net.Dialer{}).DialContext(ctx, "unix", addr)
		}))
}

// Registrar is the kubelet's v1beta1.Registration service, served with RegistrationDesc.
type Registrar interface {
	Register(ctx context.Context, req *RegisterRequest) (*Empty, error)
}

// RegistrationDesc describes v1beta1.Registration for grpc.Server.RegisterService with a
// Registrar.
var RegistrationDesc = grpc.ServiceDesc{
	ServiceName: "v1beta1.Registration",
	HandlerType: (*Registrar)(nil),
	Methods: []grpc.MethodDesc{{
		MethodName: "Register",
		Handler: func(srv interface{}, ctx context.Context, dec func(interface{}) error,
			interceptor grpc.UnaryServerInterceptor) (interface{}, error) {
			req := &RegisterRequest{}
			if err := dec(req); err != nil {
				return nil, err
			}
			return srv.(Registrar).Register(ctx, req)
		},
	}},
	Streams: []grpc.StreamDesc{},
}
