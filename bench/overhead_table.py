#!/usr/bin/python3
"""Turn callgrind profiles of `hsmux-bench --count` into a Markdown table of
instructions per operation and of what each layer adds over the backend.

Every profile was collected with --toggle-collect=bench_op_<op>, after
zeroed warm-up iterations, so its total divided by the iterations is the
cost of one operation. ECDSA and RSA signing draw random numbers, so their
totals vary from call to call by more than a layer costs. The layer cost
is therefore taken from the instructions spent outside the backend object:
the total minus the inclusive cost of the calls into the backend. A layer
is credited only with the backend calls that the direct run makes per
operation, so any extra backend call (an attribute read, say) stays in
its cost.
"""
import argparse
import collections
import os
import sys

# Goals in instructions per operation for the layer under test, by
# operation; C_GetSessionInfo is one call, each crypto operation two (the
# Init call and the one-shot call).
GOALS = {"session-info": 150}
CRYPTO_GOAL = 250


class Profile:
    """The parts of one callgrind profile that the tables need.

    total: the Ir collected in the toggled function.
    backend_calls: {backend function: [calls, inclusive Ir]} for the calls
        that enter the backend object from outside it.
    layer_cost: {layer function: Ir}, each function's own cost plus the
        inclusive cost of its calls into objects other than the layer and
        the backend (libc's mutexes and allocator, say). It stays empty
        when no layer object is given.
    """

    def __init__(self, path, backend, layer=None):
        self.backend = backend
        self.layer = layer
        self.total = None
        self.backend_calls = collections.defaultdict(lambda: [0, 0])
        self.layer_cost = collections.Counter()
        self.ob = self.fn = self.cob = self.cfn = None
        with open(path) as f:
            self._parse(f)
        if self.total is None:
            sys.exit(f"{path}: no summary line; is it a callgrind profile?")

    def _in_layer(self):
        return self.layer is not None and self.layer in (self.ob or "")

    def _parse(self, lines):
        pending = None
        for line in lines:
            if pending is not None:
                # The cost line after calls=: position, then inclusive Ir.
                self._add_call(*pending, int(line.split()[1]))
                pending = None
            elif line.startswith("ob="):
                self.ob = line[3:].rstrip("\n")
            elif line.startswith("fn="):
                self.fn = line[3:].rstrip("\n")
                self.cob = None
            elif line.startswith("cob="):
                self.cob = line[4:].rstrip("\n")
            elif line.startswith("cfn="):
                self.cfn = line[4:].rstrip("\n")
            elif line.startswith("calls="):
                # A cob= line names the callee's object for this call only.
                pending = (self.cob or self.ob or "", self.cfn, int(line[6:].split()[0]))
                self.cob = None
            elif line[:1].isdigit() and self._in_layer():
                # A cost line of the function itself: position, then Ir.
                self.layer_cost[self.fn] += int(line.split()[1])
            elif line.startswith("summary:"):
                # The total of the collected events; "totals:" at the end can
                # also hold costs collected outside the toggled function.
                self.total = int(line.split()[1])

    def _add_call(self, callee_ob, callee_fn, count, inclusive):
        if self.backend in callee_ob and self.backend not in (self.ob or ""):
            self.backend_calls[callee_fn][0] += count
            self.backend_calls[callee_fn][1] += inclusive
        if self._in_layer() and self.layer not in callee_ob and self.backend not in callee_ob:
            self.layer_cost[self.fn] += inclusive


def outside_cost(total, calls, reference_calls, iterations):
    """Instructions outside the backend, crediting at most the reference's
    backend calls; returns (cost, list of extra calls per operation)."""
    cost = total
    extra = []
    for fn, (count, inclusive) in calls.items():
        allowed = reference_calls.get(fn, [0, 0])[0]
        credited = min(count, allowed)
        if count:
            cost -= inclusive * credited // count
        if count > allowed:
            extra.append(f"{fn} x{(count - allowed) / iterations:g}")
    return cost, extra


def calls_per_op(calls, iterations):
    return ", ".join(f"{fn} x{count / iterations:g}"
                     for fn, (count, _) in sorted(calls.items()))


def goal_for(op):
    return GOALS.get(op, CRYPTO_GOAL)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dir", required=True,
                        help="directory with the profiles cg.<module>.<op>")
    parser.add_argument("--iterations", type=int, required=True,
                        help="counted iterations per profile")
    parser.add_argument("--backend", default="libsofthsm2.so",
                        help="file name of the backend object (default: %(default)s)")
    parser.add_argument("--reference", default="softhsm",
                        help="the module label of the direct run (default: %(default)s)")
    parser.add_argument("--modules", required=True,
                        help="comma-separated labels of the layered modules")
    parser.add_argument("--goal-module", default="hsmux",
                        help="the module checked against the goals (default: %(default)s)")
    parser.add_argument("--ops", required=True, help="comma-separated operations")
    parser.add_argument("--breakdown", metavar="OBJECT",
                        help="also list, for the goal module, the cost per operation of "
                             "each function of this object (the layer's file name)")
    args = parser.parse_args()

    modules = args.modules.split(",")
    n = args.iterations
    print("| operation | module | instructions per op | minus direct | "
          "outside the backend per op | layer cost | goal | backend calls per op |")
    print("| --- | --- | ---: | ---: | ---: | ---: | --- | --- |")
    for op in args.ops.split(","):
        ref_path = os.path.join(args.dir, f"cg.{args.reference}.{op}")
        ref = Profile(ref_path, args.backend)
        ref_total, ref_calls = ref.total, ref.backend_calls
        ref_outside, _ = outside_cost(ref_total, ref_calls, ref_calls, n)
        print(f"| {op} | {args.reference} | {ref_total / n:.0f} | | "
              f"{ref_outside / n:.0f} | | | {calls_per_op(ref_calls, n)} |")
        for module in modules:
            profile = Profile(os.path.join(args.dir, f"cg.{module}.{op}"), args.backend)
            total, calls = profile.total, profile.backend_calls
            outside, extra = outside_cost(total, calls, ref_calls, n)
            layer = (outside - ref_outside) / n
            goal = ""
            if module == args.goal_module:
                verdict = "met" if layer < goal_for(op) else "missed"
                goal = f"< {goal_for(op)}: {verdict}"
            note = calls_per_op(calls, n)
            if extra:
                note += "; not credited: " + ", ".join(extra)
            print(f"| {op} | {module} | {total / n:.0f} | {(total - ref_total) / n:+.0f} | "
                  f"{outside / n:.0f} | {layer:+.0f} | {goal} | {note} |")
    if args.breakdown:
        print_breakdown(args)


def print_breakdown(args):
    n = args.iterations
    print()
    print(f"Functions of {args.breakdown} in the {args.goal_module} runs, in instructions per "
          "operation; a function's calls into libc count as its own.")
    print()
    print("| operation | function | instructions per op |")
    print("| --- | --- | ---: |")
    for op in args.ops.split(","):
        path = os.path.join(args.dir, f"cg.{args.goal_module}.{op}")
        profile = Profile(path, args.backend, args.breakdown)
        for fn, cost in profile.layer_cost.most_common():
            if cost / n >= 0.5:
                print(f"| {op} | {fn} | {cost / n:.0f} |")


if __name__ == "__main__":
    main()
