/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Crash safety and concurrency of bind/restore.
 *
 * The kernel is played by the kernel model (tests/kmodel): this machine cannot bind devices, its
 * own disk and NIC are PCI devices. The model's HOSTDEV_KMODEL_KILL_AT=N sends SIGKILL instead of
 * the process's Nth write below the fake root (sysfs stores and journal writes alike), so running a
 * bind in a child with N = 1, 2, 3, ... kills it after every single step. After each kill, a
 * restore-all in a fresh process must bring every device back to its original driver with an empty
 * journal.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "vfio_tree.h"

/* Originals of every device the scenarios touch. */
static void assert_original(struct fakeroot *root)
{
	static const char *const expect[][2] = {
	    {NIC, "e1000e"},	   {VIRTIO, "virtio-pci"}, {LPC, "lpc_ich"},	     {SATA, "ahci"},
	    {SMBUS, "i801_smbus"}, {GPU, "nouveau"},	   {AUDIO, "snd_hda_intel"},
	};

	for (size_t i = 0; i < sizeof(expect) / sizeof(expect[0]); i++) {
		if (strcmp(vfio_tree_driver(root, expect[i][0]), expect[i][1]) != 0)
			fprintf(stderr, "%s: driver '%s', expected %s\n", expect[i][0],
				vfio_tree_driver(root, expect[i][0]), expect[i][1]);
		assert_string_equal(vfio_tree_driver(root, expect[i][0]), expect[i][1]);
		assert_string_equal(vfio_tree_override(root, expect[i][0]), "(null)");
	}
	for (const char *g = "2345"; *g; g++) {
		char group[2] = {*g, 0};

		assert_false(kmodel_devnode(root, group));
	}
	assert_int_equal(kmodel_log_count(root, "NEW_ID"), 0);
}

typedef int (*op_fn)(hostdev_ctx *ctx);

/* Run @op in a child killed at its @kill_at-th write. Returns 1 if killed, 0 if it finished. */
static int run_child(struct fakeroot *root, op_fn op, unsigned long kill_at)
{
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0) {
		hostdev_ctx *ctx = vfio_tree_ctx(root);
		char n[32];
		int r;

		snprintf(n, sizeof(n), "%lu", kill_at);
		setenv(KMODEL_ENV_KILL_AT, n, 1);
		r = ctx ? op(ctx) : -ENOMEM;
		if (r < 0)
			fprintf(stderr, "child: %s\n", hostdev_ctx_get_error(ctx));
		hostdev_ctx_unref(ctx);
		_exit(r < 0 ? 1 : 0);
	}
	assert_int_equal(waitpid(pid, &status, 0), pid);
	if (WIFSIGNALED(status)) {
		assert_int_equal(WTERMSIG(status), SIGKILL);
		return 1;
	}
	assert_true(WIFEXITED(status));
	assert_int_equal(WEXITSTATUS(status), 0);
	return 0;
}

static int restore_all(hostdev_ctx *ctx)
{
	return hostdev_vfio_restore_all(ctx, NULL, 0);
}

static int bind_pair(hostdev_ctx *ctx)
{
	const char *set[] = {NIC, VIRTIO};

	return hostdev_vfio_bind_set(ctx, set, 2, NULL, 0);
}

static int bind_ich9_group(hostdev_ctx *ctx)
{
	return hostdev_vfio_bind(ctx, SMBUS, NULL, HOSTDEV_BIND_GROUP);
}

static int bind_gpu_group(hostdev_ctx *ctx)
{
	return hostdev_vfio_bind(ctx, GPU, NULL, HOSTDEV_BIND_GROUP);
}

/* Restore in a separate process too, like an agent restarted after the crash. */
static void recover(struct fakeroot *root)
{
	assert_int_equal(run_child(root, restore_all, 0), 0);
	assert_original(root);
	{
		hostdev_ctx *ctx = vfio_tree_ctx(root);

		assert_int_equal(vfio_tree_journal_count(ctx), 0);
		hostdev_ctx_unref(ctx);
	}
}

static void kill_at_every_step(op_fn bind, int min_steps)
{
	int kills = 0;

	for (unsigned long n = 1; n < 500; n++) {
		struct fakeroot *root = vfio_tree_new(0);
		int killed;

		assert_non_null(root);
		killed = run_child(root, bind, n);
		recover(root);
		kmodel_disable();
		fakeroot_free(root);
		if (!killed)
			break;
		kills++;
	}
	fprintf(stderr, "killed after each of %d steps, recovered every time\n", kills);
	assert_true(kills >= min_steps);
}

static void test_kill_during_pair_bind(void **state)
{
	(void)state;
	/* journal (1) + 2 x (override, unbind, probe) + final journal: at least 8 writes */
	kill_at_every_step(bind_pair, 8);
}

