/* SPDX-License-Identifier: Apache-2.0 */
/*
 * libFuzzer target for the parsers that read untrusted text: the vfio journal (it steers sysfs
 * writes during restore), PCI addresses and the lspci -s / -d / class filters.
 * The first input byte picks the parser, the rest is its input.
 * Built with clang -fsanitize=fuzzer,address,undefined from the library sources directly.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "pci/pci_filter.h"
#include "vfio/vfio.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/*
 * context.c releases helpers owned by pci_names.c / pci_modules.c / pci_slots.c / usb_names.c,
 * which the fuzzer leaves out.
 */
void ctx_pci_access_release(hostdev_ctx *ctx);
void ctx_kmod_release(hostdev_ctx *ctx);
void ctx_slots_release(hostdev_ctx *ctx);
void ctx_usb_ids_release(hostdev_ctx *ctx);
void ctx_usb_ids_release(hostdev_ctx *ctx)
{
	(void)ctx;
}
void ctx_pci_access_release(hostdev_ctx *ctx)
{
	(void)ctx;
}
void ctx_kmod_release(hostdev_ctx *ctx)
{
	(void)ctx;
}
void ctx_slots_release(hostdev_ctx *ctx)
{
	(void)ctx;
}

static void fuzz_journal(const char *text, size_t len)
{
	struct vfio_journal_data data = {0}, again = {0};
	char err[256];
	char *out;

	if (vfio_journal_parse(text, len, &data, err, sizeof(err)) < 0)
		return;
	/* Whatever parses must serialise and parse back to the same records. */
	out = vfio_journal_serialize(&data, false);
	if (out) {
		if (vfio_journal_parse(out, strlen(out), &again, err, sizeof(err)) < 0 ||
		    again.count != data.count)
			abort();
		for (size_t i = 0; i < data.count; i++) {
			if (strcmp(data.records[i].address, again.records[i].address) != 0 ||
			    !vfio_driver_name_valid(data.records[i].driver ? data.records[i].driver
									   : "none"))
				abort();
		}
		free(out);
	}
	vfio_journal_data_clear(&again);
	vfio_journal_data_clear(&data);
}

static void fuzz_address(const char *text)
{
	struct hostdev_pci_address addr, back;
	char buf[HOSTDEV_PCI_ADDRESS_MAX];

	if (hostdev_pci_address_parse(text, &addr) < 0)
		return;
	/* Round trip: format, parse, same value. */
	if (hostdev_pci_address_format(&addr, buf, sizeof(buf)) < 0 ||
	    hostdev_pci_address_parse(buf, &back) < 0 || addr.domain != back.domain ||
	    addr.bus != back.bus || addr.slot != back.slot || addr.function != back.function)
		abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static hostdev_ctx *ctx;
	char *text;

	if (size < 1)
		return 0;
	if (!ctx && hostdev_ctx_new(&ctx) < 0)
		abort();
	text = malloc(size);
	if (!text)
		return 0;
	memcpy(text, data + 1, size - 1);
	text[size - 1] = '\0';
	switch (data[0] % 5) {
	case 0:
		/* not NUL-terminated on purpose: the parser gets a length */
		fuzz_journal((const char *)data + 1, size - 1);
		break;
	case 1:
		fuzz_address(text);
		break;
	case 2: {
		struct pci_slot_filter f;

		pci_slot_filter_parse(ctx, text, &f);
		break;
	}
	case 3: {
		struct pci_id_filter f;

		pci_id_filter_parse(ctx, text, &f);
		break;
	}
	default: {
		struct pci_class_filter f;

		pci_class_filter_parse(ctx, text, &f);
		break;
	}
	}
	free(text);
	return 0;
}
