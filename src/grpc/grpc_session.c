/* SPDX-License-Identifier: Apache-2.0 */
/* One nghttp2 session set up the way both sides of the transport need it (grpc_internal.h). */
#include <errno.h>

#include "grpc_internal.h"

int grpc_session_new(bool server, void (*set_callbacks)(nghttp2_session_callbacks *cbs),
		     void *user_data, const nghttp2_settings_entry *settings, size_t n_settings,
		     nghttp2_session **out)
{
	nghttp2_session_callbacks *cbs;
	nghttp2_option *opt;
	int r;

	*out = NULL;
	if (nghttp2_session_callbacks_new(&cbs) != 0)
		return -ENOMEM;
	if (nghttp2_option_new(&opt) != 0) {
		nghttp2_session_callbacks_del(cbs);
		return -ENOMEM;
	}
	set_callbacks(cbs);
	/*
	 * Headers are validated by the transport itself: nghttp2's HTTP messaging checks reject
	 * the socket path that older kubelets send as :authority.
	 */
	nghttp2_option_set_no_http_messaging(opt, 1);
	r = server ? nghttp2_session_server_new2(out, cbs, user_data, opt)
		   : nghttp2_session_client_new2(out, cbs, user_data, opt);
	nghttp2_option_del(opt);
	nghttp2_session_callbacks_del(cbs);
	if (r != 0) {
		*out = NULL;
		return -ENOMEM;
	}
	/* Our SETTINGS go out at once: grpc-go waits for them before it sends anything. */
	if (nghttp2_submit_settings(*out, NGHTTP2_FLAG_NONE, settings, n_settings) != 0 ||
	    nghttp2_session_set_local_window_size(*out, NGHTTP2_FLAG_NONE, 0, GRPC_CONN_WINDOW) !=
		0) {
		nghttp2_session_del(*out);
		*out = NULL;
		return -ENOMEM;
	}
	return 0;
}
