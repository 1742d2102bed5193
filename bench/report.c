/*
 * The result tables, printed as Markdown so that BENCHMARKS.md can hold
 * them verbatim and bench/smoke.sh can parse them.
 */
#include <stdio.h>
#include <stdlib.h>

#include "runner.h"

/* Sign and encrypt throughput goal: A reaches at least this share of B. */
#define THROUGHPUT_GOAL 0.97
/* Scaling goal: A's gain from more threads is no worse than B's. */
#define SCALING_GOAL 1.00

/* A ratio of the whole run, with the median and quartiles of its single rounds. */
struct ratio {
	double total;
	double median, q1, q3;
};

static double cell_rate(const struct bench_cell *cell, size_t m)
{
	return cell->seconds[m] > 0 ? (double)cell->count[m] / cell->seconds[m] : 0;
}

static double divide(double a, double b)
{
	return b > 0 ? a / b : 0;
}

static int compare_doubles(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* Returns the p-quantile of n sorted values, interpolating between neighbours. */
static double quantile(const double *sorted, unsigned int n, double p)
{
	double position = p * (n - 1);
	unsigned int below = (unsigned int)position;

	if (below + 1 >= n)
		return sorted[n - 1];
	return sorted[below] + (position - below) * (sorted[below + 1] - sorted[below]);
}

/* Fills the median and quartiles from the per-round values; sorts values. */
static void round_stats(struct ratio *ratio, double *values, unsigned int n)
{
	qsort(values, n, sizeof(values[0]), compare_doubles);
	ratio->q1 = quantile(values, n, 0.25);
	ratio->median = quantile(values, n, 0.5);
	ratio->q3 = quantile(values, n, 0.75);
}

static struct ratio throughput_ratio(const struct bench_cell *cell, unsigned int rounds)
{
	double values[BENCH_MAX_ROUNDS];
	struct ratio ratio = {.total = divide(cell_rate(cell, 0), cell_rate(cell, 1))};

	for (unsigned int r = 0; r < rounds; r++)
		values[r] = divide(cell->round_rate[0][r], cell->round_rate[1][r]);
	round_stats(&ratio, values, rounds);
	return ratio;
}

/* A's gain from `one` to `more` threads divided by B's gain. */
static struct ratio scaling_ratio(const struct bench_cell *one, const struct bench_cell *more,
                                  unsigned int rounds, double scaling[2])
{
	double values[BENCH_MAX_ROUNDS];
	struct ratio ratio;

	for (size_t m = 0; m < 2; m++)
		scaling[m] = divide(cell_rate(more, m), cell_rate(one, m));
	ratio.total = divide(scaling[0], scaling[1]);
	for (unsigned int r = 0; r < rounds; r++) {
		values[r] = divide(divide(more->round_rate[0][r], one->round_rate[0][r]),
		                   divide(more->round_rate[1][r], one->round_rate[1][r]));
	}
	round_stats(&ratio, values, rounds);
	return ratio;
}

/*
 * Judges by the median of the rounds, because a burst of load from other
 * processes spoils single rounds but moves the median little. "missed"
 * needs three quarters of the rounds below the goal; in between, machine
 * noise outweighs the difference, so the verdict is "unclear".
 */
static const char *verdict(const struct ratio *ratio, double goal)
{
	if (ratio->median >= goal)
		return "met";
	if (ratio->q3 < goal)
		return "missed";
	return "unclear";
}

static void print_throughput(const struct bench_plan *plan, const struct bench_result *result)
{
	printf("| operation | threads | A ops/s | B ops/s | A/B | A/B round median | "
	       "A/B round quartiles |\n");
	printf("| --- | ---: | ---: | ---: | ---: | ---: | --- |\n");
	for (size_t o = 0; o < plan->n_ops; o++) {
		for (size_t t = 0; t < plan->n_threads; t++) {
			const struct bench_cell *cell = &result->cells[o][t];
			struct ratio ratio = throughput_ratio(cell, plan->rounds);

			printf("| %s | %u | %.0f | %.0f | %.3f | %.3f | %.3f-%.3f |\n",
			       plan->ops[o]->name, plan->threads[t], cell_rate(cell, 0),
			       cell_rate(cell, 1), ratio.total, ratio.median, ratio.q1, ratio.q3);
		}
	}
}

/* The index of thread count 1 in the plan, or -1 when the plan lacks it. */
static int single_thread_index(const struct bench_plan *plan)
{
	for (size_t t = 0; t < plan->n_threads; t++) {
		if (plan->threads[t] == 1)
			return (int)t;
	}
	return -1;
}

static void print_scaling(const struct bench_plan *plan, const struct bench_result *result)
{
	int one = single_thread_index(plan);
	double scaling[2];

	if (one < 0 || plan->n_threads < 2)
		return;
	printf("\n| operation | threads | A scaling | B scaling | A/B | A/B round median | "
	       "A/B round quartiles |\n");
	printf("| --- | --- | ---: | ---: | ---: | ---: | --- |\n");
	for (size_t o = 0; o < plan->n_ops; o++) {
		for (size_t t = 0; t < plan->n_threads; t++) {
			struct ratio ratio;

			if ((int)t == one)
				continue;
			ratio = scaling_ratio(&result->cells[o][one], &result->cells[o][t],
			                      plan->rounds, scaling);
			printf("| %s | %u vs 1 | %.2f | %.2f | %.3f | %.3f | %.3f-%.3f |\n",
			       plan->ops[o]->name, plan->threads[t], scaling[0], scaling[1],
			       ratio.total, ratio.median, ratio.q1, ratio.q3);
		}
	}
}

static void print_goals(const struct bench_plan *plan, const struct bench_result *result)
{
	int one = single_thread_index(plan);
	double scaling[2];
	struct ratio ratio;

	printf("\n| goal | operation | threads | A/B round median | verdict |\n");
	printf("| --- | --- | --- | ---: | --- |\n");
	for (size_t o = 0; o < plan->n_ops; o++) {
		for (size_t t = 0; t < plan->n_threads && plan->ops[o]->throughput_goal; t++) {
			ratio = throughput_ratio(&result->cells[o][t], plan->rounds);
			printf("| throughput A/B >= %.2f | %s | %u | %.3f | %s |\n",
			       THROUGHPUT_GOAL, plan->ops[o]->name, plan->threads[t], ratio.median,
			       verdict(&ratio, THROUGHPUT_GOAL));
		}
	}
	for (size_t o = 0; one >= 0 && o < plan->n_ops; o++) {
		for (size_t t = 0; t < plan->n_threads; t++) {
			if ((int)t == one)
				continue;
			ratio = scaling_ratio(&result->cells[o][one], &result->cells[o][t],
			                      plan->rounds, scaling);
			printf("| scaling A/B >= %.2f | %s | %u vs 1 | %.3f | %s |\n", SCALING_GOAL,
			       plan->ops[o]->name, plan->threads[t], ratio.median,
			       verdict(&ratio, SCALING_GOAL));
		}
	}
}

void bench_print(struct bench_module *mods[2], const struct bench_plan *plan,
                 const struct bench_result *result)
{
	printf("- A: %s (token '%s')\n", mods[0]->path, mods[0]->token_label);
	printf("- B: %s (token '%s')\n", mods[1]->path, mods[1]->token_label);
	printf("- %u rounds of %.2f s per module, operation and thread count; "
	       "each round runs A then B, the next B then A.\n\n",
	       plan->rounds, plan->duration);
	print_throughput(plan, result);
	print_scaling(plan, result);
	print_goals(plan, result);
}