static void test_kill_during_group_bind(void **state)
{
	(void)state;
	kill_at_every_step(bind_ich9_group, 11);
}

static void test_kill_during_gpu_group_bind(void **state)
{
	(void)state;
	kill_at_every_step(bind_gpu_group, 8);
}

/* A restore killed part-way, then restored again. */
static void test_kill_during_restore(void **state)
{
	int kills = 0;

	(void)state;
	for (unsigned long n = 1; n < 500; n++) {
		struct fakeroot *root = vfio_tree_new(0);
		int killed;

		assert_non_null(root);
		assert_int_equal(run_child(root, bind_pair, 0), 0);
		assert_int_equal(run_child(root, bind_ich9_group, 0), 0);
		killed = run_child(root, restore_all, n);
		recover(root);
		kmodel_disable();
		fakeroot_free(root);
		if (!killed)
			break;
		kills++;
	}
	assert_true(kills >= 10);
}

/* --- two processes at once ---------------------------------------------------------------------
 */

static int worker(struct fakeroot *root, int id, int rounds)
{
	hostdev_ctx *ctx = vfio_tree_ctx(root);
	const char *ab[] = {NIC, VIRTIO}, *ba[] = {VIRTIO, NIC};
	int failures = 0;

	for (int i = 0; i < rounds; i++) {
		int r;

		switch ((i + id) % 4) {
		case 0:
			r = hostdev_vfio_bind_set(ctx, id ? ba : ab, 2, NULL, 0);
			break;
		case 1:
			r = hostdev_vfio_restore(ctx, id ? NIC : VIRTIO, NULL, 0);
			break;
		case 2:
			r = hostdev_vfio_bind(ctx, GPU, NULL, HOSTDEV_BIND_GROUP);
			break;
		default:
			r = hostdev_vfio_restore_all(ctx, NULL, 0);
			break;
		}
		if (r < 0) {
			fprintf(stderr, "worker %d round %d: %s\n", id, i,
				hostdev_ctx_get_error(ctx));
			failures++;
		}
	}
	hostdev_ctx_unref(ctx);
	return failures;
}

/*
 * The tree the two workers share. Kept at file scope so that it stays reachable in the forked
 * workers, which exit without freeing their parent's copy; a leak checker would otherwise report it
 * as lost (volatile: a store the program never reads back would be optimised away).
 */
static struct fakeroot *volatile two_processes_root;

static void test_two_processes(void **state)
{
	struct fakeroot *root = two_processes_root = vfio_tree_new(0);
	hostdev_ctx *ctx;
	hostdev_vfio_journal *j = NULL;
	const char *devs[] = {NIC, VIRTIO, GPU, AUDIO};
	pid_t pids[2];

	(void)state;
	assert_non_null(root);
	for (int id = 0; id < 2; id++) {
		pids[id] = fork();
		assert_true(pids[id] >= 0);
		if (pids[id] == 0)
			_exit(worker(root, id, 40) ? 1 : 0);
	}
	for (int id = 0; id < 2; id++) {
		int status;

		assert_int_equal(waitpid(pids[id], &status, 0), pids[id]);
		assert_true(WIFEXITED(status));
		assert_int_equal(WEXITSTATUS(status), 0);
	}
	/* Consistency: a device is on vfio-pci exactly when the journal holds its record. */
	ctx = vfio_tree_ctx(root);
	assert_int_equal(hostdev_vfio_journal_read(ctx, &j), 0);
	for (size_t i = 0; i < sizeof(devs) / sizeof(devs[0]); i++) {
		bool bound = strcmp(vfio_tree_driver(root, devs[i]), "vfio-pci") == 0;
		bool recorded = false;

		for (size_t k = 0; k < hostdev_vfio_journal_get_count(j); k++) {
			if (strcmp(hostdev_vfio_journal_get_address(j, k), devs[i]) == 0) {
				recorded = true;
				assert_int_equal(hostdev_vfio_journal_is_complete(j, k), 1);
			}
		}
		assert_int_equal(bound, recorded);
	}
	hostdev_vfio_journal_unref(j);
	assert_int_not_equal(
	    access(fakeroot_abspath(root, "var/lib/hostdev/vfio-journal.json.tmp"), F_OK), 0);
	assert_true(hostdev_vfio_restore_all(ctx, NULL, 0) >= 0);
	assert_original(root);
	hostdev_ctx_unref(ctx);
	kmodel_disable();
	fakeroot_free(root);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_kill_during_pair_bind),
	    cmocka_unit_test(test_kill_during_group_bind),
	    cmocka_unit_test(test_kill_during_gpu_group_bind),
	    cmocka_unit_test(test_kill_during_restore),
	    cmocka_unit_test(test_two_processes),
	};

	if (!kmodel_present()) {
		fprintf(stderr,
			"the kernel model is not preloaded (LD_PRELOAD=libhostdev-kmodel.so)\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
