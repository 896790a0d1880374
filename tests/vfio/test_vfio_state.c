/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The state directory, journal and lock against another user and against things that block:
 * a state directory someone else owns or can write, files that are links, FIFOs in place of the
 * journal, the lock or a sysfs attribute, a held lock, a store that never returns, and journals
 * with hundreds of stale records.
 *
 * The kernel is played by the kernel model (tests/kmodel, LD_PRELOAD): this machine cannot bind
 * devices, its own disk and NIC are PCI devices. The tests run as root (like the library in the
 * field) and stand for "another user" by chown'ing to uid 65534. Calls that could hang run in a
 * child process that the test waits for with a generous deadline, so a regression fails the test
 * instead of hanging the suite (and a worker thread blocked in the model dies with its child).
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "vfio_tree.h"

#define OTHER_UID 65534
#define STATE "var/lib/hostdev"
#define JOURNAL STATE "/vfio-journal.json"
#define LOCK STATE "/vfio.lock"
/* How long a child may take before the test calls it hung: generous, it only bounds a wait. */
#define CHILD_DEADLINE_MS 60000

struct fixture {
	struct fakeroot *root;
	hostdev_ctx *ctx;
	pid_t holder; /* a child holding the vfio lock, 0 when none */
	char log[8192];
};

static int setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));

	assert_non_null(f);
	assert_true(kmodel_present());
	assert_int_equal(geteuid(), 0); /* chown to another user below */
	f->root = vfio_tree_new(0);
	assert_non_null(f->root);
	f->ctx = vfio_tree_ctx(f->root);
	assert_non_null(f->ctx);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	struct fixture *f = *state;

	if (f->holder > 0) {
		kill(f->holder, SIGKILL);
		waitpid(f->holder, NULL, 0);
	}
	kmodel_disable();
	hostdev_ctx_unref(f->ctx);
	fakeroot_free(f->root);
	free(f);
	return 0;
}

static bool contains(const char *haystack, const char *needle)
{
	if (!strstr(haystack, needle)) {
		fprintf(stderr, "'%s' does not contain '%s'\n", haystack, needle);
		return false;
	}
	return true;
}

static const char *abspath(struct fixture *f, const char *rel)
{
	return fakeroot_abspath(f->root, rel);
}

/* Number of sysfs stores the model saw. */
static int sysfs_writes(struct fixture *f)
{
	return kmodel_log_count(f->root, " override ") + kmodel_log_count(f->root, " unbind ") +
	       kmodel_log_count(f->root, " bind ") + kmodel_log_count(f->root, " probe ");
}

static int journal_rewrites(struct fixture *f)
{
	return kmodel_log_count(f->root, " RENAME " JOURNAL " ");
}

/* A journal record as the library writes it. */
static void add_record(char **doc, const char *address, const char *driver, const char *override,
		       bool complete)
{
	char drv[64], ovr[64], *next;

	snprintf(drv, sizeof(drv), driver ? "\"%s\"" : "null", driver);
	snprintf(ovr, sizeof(ovr), override ? "\"%s\"" : "null", override);
	assert_true(asprintf(&next,
			     "%s%s{\"address\":\"%s\",\"driver\":%s,\"driver_override\":%s,"
			     "\"iommu_group\":9,\"time\":1700000000,\"owner\":null,"
			     "\"group_bind\":false,\"complete\":%s}",
			     *doc ? *doc : "", *doc ? "," : "", address, drv, ovr,
			     complete ? "true" : "false") > 0);
	free(*doc);
	*doc = next;
}

static void write_journal(struct fixture *f, const char *records)
{
	char *text;

	assert_true(asprintf(&text,
			     "{\"format\":\"libhostdev-vfio-journal\",\"version\":1,"
			     "\"records\":[%s]}\n",
			     records ? records : "") > 0);
	assert_int_equal(fakeroot_write(f->root, JOURNAL, text), 0);
	free(text);
}

/* --- children with a deadline ------------------------------------------------------------------
 */

/* Checks inside a child: no cmocka there (its longjmp would resume the parent's test loop). */
#define CHILD_CHECK(cond)                                                                          \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "child check failed at line %d: %s\n", __LINE__, #cond);   \
			return __LINE__;                                                           \
		}                                                                                  \
	} while (0)

