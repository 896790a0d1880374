/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Extended resource names as the kubelet checks them when a device plugin registers
 * (pkg/kubelet/cm/devicemanager: v1helper.IsExtendedResourceName, over apimachinery's
 * IsQualifiedName and IsDNS1123Subdomain).
 */
#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#include "naming.h"

static bool is_ascii_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

/*
 * A DNS-1123 subdomain as Kubernetes checks it (IsDNS1123Subdomain in apimachinery's validation):
 * lower-case alphanumerics, '-' and '.', every dot-separated part non-empty and starting and
 * ending with an alphanumeric. The length is checked by the caller.
 */
static bool is_dns_subdomain(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		bool first = i == 0 || s[i - 1] == '.', last = i + 1 == len || s[i + 1] == '.';

		if (c == '.') {
			if (first)
				return false; /* empty part */
			continue;
		}
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-'))
			return false;
		if (c == '-' && (first || last))
			return false;
	}
	return len > 0 && s[len - 1] != '.';
}

/*
 * The kubelet's rule for the resource name of a device plugin (Register refuses anything else):
 * Kubernetes' IsExtendedResourceName, i.e. not a native resource (no '/', or containing
 * "kubernetes.io/"), not starting with "requests." (quota names), and "requests." + the name a
 * qualified name: a DNS-1123 subdomain of at most 253 characters, '/', and a name of at most 63
 * characters of [A-Za-z0-9._-] that starts and ends with an alphanumeric.
 */
const char *dp_resource_name_problem(const char *resource_name)
{
	static const char requests[] = "requests.";
	const char *slash, *name;
	size_t domain_len, len;

	if (!resource_name || !*resource_name)
		return "it is empty; write <domain>/<name>, e.g. example.com/nic";
	slash = strchr(resource_name, '/');
	if (!slash)
		return "it has no domain: a name without '/' is one of Kubernetes' own resources; "
		       "write <domain>/<name>, e.g. example.com/nic";
	if (strstr(resource_name, "kubernetes.io/"))
		return "the kubelet treats every name with \"kubernetes.io/\" as one of "
		       "Kubernetes' "
		       "own resources; use a domain of your own, e.g. example.com/nic";
	if (strncmp(resource_name, requests, sizeof(requests) - 1) == 0)
		return "a name starting with \"requests.\" is how resource quotas name requests, "
		       "so the kubelet refuses it; use another domain";
	if (strchr(slash + 1, '/'))
		return "it has more than one '/'; write <domain>/<name>";
	domain_len = (size_t)(slash - resource_name);
	if (domain_len == 0)
		return "the domain before '/' is empty; write <domain>/<name>, e.g. "
		       "example.com/nic";
	/* The kubelet checks "requests.<domain>" against the 253 characters of a subdomain. */
	if (sizeof(requests) - 1 + domain_len > 253)
		return "the domain is longer than 244 characters (the kubelet checks "
		       "\"requests.<domain>\", at most 253 characters)";
	if (!is_dns_subdomain(resource_name, domain_len))
		return "the domain is not a DNS subdomain: lower-case letters, digits, '-' and "
		       "'.', "
		       "each dot-separated part starting and ending with a letter or digit";
	name = slash + 1;
	len = strlen(name);
	if (len == 0)
		return "the name after '/' is empty";
	if (len > 63)
		return "the name after '/' is longer than 63 characters";
	if (!is_ascii_alnum(name[0]) || !is_ascii_alnum(name[len - 1]))
		return "the name after '/' must start and end with a letter or digit";
	for (size_t i = 0; i < len; i++)
		if (!is_ascii_alnum(name[i]) && name[i] != '-' && name[i] != '_' && name[i] != '.')
			return "the name after '/' may only hold letters, digits, '-', '_' and '.'";
	return NULL;
}
