/*
 * hsmux-bench: measures two PKCS#11 modules (A and B) in one process, in
 * interleaved rounds, and prints ops/s and the ratio A/B per operation.
 * With --count it runs one operation on module A only, untimed, for
 * callgrind.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifdef HAVE_CALLGRIND_H
#include <valgrind/callgrind.h>
#define WARMUP_COUNTED false
#else
/* Without valgrind's header the warm-up iterations stay in callgrind's counts. */
#define CALLGRIND_ZERO_STATS
#define WARMUP_COUNTED true
#endif

#include "runner.h"

struct options {
	struct bench_module mods[2];
	struct bench_plan plan;
	const char *count_op;
	unsigned long iterations;
	unsigned long warmup;
	bool init_token;
	const char *so_pin;
};

static void usage(FILE *out)
{
	fprintf(out,
	        "usage: hsmux-bench --a MODULE --b MODULE [options]\n"
	        "       hsmux-bench --a MODULE --count OP [--iterations N] [options]\n"
	        "       hsmux-bench --a MODULE --init-token --so-pin PIN --pin PIN --token LABEL\n"
	        "\n"
	        "  --a PATH, --b PATH     the PKCS#11 modules to compare (A/B is reported)\n"
	        "  --token LABEL          token label in both modules (default: bench)\n"
	        "  --a-token, --b-token   token label in one module\n"
	        "  --pin PIN              user PIN for both modules (default: 1234)\n"
	        "  --a-pin, --b-pin       user PIN for one module\n"
	        "  --duration SECONDS     time per module, operation and thread count in each\n"
	        "                         round (default: 0.2)\n"
	        "  --rounds N             rounds, at most %d (default: 20)\n"
	        "  --ops LIST             comma-separated operations (default: all)\n"
	        "  --threads LIST         comma-separated thread counts, each up to %d\n"
	        "                         (default: 1,2); each thread has its own session\n"
	        "  --count OP             run OP on module A only, untimed, for callgrind\n"
	        "  --iterations N         iterations for --count (default: 1000)\n"
	        "  --warmup N             untimed iterations before --count starts counting\n"
	        "                         (default: 20); callgrind statistics are zeroed after\n"
	        "  --init-token           initialize a token in module A and exit\n"
	        "  --so-pin PIN           SO PIN for --init-token\n"
	        "\n"
	        "operations:\n",
	        BENCH_MAX_ROUNDS, BENCH_MAX_THREADS);
	for (size_t i = 0; i < bench_n_ops; i++)
		fprintf(out, "  %-14s %s\n", bench_ops[i].name, bench_ops[i].description);
}

static bool parse_ulong(const char *option, const char *text, unsigned long min, unsigned long max,
                        unsigned long *value)
{
	char *end;

	errno = 0;
	*value = strtoul(text, &end, 10);
	if (errno != 0 || end == text || *end != '\0' || *value < min || *value > max) {
		fprintf(stderr,
		        "hsmux-bench: invalid %s '%s'; expected an integer from %lu to %lu\n",
		        option, text, min, max);
		return false;
	}
	return true;
}

static bool parse_duration(const char *text, double *seconds)
{
	char *end;

	errno = 0;
	*seconds = strtod(text, &end);
	if (errno != 0 || end == text || *end != '\0' || !(*seconds > 0 && *seconds <= 600)) {
		fprintf(stderr,
		        "hsmux-bench: invalid --duration '%s'; expected seconds, more "
		        "than 0 and at most 600\n",
		        text);
		return false;
	}
	return true;
}

static bool parse_ops(char *list, struct bench_plan *plan)
{
	char *saveptr = NULL;

	plan->n_ops = 0;
	for (char *name = strtok_r(list, ",", &saveptr); name;
	     name = strtok_r(NULL, ",", &saveptr)) {
		const struct bench_op *op = bench_op_find(name);

		if (!op) {
			fprintf(stderr, "hsmux-bench: unknown operation '%s'; see --help\n", name);
			return false;
		}
		if (plan->n_ops == sizeof(plan->ops) / sizeof(plan->ops[0])) {
			fprintf(stderr, "hsmux-bench: too many operations in --ops\n");
			return false;
		}
		plan->ops[plan->n_ops++] = op;
	}
	return plan->n_ops > 0;
}