/*
 * Run @fn(@f) in a child process and wait for it to exit, at most CHILD_DEADLINE_MS (then it is
 * killed: the call hung). Returns the child's exit code, or -1 when it hung or died by a signal.
 */
static int run_child(struct fixture *f, int (*fn)(struct fixture *))
{
	int64_t waited = 0;
	int status;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0)
		_exit(fn(f));
	for (;;) {
		struct timespec ts = {0, 10 * 1000 * 1000};
		pid_t w = waitpid(pid, &status, WNOHANG);

		assert_true(w >= 0);
		if (w == pid)
			break;
		if (waited >= CHILD_DEADLINE_MS) {
			fprintf(stderr, "child %d still running after %d ms: hung\n", (int)pid,
				CHILD_DEADLINE_MS);
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			return -1;
		}
		nanosleep(&ts, NULL);
		waited += 10;
	}
	if (WIFSIGNALED(status))
		fprintf(stderr, "child %d killed by signal %d\n", (int)pid, WTERMSIG(status));
	return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

/* --- a state directory another user controls ---------------------------------------------------
 */

/* The attack of the report: a forged record that would put the management NIC on vfio-pci. */
static void forge_mgmt_journal(struct fixture *f)
{
	char *records = NULL;

	add_record(&records, MGMT, "igb", "vfio-pci", true);
	add_record(&records, SPARE, NULL, "vfio-pci", true);
	write_journal(f, records);
	free(records);
}

static void assert_untouched(struct fixture *f)
{
	assert_int_equal(sysfs_writes(f), 0);
	assert_string_equal(vfio_tree_override(f->root, MGMT), "(null)");
	assert_string_equal(vfio_tree_driver(f->root, MGMT), "igb");
}

static void test_state_dir_owned_by_other_user(void **state)
{
	struct fixture *f = *state;
	hostdev_vfio_journal *j = NULL;
	const char *err;

	forge_mgmt_journal(f);
	assert_int_equal(chown(abspath(f, STATE), OTHER_UID, OTHER_UID), 0);
	assert_int_equal(chmod(abspath(f, STATE), 0755), 0);

	assert_int_equal(hostdev_vfio_restore_all(f->ctx, NULL, 0), -EPERM);
	err = hostdev_ctx_get_error(f->ctx);
	assert_true(contains(err, abspath(f, STATE)));
	assert_true(contains(err, "uid 65534"));
	assert_true(contains(err, "mode 0755"));
	assert_true(contains(err, "chown 0"));
	assert_int_equal(hostdev_vfio_bind(f->ctx, NIC, NULL, 0), -EPERM);
	assert_int_equal(hostdev_vfio_restore(f->ctx, MGMT, NULL, 0), -EPERM);
	/* Not even listed: a journal someone else can write tells nothing. */
	assert_int_equal(hostdev_vfio_journal_read(f->ctx, &j), -EPERM);
	assert_null(j);
	assert_untouched(f);
	assert_string_equal(vfio_tree_driver(f->root, NIC), "e1000e");
}

static void test_state_dir_writable_by_others(void **state)
{
	struct fixture *f = *state;

	forge_mgmt_journal(f);
	assert_int_equal(chmod(abspath(f, STATE), 0777), 0);
	assert_int_equal(hostdev_vfio_restore_all(f->ctx, NULL, 0), -EPERM);
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "mode 0777"));
	assert_int_equal(chmod(abspath(f, STATE), 0770), 0);
	assert_int_equal(hostdev_vfio_restore_all(f->ctx, NULL, 0), -EPERM);
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "mode 0770"));
	assert_untouched(f);
	/* The fix the message gives works. */
	assert_int_equal(chmod(abspath(f, STATE), 0700), 0);
	assert_int_equal(vfio_tree_journal_count(f->ctx), 2);
}

static void test_state_dir_symlink(void **state)
{
	struct fixture *f = *state;

	char from[4096];

	snprintf(from, sizeof(from), "%s", abspath(f, STATE));
	assert_int_equal(rename(from, abspath(f, "var/lib/elsewhere")), 0);
	assert_int_equal(fakeroot_symlink(f->root, "var/lib/elsewhere", STATE), 0);
	assert_int_equal(hostdev_vfio_bind(f->ctx, NIC, NULL, 0), -EPERM);
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "symbolic link"));
	assert_int_equal(sysfs_writes(f), 0);
}

