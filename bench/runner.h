/*
 * The timed comparison: every operation at every thread count, module A
 * and module B in turn, for a number of rounds.
 */
#ifndef HSMUX_BENCH_RUNNER_H
#define HSMUX_BENCH_RUNNER_H

#include "bench.h"

#define BENCH_MAX_THREADS 16
#define BENCH_MAX_ROUNDS  1000

struct bench_plan {
	const struct bench_op *ops[16];
	size_t n_ops;
	unsigned int threads[8];
	size_t n_threads;
	unsigned int rounds;
	double duration; /* seconds per module, operation and thread count in each round */
};

/* Totals for one operation at one thread count. */
struct bench_cell {
	unsigned long long count[2]; /* operations done by A and by B */
	double seconds[2];
	double round_rate[2][BENCH_MAX_ROUNDS]; /* ops/s of A and B in each round */
};

struct bench_result {
	struct bench_cell cells[16][8]; /* [op][thread count], in plan order */
};

/*
 * Runs every operation a few times in every session of both modules, so
 * that first-call costs stay out of the timing and a failing operation
 * stops the run before it starts. Prints a message and returns false on
 * failure.
 */
bool bench_warm_up(struct bench_module *mods[2], const struct bench_plan *plan);

/*
 * Measures the plan. In each round, each operation and thread count runs
 * for plan->duration on A, then on B; odd rounds run B first, so that
 * neither module always runs first. Returns false when an operation fails.
 */
bool bench_run(struct bench_module *mods[2], const struct bench_plan *plan,
               struct bench_result *result);

/* Prints the throughput, scaling and goal tables as Markdown. */
void bench_print(struct bench_module *mods[2], const struct bench_plan *plan,
                 const struct bench_result *result);

#endif /* HSMUX_BENCH_RUNNER_H */
