/* SPDX-License-Identifier: Apache-2.0 */
/*
 * The agent's worker thread (examples/agent/worker.c): items run off the loop's thread in the
 * order submitted, their done functions on the loop's thread; freeing the worker waits for the
 * item running and calls every other done function (cancelled) exactly once.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <unistd.h>

#include <cmocka.h>

#include "worker.h"

#define ITEMS 50

struct item {
	struct loop *loop;
	pthread_t ran_on, done_on;
	int order, done_order;
	int done_calls;
	bool cancelled;
	int gate;    /* >= 0: the work reads one byte from this pipe first */
	int started; /* >= 0: the work writes one byte to this pipe when it starts */
};

static int run_counter, done_counter;

static void work(void *userdata)
{
	struct item *it = userdata;
	char byte;

	if (it->started >= 0)
		assert_int_equal(write(it->started, "s", 1), 1);
	if (it->gate >= 0)
		assert_int_equal(read(it->gate, &byte, 1), 1);
	it->ran_on = pthread_self();
	it->order = __atomic_fetch_add(&run_counter, 1, __ATOMIC_SEQ_CST);
}

static void done(void *userdata, bool cancelled)
{
	struct item *it = userdata;

	it->done_on = pthread_self();
	it->done_calls++;
	it->cancelled = cancelled;
	it->done_order = done_counter++;
	if (!cancelled && it->done_order == ITEMS - 1)
		loop_quit(it->loop);
}

static void test_items_run_off_the_loop_in_order(void **state)
{
	static struct item items[ITEMS];
	struct loop *loop = NULL;
	struct worker *w = NULL;

	run_counter = done_counter = 0;
	assert_int_equal(loop_new(&loop), 0);
	assert_int_equal(worker_new(loop, &w), 0);
	for (int i = 0; i < ITEMS; i++) {
		items[i] = (struct item){.loop = loop, .gate = -1, .started = -1};
		assert_int_equal(worker_submit(w, work, done, &items[i]), 0);
	}
	assert_int_equal(worker_pending(w), ITEMS);
	assert_int_equal(loop_run(loop), 0);
	assert_int_equal(worker_pending(w), 0);
	for (int i = 0; i < ITEMS; i++) {
		assert_int_equal(items[i].order, i);
		assert_int_equal(items[i].done_order, i);
		assert_int_equal(items[i].done_calls, 1);
		assert_false(items[i].cancelled);
		assert_false(pthread_equal(items[i].ran_on, pthread_self()));
		assert_true(pthread_equal(items[i].done_on, pthread_self()));
	}
	worker_free(w);
	loop_free(loop);
}

static void test_free_waits_for_the_running_item_and_cancels_the_rest(void **state)
{
	struct item first, rest[5];
	struct loop *loop = NULL;
	struct worker *w = NULL;
	int gate[2], started[2];
	char byte;

	run_counter = done_counter = 0;
	assert_int_equal(pipe(gate), 0);
	assert_int_equal(pipe(started), 0);
	assert_int_equal(loop_new(&loop), 0);
	assert_int_equal(worker_new(loop, &w), 0);
	first = (struct item){.loop = loop, .gate = gate[0], .started = started[1], .order = -1};
	assert_int_equal(worker_submit(w, work, done, &first), 0);
	for (int i = 0; i < 5; i++) {
		rest[i] = (struct item){.loop = loop, .gate = -1, .started = -1, .order = -1};
		assert_int_equal(worker_submit(w, work, done, &rest[i]), 0);
	}
	/* The first item runs and blocks until the gate opens: free must wait for it. The others
	 * wait in the queue behind it. */
	assert_int_equal(read(started[0], &byte, 1), 1);
	assert_int_equal(write(gate[1], "x", 1), 1);
	worker_free(w);
	assert_int_equal(first.order, 0);
	assert_int_equal(first.done_calls, 1);
	assert_true(first.cancelled); /* ran, but its done could not run on the loop any more */
	for (int i = 0; i < 5; i++) {
		assert_int_equal(rest[i].done_calls, 1);
		assert_true(rest[i].cancelled);
		assert_true(pthread_equal(rest[i].done_on, pthread_self()));
	}
	loop_free(loop);
	close(gate[0]);
	close(gate[1]);
	close(started[0]);
	close(started[1]);
}

static void test_free_of_an_idle_worker(void **state)
{
	struct loop *loop = NULL;
	struct worker *w = NULL;

	assert_int_equal(loop_new(&loop), 0);
	assert_int_equal(worker_new(loop, &w), 0);
	worker_free(w);
	worker_free(NULL);
	loop_free(loop);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_items_run_off_the_loop_in_order),
	    cmocka_unit_test(test_free_waits_for_the_running_item_and_cancels_the_rest),
	    cmocka_unit_test(test_free_of_an_idle_worker),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