static void test_journal_owned_by_other_user(void **state)
{
	struct fixture *f = *state;

	forge_mgmt_journal(f);
	assert_int_equal(chown(abspath(f, JOURNAL), OTHER_UID, OTHER_UID), 0);
	assert_int_equal(hostdev_vfio_restore_all(f->ctx, NULL, 0), -EPERM);
	assert_true(contains(hostdev_ctx_get_error(f->ctx), abspath(f, JOURNAL)));
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "uid 65534"));
	assert_untouched(f);
}

static void test_lock_owned_by_other_user(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(fakeroot_write(f->root, LOCK, ""), 0);
	assert_int_equal(chown(abspath(f, LOCK), OTHER_UID, OTHER_UID), 0);
	assert_int_equal(hostdev_vfio_bind(f->ctx, NIC, NULL, 0), -EPERM);
	assert_true(contains(hostdev_ctx_get_error(f->ctx), abspath(f, LOCK)));
	assert_int_equal(sysfs_writes(f), 0);
}

/* Even from a trusted journal, restore never puts anything on vfio-pci. */
static void test_restore_never_binds_vfio(void **state)
{
	struct fixture *f = *state;
	char *records = NULL;

	add_record(&records, MGMT, "igb", "vfio-pci", true);
	add_record(&records, NIC, HOSTDEV_VFIO_DRIVER, NULL, true);
	write_journal(f, records);
	free(records);
	assert_true(hostdev_vfio_restore_all(f->ctx, NULL, 0) < 0);
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "vfio-pci"));
	assert_int_equal(kmodel_log_count(f->root, " override " MGMT), 0);
	assert_int_equal(kmodel_log_count(f->root, " vfio-pci "), 0);
	assert_untouched(f);
	assert_string_equal(vfio_tree_driver(f->root, NIC), "e1000e");
	/* the refused records are kept for a human to look at */
	assert_int_equal(vfio_tree_journal_count(f->ctx), 2);
}

/* A record for a device the host is using (it carries the default route) is not written to. */
static void test_restore_guarded_device_untouched(void **state)
{
	struct fixture *f = *state;
	char *records = NULL;

	add_record(&records, MGMT, "e1000e", "e1000e", true);
	write_journal(f, records);
	free(records);
	assert_int_equal(hostdev_vfio_restore_all(f->ctx, NULL, 0), 0);
	assert_untouched(f);
}

/* --- things that block -------------------------------------------------------------------------
 */

static int child_bind_nic_fails_fast(struct fixture *f)
{
	hostdev_vfio_journal *j = NULL;
	int r = hostdev_vfio_bind(f->ctx, NIC, NULL, 0);

	CHILD_CHECK(r == -EBADMSG || r == -EPERM);
	CHILD_CHECK(strstr(hostdev_ctx_get_error(f->ctx), "not a regular file"));
	r = hostdev_vfio_journal_read(f->ctx, &j);
	CHILD_CHECK(r < 0 || hostdev_vfio_journal_get_count(j) == 0);
	hostdev_vfio_journal_unref(j);
	return 0;
}

static void test_fifo_journal(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(mkfifo(abspath(f, JOURNAL), 0600), 0);
	assert_int_equal(run_child(f, child_bind_nic_fails_fast), 0);
	assert_int_equal(sysfs_writes(f), 0);
}

static int child_bind_nic_lock_fifo(struct fixture *f)
{
	int r = hostdev_vfio_bind(f->ctx, NIC, NULL, 0);

	CHILD_CHECK(r == -EPERM);
	CHILD_CHECK(strstr(hostdev_ctx_get_error(f->ctx), "not a regular file"));
	return 0;
}

static void test_fifo_lock(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(mkfifo(abspath(f, LOCK), 0600), 0);
	assert_int_equal(run_child(f, child_bind_nic_lock_fifo), 0);
	assert_int_equal(sysfs_writes(f), 0);
}

static char fifo_attr[4096];