static bool parse_threads(char *list, struct bench_plan *plan)
{
	char *saveptr = NULL;
	unsigned long n;

	plan->n_threads = 0;
	for (char *item = strtok_r(list, ",", &saveptr); item;
	     item = strtok_r(NULL, ",", &saveptr)) {
		if (!parse_ulong("--threads", item, 1, BENCH_MAX_THREADS, &n))
			return false;
		if (plan->n_threads == sizeof(plan->threads) / sizeof(plan->threads[0])) {
			fprintf(stderr, "hsmux-bench: too many thread counts in --threads\n");
			return false;
		}
		plan->threads[plan->n_threads++] = (unsigned int)n;
	}
	return plan->n_threads > 0;
}

enum {
	OPT_A = 256,
	OPT_B,
	OPT_TOKEN,
	OPT_A_TOKEN,
	OPT_B_TOKEN,
	OPT_PIN,
	OPT_A_PIN,
	OPT_B_PIN,
	OPT_DURATION,
	OPT_ROUNDS,
	OPT_OPS,
	OPT_THREADS,
	OPT_COUNT,
	OPT_ITERATIONS,
	OPT_WARMUP,
	OPT_INIT_TOKEN,
	OPT_SO_PIN,
	OPT_HELP,
};

static const struct option long_options[] = {
    {"a", required_argument, NULL, OPT_A},
    {"b", required_argument, NULL, OPT_B},
    {"token", required_argument, NULL, OPT_TOKEN},
    {"a-token", required_argument, NULL, OPT_A_TOKEN},
    {"b-token", required_argument, NULL, OPT_B_TOKEN},
    {"pin", required_argument, NULL, OPT_PIN},
    {"a-pin", required_argument, NULL, OPT_A_PIN},
    {"b-pin", required_argument, NULL, OPT_B_PIN},
    {"duration", required_argument, NULL, OPT_DURATION},
    {"rounds", required_argument, NULL, OPT_ROUNDS},
    {"ops", required_argument, NULL, OPT_OPS},
    {"threads", required_argument, NULL, OPT_THREADS},
    {"count", required_argument, NULL, OPT_COUNT},
    {"iterations", required_argument, NULL, OPT_ITERATIONS},
    {"warmup", required_argument, NULL, OPT_WARMUP},
    {"init-token", no_argument, NULL, OPT_INIT_TOKEN},
    {"so-pin", required_argument, NULL, OPT_SO_PIN},
    {"help", no_argument, NULL, OPT_HELP},
    {NULL, 0, NULL, 0},
};

static void set_defaults(struct options *opts)
{
	memset(opts, 0, sizeof(*opts));
	opts->mods[0].name = "A";
	opts->mods[1].name = "B";
	for (size_t m = 0; m < 2; m++) {
		opts->mods[m].token_label = "bench";
		opts->mods[m].pin = "1234";
	}
	for (size_t i = 0; i < bench_n_ops; i++)
		opts->plan.ops[i] = &bench_ops[i];
	opts->plan.n_ops = bench_n_ops;
	opts->plan.threads[0] = 1;
	opts->plan.threads[1] = 2;
	opts->plan.n_threads = 2;
	opts->plan.rounds = 20;
	opts->plan.duration = 0.2;
	opts->iterations = 1000;
	opts->warmup = 20;
}

/* Applies one option; returns 0 to go on, 1 to exit with success, -1 on error. */
static int apply_option(struct options *opts, int opt, char *arg)
{
	unsigned long n;

	switch (opt) {
	case OPT_A:
		opts->mods[0].path = arg;
		break;
	case OPT_B:
		opts->mods[1].path = arg;
		break;
	case OPT_TOKEN:
		opts->mods[0].token_label = opts->mods[1].token_label = arg;
		break;
	case OPT_A_TOKEN:
		opts->mods[0].token_label = arg;
		break;
	case OPT_B_TOKEN:
		opts->mods[1].token_label = arg;
		break;
	case OPT_PIN:
		opts->mods[0].pin = opts->mods[1].pin = arg;
		break;
	case OPT_A_PIN:
		opts->mods[0].pin = arg;
		break;
	case OPT_B_PIN:
		opts->mods[1].pin = arg;
		break;
	case OPT_DURATION:
		return parse_duration(arg, &opts->plan.duration) ? 0 : -1;
	case OPT_ROUNDS:
		if (!parse_ulong("--rounds", arg, 1, BENCH_MAX_ROUNDS, &n))
			return -1;
		opts->plan.rounds = (unsigned int)n;
		break;
	case OPT_OPS:
		return parse_ops(arg, &opts->plan) ? 0 : -1;
	case OPT_THREADS:
		return parse_threads(arg, &opts->plan) ? 0 : -1;
	case OPT_COUNT:
		opts->count_op = arg;
		break;
	case OPT_ITERATIONS:
		return parse_ulong("--iterations", arg, 1, 100000000, &opts->iterations) ? 0 : -1;
	case OPT_WARMUP:
		return parse_ulong("--warmup", arg, 0, 1000000, &opts->warmup) ? 0 : -1;
	case OPT_INIT_TOKEN:
		opts->init_token = true;
		break;
	case OPT_SO_PIN:
		opts->so_pin = arg;
		break;
	case OPT_HELP:
		usage(stdout);
		return 1;
	default:
		usage(stderr);
		return -1;
	}
	return 0;
}

