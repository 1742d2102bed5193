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

#define HSMUX_CACHE_LINE 64

/* One counter a cache line: a shard may not share its line with a neighbour. */
struct hsmux_gate_shard {
	_Alignas(HSMUX_CACHE_LINE) _Atomic unsigned long calls;
};

/*
 * The flag that every call reads has a line of its own, which no call
 * writes. It comes after the shards, so that a shard's address is the
 * gate's address plus a shift of its index, one instruction less per call.
 */
struct hsmux_gate {
	struct hsmux_gate_shard shards[HSMUX_GATE_SHARDS];
	_Alignas(HSMUX_CACHE_LINE) atomic_bool closed;
};

_Static_assert(sizeof(struct hsmux_gate_shard) == HSMUX_CACHE_LINE, "one shard, one line");

extern struct hsmux_gate hsmux_gate;

/* Waits while a fork is under way; the slow path of hsmux_gate_enter(). */
void hsmux_gate_wait_open(void);

static inline struct hsmux_gate_shard *hsmux_gate_shard_of(unsigned long key)
{
	return &hsmux_gate.shards[key % HSMUX_GATE_SHARDS];
}

/*
 * Enters the gate through shard g, or returns false while a fork is under
 * way; the caller then waits with hsmux_gate_wait_open() and tries again.
 * Callers retry by calling themselves again, so that the fast path keeps
 * its arguments in registers.
 */
static inline bool hsmux_gate_try_enter(struct hsmux_gate_shard *g)
{
	atomic_fetch_add_explicit(&g->calls, 1, memory_order_seq_cst);
	if (__builtin_expect(!atomic_load_explicit(&hsmux_gate.closed, memory_order_seq_cst), 1))
		return true;
	atomic_fetch_sub_explicit(&g->calls, 1, memory_order_release);
	return false;
}

/* Enters the gate, waiting while a fork is under way; returns the shard to leave. */
static inline struct hsmux_gate_shard *hsmux_gate_enter(unsigned long key)
{
	struct hsmux_gate_shard *g = hsmux_gate_shard_of(key);

	while (!hsmux_gate_try_enter(g))
		hsmux_gate_wait_open();
	return g;
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