static int child_bind_nic_attr_fifo(struct fixture *f)
{
	int r = hostdev_vfio_bind(f->ctx, NIC, NULL, 0);

	CHILD_CHECK(r == -EINVAL);
	CHILD_CHECK(strstr(hostdev_ctx_get_error(f->ctx), fifo_attr));
	CHILD_CHECK(strstr(hostdev_ctx_get_error(f->ctx), "not a regular file"));
	return 0;
}

static void test_fifo_sysfs_attribute(void **state)
{
	struct fixture *f = *state;
	char rel[4096];

	/* The store goes through the bus link; the FIFO replaces the attribute it points at. */
	snprintf(rel, sizeof(rel), "sys/bus/pci/devices/%s/driver_override", NIC);
	snprintf(fifo_attr, sizeof(fifo_attr), "%s", abspath(f, rel));
	snprintf(rel, sizeof(rel), "%s/driver_override", fakeroot_pci_dir(f->root, NIC));
	assert_int_equal(unlink(abspath(f, rel)), 0);
	assert_int_equal(mkfifo(abspath(f, rel), 0600), 0);
	assert_int_equal(run_child(f, child_bind_nic_attr_fifo), 0);
	assert_string_equal(vfio_tree_driver(f->root, NIC), "e1000e");
}

static int child_unbind_watchdog(struct fixture *f)
{
	struct hostdev_vfio_options opts = HOSTDEV_VFIO_OPTIONS_INIT;
	char path[4096];
	int r;

	/*
	 * e1000e's unbind blocks for 10 minutes (a driver waiting for hardware); every other store
	 * has 10 s, plenty even under valgrind. The blocked worker dies with this child.
	 */
	setenv(KMODEL_ENV_DELAY, "unbind:" NIC ":600000", 1);
	opts.timeout_ms = 10000;
	r = hostdev_vfio_bind(f->ctx, NIC, &opts, 0);
	CHILD_CHECK(r == -ETIMEDOUT);
	snprintf(path, sizeof(path), "%s/bus/pci/drivers/e1000e/unbind", fakeroot_sysfs(f->root));
	CHILD_CHECK(strstr(hostdev_ctx_get_error(f->ctx), path));
	return 0;
}

static void test_store_watchdog(void **state)
{
	struct fixture *f = *state;

	assert_int_equal(run_child(f, child_unbind_watchdog), 0);
	assert_int_equal(kmodel_log_count(f->root, " DELAY " NIC " unbind"), 1);
}

/* --- the lock ----------------------------------------------------------------------------------
 */

/*
 * Start a child that binds VIRTIO and then holds the vfio lock while it waits for a probe that
 * never finishes (the model stalls it), and wait until it is there: its probe store is in the
 * model's log.
 */
static void start_lock_holder(struct fixture *f)
{
	int64_t waited = 0;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	assert_true(pid >= 0);
	if (pid == 0) {
		struct hostdev_vfio_options opts = HOSTDEV_VFIO_OPTIONS_INIT;

		setenv(KMODEL_ENV_STALL, VIRTIO, 1);
		/* Holds the lock until killed: the test (or its teardown) kills it. */
		opts.timeout_ms = 10 * CHILD_DEADLINE_MS;
		hostdev_vfio_bind(f->ctx, VIRTIO, &opts, 0);
		_exit(0);
	}
	f->holder = pid;
	while (kmodel_log_count(f->root, " probe " VIRTIO) == 0) {
		struct timespec ts = {0, 10 * 1000 * 1000};

		assert_true(waited < CHILD_DEADLINE_MS);
		assert_int_equal(waitpid(pid, NULL, WNOHANG), 0);
		nanosleep(&ts, NULL);
		waited += 10;
	}
}

static bool lock_is_held(struct fixture *f)
{
	int fd = open(abspath(f, LOCK), O_RDWR | O_CLOEXEC);
	bool held;

	assert_true(fd >= 0);
	held = flock(fd, LOCK_EX | LOCK_NB) < 0 && errno == EWOULDBLOCK;
	close(fd);
	return held;
}

static void keep_log(int priority, const char *message, void *userdata)
{
	struct fixture *f = userdata;

	(void)priority;
	snprintf(f->log + strlen(f->log), sizeof(f->log) - strlen(f->log), "%s\n", message);
}

