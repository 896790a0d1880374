/* SPDX-License-Identifier: Apache-2.0 */
/*
 * Prometheus metrics. The loop thread updates them and libmicrohttpd's thread renders them, so
 * every access holds one mutex (updates are a handful per API request: no contention worth
 * more). Names follow Prometheus conventions (_total counters, _seconds histograms).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"

#define MAX_SERIES 64

struct series {
	char labels[96];
	double value;
};

struct family {
	struct series s[MAX_SERIES];
	size_t n;
};

static const double latency_buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
					 0.5,	1,    2.5,   5,	   10,	30};
#define N_BUCKETS (sizeof(latency_buckets) / sizeof(latency_buckets[0]))

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
	struct family requests, writes, objects, watch_restarts, watch_gone, bookmarks, hotplug,
	    errors, claims, claim_ops, claim_op_seconds, device_reads;
	double request_seconds_sum;
	unsigned long request_count;
	unsigned long latency_counts[N_BUCKETS + 1];
	double latency_sum;
	unsigned long latency_n;
	unsigned long resyncs;
	double last_resync_seconds;
	bool ready;
	char not_ready_why[256];
	double heartbeat;
	double started;
} m;

static void family_set(struct family *f, const char *labels, double value, bool add)
{
	for (size_t i = 0; i < f->n; i++)
		if (strcmp(f->s[i].labels, labels) == 0) {
			f->s[i].value = add ? f->s[i].value + value : value;
			return;
		}
	if (f->n == MAX_SERIES)
		return; /* bounded label sets: verbs x codes, kinds, actions */
	snprintf(f->s[f->n].labels, sizeof(f->s[f->n].labels), "%s", labels);
	f->s[f->n++].value = value;
}

void metrics_init(void)
{
	pthread_mutex_lock(&lock);
	m.started = loop_now_s();
	m.heartbeat = m.started;
	snprintf(m.not_ready_why, sizeof(m.not_ready_why), "starting");
	pthread_mutex_unlock(&lock);
}

void metrics_api_request(const char *verb, long code, double seconds)
{
	char labels[96];

	snprintf(labels, sizeof(labels), "verb=\"%s\",code=\"%ld\"", verb, code);
	pthread_mutex_lock(&lock);
	family_set(&m.requests, labels, 1, true);
	m.request_seconds_sum += seconds;
	m.request_count++;
	pthread_mutex_unlock(&lock);
}

void metrics_write(enum agent_kind kind, const char *op)
{
	char labels[96];

	snprintf(labels, sizeof(labels), "kind=\"%s\",op=\"%s\"", agent_kinds[kind].kind, op);
	pthread_mutex_lock(&lock);
	family_set(&m.writes, labels, 1, true);
	pthread_mutex_unlock(&lock);
}

void metrics_objects(enum agent_kind kind, size_t published)
{
	char labels[96];

	snprintf(labels, sizeof(labels), "kind=\"%s\"", agent_kinds[kind].kind);
	pthread_mutex_lock(&lock);
	family_set(&m.objects, labels, (double)published, false);
	pthread_mutex_unlock(&lock);
}

void metrics_watch(enum agent_kind kind, unsigned long restarts, unsigned long gone,
		   unsigned long bookmarks)
{
	char labels[96];

	snprintf(labels, sizeof(labels), "kind=\"%s\"", agent_kinds[kind].kind);
	pthread_mutex_lock(&lock);
	family_set(&m.watch_restarts, labels, (double)restarts, false);
	family_set(&m.watch_gone, labels, (double)gone, false);
	family_set(&m.bookmarks, labels, (double)bookmarks, false);
	pthread_mutex_unlock(&lock);
}

void metrics_reconcile_latency(double seconds)
{
	size_t i = 0;

	while (i < N_BUCKETS && seconds > latency_buckets[i])
		i++;
	pthread_mutex_lock(&lock);
	m.latency_counts[i]++;
	m.latency_sum += seconds;
	m.latency_n++;
	pthread_mutex_unlock(&lock);
}

void metrics_hotplug(const char *subsystem, const char *action)
{
	char labels[96];

	snprintf(labels, sizeof(labels), "subsystem=\"%s\",action=\"%s\"", subsystem, action);
	pthread_mutex_lock(&lock);
	family_set(&m.hotplug, labels, 1, true);
	pthread_mutex_unlock(&lock);
}

void metrics_device_reads(const char *why, unsigned long n)
{
	char labels[96];

	snprintf(labels, sizeof(labels), "why=\"%s\"", why);
	pthread_mutex_lock(&lock);
	family_set(&m.device_reads, labels, (double)n, true);
	pthread_mutex_unlock(&lock);
}

static void count_claim(const char *name, void *value, void *userdata)
{
	char labels[96];

	snprintf(labels, sizeof(labels), "reason=\"%s\"", (const char *)value);
	family_set(userdata, labels, 1, true);
}

