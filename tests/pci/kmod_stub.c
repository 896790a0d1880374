/* SPDX-License-Identifier: Apache-2.0 */
/*
 * A shared library with libkmod's soname and none of its functions, for unit-pci_kmod_unusable
 * (test_pci_kmod.c): found first through LD_LIBRARY_PATH, it stands for a libkmod the library
 * cannot use.
 */
int hostdev_kmod_stub(void);

int hostdev_kmod_stub(void)
{
	return 0;
}