/* On the notice that we wait for the lock, the holder dies (and the lock is released). */
static void kill_holder_on_wait(int priority, const char *message, void *userdata)
{
	struct fixture *f = userdata;

	keep_log(priority, message, userdata);
	if (strstr(message, "waiting for the vfio lock") && f->holder > 0)
		kill(f->holder, SIGKILL);
}

static void test_lock_wait_is_bounded_and_told(void **state)
{
	struct fixture *f = *state;
	struct hostdev_vfio_options opts = HOSTDEV_VFIO_OPTIONS_INIT;
	hostdev_vfio_journal *j = NULL;
	char pid_text[64];

	start_lock_holder(f);
	snprintf(pid_text, sizeof(pid_text), "held by pid %d", (int)f->holder);

	/* Reading takes no lock: it answers while the holder is still there. */
	assert_int_equal(hostdev_vfio_journal_read(f->ctx, &j), 0);
	assert_int_equal(hostdev_vfio_journal_get_count(j), 1);
	assert_string_equal(hostdev_vfio_journal_get_address(j, 0), VIRTIO);
	hostdev_vfio_journal_unref(j);
	assert_true(lock_is_held(f));

	/* A writer waits, says for whom, and gives up after its lock timeout. */
	hostdev_ctx_set_log_fn(f->ctx, keep_log, f);
	hostdev_ctx_set_log_priority(f->ctx, HOSTDEV_LOG_NOTICE);
	opts.lock_timeout_ms = 200;
	assert_int_equal(hostdev_vfio_bind(f->ctx, NIC, &opts, 0), -ETIMEDOUT);
	assert_true(contains(hostdev_ctx_get_error(f->ctx), pid_text));
	assert_true(contains(hostdev_ctx_get_error(f->ctx), abspath(f, LOCK)));
	assert_true(contains(f->log, "waiting for the vfio lock"));
	assert_true(contains(f->log, pid_text));
	assert_int_equal(sysfs_writes(f) - kmodel_log_count(f->root, VIRTIO), 0);
	assert_true(lock_is_held(f));

	/* With the default timeout it waits, and goes on once the holder is gone. */
	f->log[0] = '\0';
	hostdev_ctx_set_log_fn(f->ctx, kill_holder_on_wait, f);
	assert_int_equal(hostdev_vfio_bind(f->ctx, NIC, NULL, 0), 1);
	assert_true(contains(f->log, pid_text));
	assert_int_equal(waitpid(f->holder, NULL, 0), f->holder);
	f->holder = 0;
	assert_string_equal(vfio_tree_driver(f->root, NIC), "vfio-pci");
	/* The killed bind left an incomplete record: restore brings both back. */
	assert_int_equal(hostdev_vfio_restore_all(f->ctx, NULL, 0), 2);
	assert_string_equal(vfio_tree_driver(f->root, VIRTIO), "virtio-pci");
	assert_string_equal(vfio_tree_driver(f->root, NIC), "e1000e");
}

/* An SR-IOV change waits for the same lock, with its own timeout. */
static void test_lock_timeout_sriov(void **state)
{
	struct fixture *f = *state;
	struct hostdev_sriov_options opts = HOSTDEV_SRIOV_OPTIONS_INIT;

	start_lock_holder(f);
	opts.lock_timeout_ms = 200;
	assert_int_equal(hostdev_sriov_set_num_vfs(f->ctx, NIC, 0, &opts, 0), -ETIMEDOUT);
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "vfio lock"));
}

/* A caller built against version 1 of the options: its shorter struct is neither read past nor
 * written past. */
static void test_options_version_1(void **state)
{
	struct fixture *f = *state;
	struct {
		struct hostdev_vfio_options opts;
		unsigned char guard[16];
	} v1;

	memset(&v1, 0xa5, sizeof(v1));
	assert_int_equal(hostdev_vfio_options_init(&v1.opts, 1), 0);
	/* lock_timeout_ms lies beyond a version-1 struct: untouched, and never read */
	assert_int_equal(v1.opts.lock_timeout_ms, 0xa5a5a5a5u);
	assert_int_equal(v1.opts.version, 1);
	assert_int_equal(hostdev_vfio_bind(f->ctx, NIC, &v1.opts, 0), 1);
	assert_int_equal(hostdev_vfio_restore_all(f->ctx, &v1.opts, 0), 1);
}