void metrics_claims(const struct strmap *reasons)
{
	pthread_mutex_lock(&lock);
	/* Reasons no claim has any more stay at 0 (a series does not vanish under a scraper). */
	for (size_t i = 0; i < m.claims.n; i++)
		m.claims.s[i].value = 0;
	if (reasons)
		strmap_foreach(reasons, count_claim, &m.claims);
	pthread_mutex_unlock(&lock);
}

void metrics_claim_operation(const char *op, bool ok, double seconds)
{
	char labels[96];

	snprintf(labels, sizeof(labels), "op=\"%s\",result=\"%s\"", op, ok ? "ok" : "error");
	pthread_mutex_lock(&lock);
	family_set(&m.claim_ops, labels, 1, true);
	snprintf(labels, sizeof(labels), "op=\"%s\"", op);
	family_set(&m.claim_op_seconds, labels, seconds, true);
	pthread_mutex_unlock(&lock);
}

void metrics_resync(double seconds)
{
	pthread_mutex_lock(&lock);
	m.resyncs++;
	m.last_resync_seconds = seconds;
	pthread_mutex_unlock(&lock);
}

void metrics_error(const char *what)
{
	char labels[96];

	snprintf(labels, sizeof(labels), "what=\"%s\"", what);
	pthread_mutex_lock(&lock);
	family_set(&m.errors, labels, 1, true);
	pthread_mutex_unlock(&lock);
}

void metrics_set_ready(bool ready, const char *why)
{
	pthread_mutex_lock(&lock);
	m.ready = ready;
	snprintf(m.not_ready_why, sizeof(m.not_ready_why), "%s", why ? why : "");
	pthread_mutex_unlock(&lock);
}

bool metrics_ready(char *why, size_t size)
{
	bool ready;

	pthread_mutex_lock(&lock);
	ready = m.ready;
	snprintf(why, size, "%s", m.not_ready_why);
	pthread_mutex_unlock(&lock);
	return ready;
}

void metrics_heartbeat(void)
{
	pthread_mutex_lock(&lock);
	m.heartbeat = loop_now_s();
	pthread_mutex_unlock(&lock);
}

/* A beat older than this is refreshed before a probe is answered; the wait for the loop's answer. */
#define REFRESH_AFTER_S 5.0
#define REFRESH_WAIT_MS 2000
#define REFRESH_POLL_MS 5

static int poke_fd = -1;

void metrics_set_poke_fd(int fd)
{
	pthread_mutex_lock(&lock);
	poke_fd = fd;
	pthread_mutex_unlock(&lock);
}

void metrics_refresh(void)
{
	uint64_t one = 1;
	double asked;
	int fd;

	pthread_mutex_lock(&lock);
	fd = poke_fd;
	asked = loop_now_s();
	if (fd < 0 || asked - m.heartbeat < REFRESH_AFTER_S) {
		pthread_mutex_unlock(&lock);
		return;
	}
	pthread_mutex_unlock(&lock);
	if (write(fd, &one, sizeof(one)) < 0) {
		/* full counter: a poke is pending already */
	}
	for (int waited = 0; waited < REFRESH_WAIT_MS; waited += REFRESH_POLL_MS) {
		bool answered;

		pthread_mutex_lock(&lock);
		answered = m.heartbeat >= asked;
		pthread_mutex_unlock(&lock);
		if (answered)
			return;
		/* A stuck loop does not answer: the probe then judges by the age it sees. */
		nanosleep(&(struct timespec){0, REFRESH_POLL_MS * 1000000L}, NULL);
	}
}

double metrics_heartbeat_age(void)
{
	double age;

	pthread_mutex_lock(&lock);
	age = loop_now_s() - m.heartbeat;
	pthread_mutex_unlock(&lock);
	return age;
}

struct out {
	char *buf;
	size_t len;
	FILE *f;
};

static void family_print(FILE *f, const char *name, const char *type, const char *help,
			 const struct family *fam)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
	for (size_t i = 0; i < fam->n; i++)
		fprintf(f, "%s{%s} %.17g\n", name, fam->s[i].labels, fam->s[i].value);
}

/* RSS and CPU of this process from /proc (for the scale benchmark's per-agent figures). */
static void process_print(FILE *f)
{
	unsigned long utime = 0, stime = 0;
	long pages = 0, ticks = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	char buf[1024];
	FILE *p = fopen("/proc/self/stat", "re");

	if (p && fgets(buf, sizeof(buf), p)) {
		const char *rest = strrchr(buf, ')');

		if (rest)
			sscanf(rest + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu",
			       &utime, &stime);
	}
	if (p)
		fclose(p);
	p = fopen("/proc/self/statm", "re");
	if (p && fscanf(p, "%*s %ld", &pages) != 1)
		pages = 0;
	if (p)
		fclose(p);
	fprintf(f,
		"# HELP process_cpu_seconds_total User and system CPU time.\n"
		"# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %.2f\n",
		(double)(utime + stime) / (double)(ticks > 0 ? ticks : 100));
	fprintf(f,
		"# HELP process_resident_memory_bytes Resident set size.\n"
		"# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %ld\n",
		pages * page);
}

