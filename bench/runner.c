/*
 * The timed comparison of two modules. Each measurement starts its threads,
 * releases them together, sleeps for the duration, raises a stop flag and
 * counts the operations that the threads completed until they joined.
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "runner.h"

/* Aligned to a cache line, so that two threads never write to one line. */
struct thread_state {
	_Alignas(64) struct bench_worker worker;
	const struct bench_op *op;
	pthread_barrier_t *start;
	atomic_bool *stop;
	unsigned long long count;
	CK_RV rv;
};

static double now_seconds(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_seconds(double seconds)
{
	struct timespec ts = {
	    .tv_sec = (time_t)seconds,
	    .tv_nsec = (long)((seconds - (double)(time_t)seconds) * 1e9),
	};

	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

static void *thread_main(void *arg)
{
	struct thread_state *state = arg;
	unsigned long long count = 0;
	CK_RV rv = CKR_OK;

	pthread_barrier_wait(state->start);
	while (!atomic_load_explicit(state->stop, memory_order_relaxed)) {
		rv = state->op->run(&state->worker);
		if (rv != CKR_OK)
			break;
		count++;
	}
	state->count = count;
	state->rv = rv;
	return NULL;
}

/* Sets up worker for session number i of mod. */
static void worker_init(struct bench_worker *worker, const struct bench_module *mod, size_t i)
{
	worker->functions = mod->functions;
	worker->session = mod->sessions[i];
	worker->keys = &mod->keys;
}

/* One measurement: n_threads threads, each in its own session of mod. */
static bool measure(struct bench_module *mod, const struct bench_op *op, unsigned int n_threads,
                    double duration, unsigned long long *count, double *seconds)
{
	static struct thread_state states[BENCH_MAX_THREADS];
	pthread_t threads[BENCH_MAX_THREADS];
	pthread_barrier_t start;
	atomic_bool stop = false;
	unsigned int started = 0;
	double begin;
	bool ok = true;

	pthread_barrier_init(&start, NULL, n_threads + 1);
	for (unsigned int i = 0; i < n_threads; i++) {
		memset(&states[i], 0, sizeof(states[i]));
		worker_init(&states[i].worker, mod, i);
		states[i].op = op;
		states[i].start = &start;
		states[i].stop = &stop;
		if (pthread_create(&threads[i], NULL, thread_main, &states[i]) != 0) {
			fprintf(stderr, "hsmux-bench: cannot start thread %u\n", i + 1);
			/* Started threads wait at the barrier, so this failure is fatal. */
			return false;
		}
		started++;
	}

	pthread_barrier_wait(&start);
	begin = now_seconds();
	sleep_seconds(duration);
	atomic_store(&stop, true);
	*count = 0;
	for (unsigned int i = 0; i < started; i++) {
		pthread_join(threads[i], NULL);
		*count += states[i].count;
		if (states[i].rv != CKR_OK) {
			bench_report_rv(mod, op->description, states[i].rv);
			ok = false;
		}
	}
	*seconds = now_seconds() - begin;
	pthread_barrier_destroy(&start);
	return ok;
}

bool bench_warm_up(struct bench_module *mods[2], const struct bench_plan *plan)
{
	static struct bench_worker worker;
	CK_RV rv;

	for (size_t m = 0; m < 2; m++) {
		for (size_t s = 0; s < mods[m]->n_sessions; s++) {
			worker_init(&worker, mods[m], s);
			for (size_t o = 0; o < plan->n_ops; o++) {
				for (int i = 0; i < 3; i++) {
					rv = plan->ops[o]->run(&worker);
					if (rv == CKR_OK)
						continue;
					bench_report_rv(mods[m], plan->ops[o]->description, rv);
					return false;
				}
			}
		}
	}
	return true;
}

static void add_round(struct bench_cell *cell, unsigned int round, unsigned long long count[2],
                      double seconds[2])
{
	for (size_t m = 0; m < 2; m++) {
		cell->count[m] += count[m];
		cell->seconds[m] += seconds[m];
		cell->round_rate[m][round] = seconds[m] > 0 ? (double)count[m] / seconds[m] : 0;
	}
}

bool bench_run(struct bench_module *mods[2], const struct bench_plan *plan,
               struct bench_result *result)
{
	unsigned long long count[2];
	double seconds[2];

	memset(result, 0, sizeof(*result));
	for (unsigned int r = 0; r < plan->rounds; r++) {
		for (size_t o = 0; o < plan->n_ops; o++) {
			for (size_t t = 0; t < plan->n_threads; t++) {
				for (size_t k = 0; k < 2; k++) {
					size_t m = (r % 2 == 0) ? k : 1 - k;

					if (!measure(mods[m], plan->ops[o], plan->threads[t],
					             plan->duration, &count[m], &seconds[m]))
						return false;
				}
				add_round(&result->cells[o][t], r, count, seconds);
			}
		}
	}
	return true;
}