static void test_owner_length(void **state)
{
	struct fixture *f = *state;
	struct hostdev_vfio_options opts = HOSTDEV_VFIO_OPTIONS_INIT;
	char owner[HOSTDEV_VFIO_OWNER_MAX + 2];

	memset(owner, 'o', sizeof(owner));
	owner[HOSTDEV_VFIO_OWNER_MAX + 1] = '\0';
	opts.owner = owner;
	assert_int_equal(hostdev_vfio_bind(f->ctx, NIC, &opts, 0), -EINVAL);
	assert_true(contains(hostdev_ctx_get_error(f->ctx), "1024 bytes"));
	assert_int_equal(sysfs_writes(f), 0);
	owner[HOSTDEV_VFIO_OWNER_MAX] = '\0';
	assert_int_equal(hostdev_vfio_bind(f->ctx, NIC, &opts, 0), 1);
	assert_int_equal(hostdev_vfio_restore(f->ctx, NIC, NULL, 0), 1);
}

/* --- stale records and batches -----------------------------------------------------------------
 */

/* @n records of devices that do not exist (0000:a0:00.0 ...). */
static void write_stale_journal(struct fixture *f, int n, const char *extra)
{
	char *records = NULL;

	for (int i = 0; i < n; i++) {
		char addr[32];

		snprintf(addr, sizeof(addr), "0000:%02x:%02x.%d", 0xa0 + i / 256, (i / 8) % 32,
			 i % 8);
		add_record(&records, addr, "ixgbevf", NULL, true);
	}
	if (extra) {
		char *joined;

		assert_true(asprintf(&joined, "%s%s%s", records ? records : "", records ? "," : "",
				     extra) > 0);
		free(records);
		records = joined;
	}
	write_journal(f, records);
	free(records);
}

/* The report's case: 300 stale records were all deleted without a word. */
static void test_stale_records_kept(void **state)
{
	struct fixture *f = *state;

	write_stale_journal(f, 300, NULL);
	assert_int_equal(hostdev_vfio_restore_all(f->ctx, NULL, 0), 0);
	assert_int_equal(vfio_tree_journal_count(f->ctx), 300);
	assert_int_equal(journal_rewrites(f), 0);
	assert_int_equal(sysfs_writes(f), 0);
}

/* One journal rewrite for the whole restore, however many records. */
static void test_restore_all_one_rewrite(void **state)
{
	struct fixture *f = *state;
	const char *set[] = {NIC, VIRTIO, SPARE};
	char *text, *records;
	size_t len;

	assert_int_equal(hostdev_vfio_bind_set(f->ctx, set, 3, NULL, 0), 3);
	/* splice the three real records behind 300 stale ones */
	text = NULL;
	{
		FILE *fp = fopen(abspath(f, JOURNAL), "re");

		assert_non_null(fp);
		text = calloc(1, 1 << 20);
		len = fread(text, 1, (1 << 20) - 1, fp);
		fclose(fp);
		assert_true(len > 0);
	}
	records = strchr(text, '[') + 1;
	*strrchr(records, ']') = '\0';
	write_stale_journal(f, 300, records);
	free(text);
	assert_int_equal(fakeroot_remove(f->root, ".kmodel/log"), 0);

	assert_int_equal(hostdev_vfio_restore_all(f->ctx, NULL, 0), 3);
	assert_string_equal(vfio_tree_driver(f->root, NIC), "e1000e");
	assert_string_equal(vfio_tree_driver(f->root, VIRTIO), "virtio-pci");
	assert_int_equal(journal_rewrites(f), 1);
	assert_int_equal(vfio_tree_journal_count(f->ctx), 300);
}