char *metrics_render(void)
{
	struct out o = {0};
	unsigned long cumulative = 0;

	o.f = open_memstream(&o.buf, &o.len);
	if (!o.f)
		return NULL;
	pthread_mutex_lock(&lock);
	family_print(o.f, "hostdev_agent_objects", "gauge",
		     "Objects of this node on the API server, by kind.", &m.objects);
	family_print(o.f, "hostdev_agent_api_requests_total", "counter",
		     "API requests by verb and HTTP code (0: the server was not reached).",
		     &m.requests);
	fprintf(o.f,
		"# HELP hostdev_agent_api_request_seconds Time of API requests (watches: their "
		"whole life).\n# TYPE hostdev_agent_api_request_seconds summary\n"
		"hostdev_agent_api_request_seconds_sum %.6f\n"
		"hostdev_agent_api_request_seconds_count %lu\n",
		m.request_seconds_sum, m.request_count);
	family_print(o.f, "hostdev_agent_writes_total", "counter",
		     "Writes to the API server by kind and operation (create, update, "
		     "patch_status, delete).",
		     &m.writes);
	family_print(o.f, "hostdev_agent_watch_restarts_total", "counter",
		     "Watches re-established (server timeouts, errors, relists).",
		     &m.watch_restarts);
	family_print(o.f, "hostdev_agent_watch_gone_total", "counter",
		     "Watches answered with 410 Gone (followed by a relist).", &m.watch_gone);
	family_print(o.f, "hostdev_agent_watch_bookmarks_total", "counter",
		     "Bookmark events received.", &m.bookmarks);
	family_print(o.f, "hostdev_agent_hotplug_events_total", "counter",
		     "Hot-plug events from the library's monitor.", &m.hotplug);
	family_print(o.f, "hostdev_agent_device_reads_total", "counter",
		     "Devices read from sysfs, by why: inventory (every device: the start, a "
		     "resync), event (the devices a hot-plug event names and those whose objects "
		     "name them), dra_judgement (a dry-run bind deciding a DRA offer).",
		     &m.device_reads);
	family_print(o.f, "hostdev_agent_claims", "gauge",
		     "This node's PCIDeviceClaims by the reason of their Bound condition.",
		     &m.claims);
	family_print(o.f, "hostdev_agent_claim_operations_total", "counter",
		     "Binds and restores of claimed devices through the vfio journal, by result.",
		     &m.claim_ops);
	family_print(o.f, "hostdev_agent_claim_operation_seconds_total", "counter",
		     "Time spent in binds and restores of claimed devices (on the worker thread).",
		     &m.claim_op_seconds);
	family_print(o.f, "hostdev_agent_errors_total", "counter",
		     "Failures by what failed (write, list, watch, inventory).", &m.errors);
	fprintf(o.f,
		"# HELP hostdev_agent_reconcile_seconds Time from a change (device event, watch "
		"event, resync) until the object matched on the server.\n"
		"# TYPE hostdev_agent_reconcile_seconds histogram\n");
	for (size_t i = 0; i < N_BUCKETS; i++) {
		cumulative += m.latency_counts[i];
		fprintf(o.f, "hostdev_agent_reconcile_seconds_bucket{le=\"%g\"} %lu\n",
			latency_buckets[i], cumulative);
	}
	cumulative += m.latency_counts[N_BUCKETS];
	fprintf(o.f,
		"hostdev_agent_reconcile_seconds_bucket{le=\"+Inf\"} %lu\n"
		"hostdev_agent_reconcile_seconds_sum %.6f\n"
		"hostdev_agent_reconcile_seconds_count %lu\n",
		cumulative, m.latency_sum, m.latency_n);
	fprintf(o.f,
		"# HELP hostdev_agent_resyncs_total Full resyncs (the safety net).\n"
		"# TYPE hostdev_agent_resyncs_total counter\nhostdev_agent_resyncs_total %lu\n"
		"# HELP hostdev_agent_last_resync_seconds Time the last full inventory took.\n"
		"# TYPE hostdev_agent_last_resync_seconds gauge\n"
		"hostdev_agent_last_resync_seconds %.6f\n"
		"# HELP hostdev_agent_ready 1 once the first reconcile converged and while the API "
		"server is reachable.\n# TYPE hostdev_agent_ready gauge\nhostdev_agent_ready %d\n"
		"# HELP hostdev_agent_uptime_seconds Seconds since the agent started.\n"
		"# TYPE hostdev_agent_uptime_seconds gauge\nhostdev_agent_uptime_seconds %.3f\n",
		m.resyncs, m.last_resync_seconds, m.ready ? 1 : 0, loop_now_s() - m.started);
	pthread_mutex_unlock(&lock);
	process_print(o.f);
	fclose(o.f);
	return o.buf;
}