/* Sets up module A for one operation and runs it, untimed. */
static int run_count(struct options *opts)
{
	const struct bench_op *op = bench_op_find(opts->count_op);
	struct bench_module *mod = &opts->mods[0];
	struct bench_worker *worker = NULL;
	int status = 1;
	CK_RV rv;

	if (!op) {
		fprintf(stderr, "hsmux-bench: unknown operation '%s' for --count; see --help\n",
		        opts->count_op);
		return 2;
	}
	if (!bench_module_open(mod) || !bench_module_start(mod, 1) ||
	    !bench_module_make_keys(mod, op->keys))
		goto out;
	worker = calloc(1, sizeof(*worker));
	if (!worker)
		goto out;
	worker->functions = mod->functions;
	worker->session = mod->sessions[0];
	worker->keys = &mod->keys;

	for (unsigned long i = 0; i < opts->warmup + opts->iterations; i++) {
		/* The first iterations pay for lazy set-up inside the module. */
		if (i == opts->warmup)
			CALLGRIND_ZERO_STATS;
		rv = op->run(worker);
		if (rv != CKR_OK) {
			bench_report_rv(mod, op->description, rv);
			goto out;
		}
	}
	printf("counted %s: %lu iterations on %s after %lu untimed\n", op->name, opts->iterations,
	       mod->path, opts->warmup);
	if (WARMUP_COUNTED)
		fprintf(stderr, "hsmux-bench: built without valgrind/callgrind.h, so callgrind "
		                "also counts the warm-up; install valgrind and rebuild\n");
	status = 0;
out:
	free(worker);
	bench_module_stop(mod);
	bench_module_close(mod);
	return status;
}

static unsigned int plan_keys(const struct bench_plan *plan)
{
	unsigned int keys = 0;

	for (size_t o = 0; o < plan->n_ops; o++)
		keys |= plan->ops[o]->keys;
	return keys;
}

static size_t plan_max_threads(const struct bench_plan *plan)
{
	size_t max = 1;

	for (size_t t = 0; t < plan->n_threads; t++) {
		if (plan->threads[t] > max)
			max = plan->threads[t];
	}
	return max;
}

static int run_compare(struct options *opts)
{
	struct bench_module *mods[2] = {&opts->mods[0], &opts->mods[1]};
	static struct bench_result result;
	int status = 1;

	for (size_t m = 0; m < 2; m++) {
		if (!bench_module_open(mods[m]))
			goto out;
	}
	for (size_t m = 0; m < 2; m++) {
		if (!bench_module_start(mods[m], plan_max_threads(&opts->plan)) ||
		    !bench_module_make_keys(mods[m], plan_keys(&opts->plan)))
			goto out;
	}
	if (!bench_warm_up(mods, &opts->plan) || !bench_run(mods, &opts->plan, &result))
		goto out;
	bench_print(mods, &opts->plan, &result);
	status = 0;
out:
	/* Reverse order: B may share an instance that A initialized. */
	for (size_t m = 2; m-- > 0;)
		bench_module_stop(mods[m]);
	for (size_t m = 2; m-- > 0;)
		bench_module_close(mods[m]);
	return status;
}

int main(int argc, char **argv)
{
	struct options opts;
	int opt, applied;

	set_defaults(&opts);
	while ((opt = getopt_long(argc, argv, "", long_options, NULL)) != -1) {
		applied = apply_option(&opts, opt, optarg);
		if (applied != 0)
			return applied > 0 ? 0 : 2;
	}
	if (optind < argc || !opts.mods[0].path) {
		usage(stderr);
		return 2;
	}

	if (opts.init_token) {
		if (!opts.so_pin) {
			fprintf(stderr, "hsmux-bench: --init-token needs --so-pin\n");
			return 2;
		}
		return bench_init_token(opts.mods[0].path, opts.mods[0].token_label, opts.so_pin,
		                        opts.mods[0].pin)
		           ? 0
		           : 1;
	}
	if (opts.count_op)
		return run_count(&opts);
	if (!opts.mods[1].path) {
		fprintf(stderr, "hsmux-bench: --b MODULE is missing; a comparison needs two "
		                "modules (use --count for one)\n");
		return 2;
	}
	return run_compare(&opts);
}