/* With HOSTDEV_RESTORE_FORGET_GONE the stale records go, in one rewrite, and each says so. */
static void test_forget_gone_one_rewrite(void **state)
{
	struct fixture *f = *state;
	hostdev_vfio_result *res = NULL;

	write_stale_journal(f, 300, NULL);
	assert_int_equal(
	    hostdev_vfio_restore_with_result(
		f->ctx, NULL, 0, NULL, HOSTDEV_RESTORE_ALL | HOSTDEV_RESTORE_FORGET_GONE, &res),
	    0);
	assert_int_equal(hostdev_vfio_result_get_count(res), 300);
	assert_int_equal(hostdev_vfio_result_count_outcome(res, HOSTDEV_VFIO_OUTCOME_GONE), 300);
	for (size_t i = 0; i < 300; i++) {
		assert_int_equal(hostdev_vfio_result_has_record(res, i), 0);
		assert_true(contains(hostdev_vfio_result_get_message(res, i), "record dropped"));
	}
	hostdev_vfio_result_unref(res);
	assert_int_equal(vfio_tree_journal_count(f->ctx), 0);
	assert_int_equal(journal_rewrites(f), 1);
	assert_int_equal(kmodel_log_count(f->root, " FSYNC "), 2); /* the file and its directory */
}

/* Every way a record can end, reported per device, and the records kept say so. */
static void test_restore_result_outcomes(void **state)
{
	struct fixture *f = *state;
	const char *set[] = {NIC, VIRTIO, SPARE, NVME};
	hostdev_vfio_result *res = NULL;
	char *json = NULL;
	int outcome[4] = {-1, -1, -1, -1};

	/* NVME holds / (guarded): forced */
	assert_int_equal(hostdev_vfio_bind_set(f->ctx, set, 4, NULL, HOSTDEV_BIND_FORCE), 4);
	kmodel_disable();
	/* VIRTIO went back to virtio-pci behind our back: already restored */
	assert_int_equal(fakeroot_pci_set_driver(f->root, VIRTIO, "virtio-pci"), 0);
	assert_int_equal(fakeroot_pci_set_attr(f->root, VIRTIO, "driver_override", "(null)\n"), 0);
	/* NVME was taken by a third driver */
	assert_int_equal(fakeroot_pci_set_driver(f->root, NVME, "pci-stub"), 0);
	/* SPARE was hot-unplugged */
	assert_int_equal(fakeroot_pci_remove(f->root, SPARE, 0), 0);
	assert_int_equal(kmodel_enable(f->root), 0);

	assert_int_equal(
	    hostdev_vfio_restore_with_result(f->ctx, NULL, 0, NULL, HOSTDEV_RESTORE_ALL, &res), 1);
	assert_int_equal(hostdev_vfio_result_get_count(res), 4);
	for (size_t i = 0; i < 4; i++) {
		const char *addr = hostdev_vfio_result_get_address(res, i);

		for (size_t k = 0; k < 4; k++)
			if (strcmp(addr, set[k]) == 0)
				outcome[k] = hostdev_vfio_result_get_outcome(res, i);
	}
	assert_int_equal(outcome[0], HOSTDEV_VFIO_OUTCOME_RESTORED);
	assert_int_equal(outcome[1], HOSTDEV_VFIO_OUTCOME_ALREADY);
	assert_int_equal(outcome[2], HOSTDEV_VFIO_OUTCOME_GONE);
	assert_int_equal(outcome[3], HOSTDEV_VFIO_OUTCOME_OTHER_DRIVER);
	/* newest first: NVME, SPARE, VIRTIO, NIC */
	assert_string_equal(hostdev_vfio_result_get_address(res, 0), NVME);
	assert_string_equal(hostdev_vfio_result_get_driver(res, 0), "pci-stub");
	assert_int_equal(hostdev_vfio_result_has_record(res, 0), 0);
	assert_true(contains(hostdev_vfio_result_get_message(res, 0), "not counted as restored"));
	assert_string_equal(hostdev_vfio_result_get_address(res, 1), SPARE);
	assert_null(hostdev_vfio_result_get_driver(res, 1));
	assert_int_equal(hostdev_vfio_result_has_record(res, 1), 1);
	assert_true(contains(hostdev_vfio_result_get_message(res, 1), "record kept"));
	assert_string_equal(hostdev_vfio_result_get_driver(res, 2), "virtio-pci");
	assert_int_equal(hostdev_vfio_result_has_record(res, 2), 0);
	assert_string_equal(hostdev_vfio_result_get_driver(res, 3), "e1000e");
	assert_true(contains(hostdev_vfio_result_get_message(res, 3), "restored to e1000e"));
	assert_int_equal(hostdev_vfio_result_to_json(res, 0, &json), 0);
	assert_true(contains(json, "{\"address\":\"0000:06:00.0\",\"outcome\":\"gone\","
				   "\"driver\":null,\"record_kept\":true,"));
	assert_true(contains(json, "\"outcome\":\"other-driver\""));
	hostdev_free(json);
	assert_int_equal(hostdev_vfio_result_get_outcome(res, 4), -EINVAL);
	assert_null(hostdev_vfio_result_get_address(res, 4));
	assert_ptr_equal(hostdev_vfio_result_ref(res), res);
	hostdev_vfio_result_unref(res);
	assert_null(hostdev_vfio_result_unref(res));
	assert_null(hostdev_vfio_result_unref(NULL));
	assert_string_equal(hostdev_vfio_outcome_name(HOSTDEV_VFIO_OUTCOME_NOT_BOUND), "not-bound");
	assert_null(hostdev_vfio_outcome_name(99));
	assert_int_equal(vfio_tree_journal_count(f->ctx), 1); /* SPARE's */
	/* A device without a record and off vfio-pci, and bad arguments. */
	assert_int_equal(hostdev_vfio_restore_with_result(f->ctx, set, 1, NULL, 0, &res), 0);
	assert_int_equal(hostdev_vfio_result_get_outcome(res, 0), HOSTDEV_VFIO_OUTCOME_NOT_BOUND);
	hostdev_vfio_result_unref(res);
	assert_int_equal(
	    hostdev_vfio_restore_with_result(f->ctx, set, 1, NULL, HOSTDEV_RESTORE_ALL, &res),
	    -EINVAL);
	assert_null(res);
}

