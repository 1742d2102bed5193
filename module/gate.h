/*
 * The call gate: fork() waits until no thread is inside a backend.
 *
 * A backend such as SoftHSM holds its own mutexes while it works. If
 * fork() copied one of them locked, the child's C_Initialize would wait for
 * it forever. So every call into a backend passes this gate, and the
 * pthread_atfork prepare handler closes the gate and waits for the calls in
 * flight to leave. The counters are spread over cache lines by a key (the
 * backend session handle), so that threads on different sessions do not
 * share a written line.
 */
#ifndef HSMUX_GATE_H
#define HSMUX_GATE_H

#include <stdatomic.h>
#include <stdbool.h>

#define HSMUX_GATE_SHARDS 64

struct hsmux_gate_shard {
	_Atomic unsigned long calls;
	char pad[64 - sizeof(unsigned long)];
};

struct hsmux_gate {
	atomic_bool closed;
	struct hsmux_gate_shard shards[HSMUX_GATE_SHARDS];
};

extern struct hsmux_gate hsmux_gate;

/* Waits while a fork is under way; the slow path of hsmux_gate_enter(). */
void hsmux_gate_wait_open(void);

/* Enters the gate; returns the shard to hand to hsmux_gate_leave(). */
static inline struct hsmux_gate_shard *hsmux_gate_enter(unsigned long key)
{
	struct hsmux_gate_shard *g = &hsmux_gate.shards[key % HSMUX_GATE_SHARDS];

	for (;;) {
		atomic_fetch_add_explicit(&g->calls, 1, memory_order_seq_cst);
		if (!atomic_load_explicit(&hsmux_gate.closed, memory_order_seq_cst))
			return g;
		atomic_fetch_sub_explicit(&g->calls, 1, memory_order_release);
		hsmux_gate_wait_open();
	}
}

static inline void hsmux_gate_leave(struct hsmux_gate_shard *g)
{
	atomic_fetch_sub_explicit(&g->calls, 1, memory_order_release);
}

/*
 * Closes the gate and waits for the calls in flight, for at most a few
 * seconds: a backend that forks from inside a call must not hang itself.
 * Returns false when it gave up waiting.
 */
bool hsmux_gate_close(void);
void hsmux_gate_open(void);

#endif /* HSMUX_GATE_H */
