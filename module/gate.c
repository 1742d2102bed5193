#include <sched.h>
#include <time.h>

#include "module/gate.h"

struct hsmux_gate hsmux_gate;

#define CLOSE_WAIT_NS (5L * 1000 * 1000 * 1000)

void hsmux_gate_wait_open(void)
{
	while (atomic_load_explicit(&hsmux_gate.closed, memory_order_acquire))
		sched_yield();
}

static long elapsed_ns(const struct timespec *start)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - start->tv_sec) * 1000000000L + (now.tv_nsec - start->tv_nsec);
}

bool hsmux_gate_close(void)
{
	struct timespec start;

	atomic_store_explicit(&hsmux_gate.closed, true, memory_order_seq_cst);
	clock_gettime(CLOCK_MONOTONIC, &start);
	for (int i = 0; i < HSMUX_GATE_SHARDS; i++) {
		while (atomic_load_explicit(&hsmux_gate.shards[i].calls, memory_order_seq_cst)) {
			if (elapsed_ns(&start) > CLOSE_WAIT_NS)
				return false;
			sched_yield();
		}
	}
	return true;
}

void hsmux_gate_open(void)
{
	atomic_store_explicit(&hsmux_gate.closed, false, memory_order_release);
}