/* A bind interrupted after driver_override: off vfio-pci, but with our override. */
static void test_restore_takes_back_our_override(void **state)
{
	struct fixture *f = *state;
	char *records = NULL;
	hostdev_vfio_result *res = NULL;

	add_record(&records, NIC, "e1000e", NULL, false);
	add_record(&records, MGMT, "igb", NULL, false);
	write_journal(f, records);
	free(records);
	kmodel_disable();
	assert_int_equal(fakeroot_pci_set_attr(f->root, NIC, "driver_override", "vfio-pci\n"), 0);
	assert_int_equal(fakeroot_pci_set_attr(f->root, MGMT, "driver_override", "vfio-pci\n"), 0);
	assert_int_equal(kmodel_enable(f->root), 0);
	assert_int_equal(
	    hostdev_vfio_restore_with_result(f->ctx, NULL, 0, NULL, HOSTDEV_RESTORE_ALL, &res), 0);
	assert_int_equal(hostdev_vfio_result_count_outcome(res, HOSTDEV_VFIO_OUTCOME_ALREADY), 2);
	assert_true(contains(hostdev_vfio_result_get_message(res, 0), "host-critical"));
	hostdev_vfio_result_unref(res);
	assert_string_equal(vfio_tree_override(f->root, NIC), "(null)");
	assert_string_equal(vfio_tree_override(f->root, MGMT), "(null)");
	/* only the two override stores, no unbind or bind */
	assert_int_equal(sysfs_writes(f), 2);
	assert_int_equal(vfio_tree_journal_count(f->ctx), 0);
}

int main(void)
{
#define T(name) cmocka_unit_test_setup_teardown(name, setup, teardown)
	const struct CMUnitTest tests[] = {
	    T(test_state_dir_owned_by_other_user),
	    T(test_state_dir_writable_by_others),
	    T(test_state_dir_symlink),
	    T(test_journal_owned_by_other_user),
	    T(test_lock_owned_by_other_user),
	    T(test_restore_never_binds_vfio),
	    T(test_restore_guarded_device_untouched),
	    T(test_fifo_journal),
	    T(test_fifo_lock),
	    T(test_fifo_sysfs_attribute),
	    T(test_store_watchdog),
	    T(test_lock_wait_is_bounded_and_told),
	    T(test_lock_timeout_sriov),
	    T(test_options_version_1),
	    T(test_owner_length),
	    T(test_stale_records_kept),
	    T(test_restore_all_one_rewrite),
	    T(test_forget_gone_one_rewrite),
	    T(test_restore_result_outcomes),
	    T(test_restore_takes_back_our_override),
	};
#undef T

	return cmocka_run_group_tests(tests, NULL, NULL);
}
