#!/usr/bin/python3
"""Golden-output tests of the hsmux CLI.

Runs one case (named on the command line) against the built tool. Each case
gets a fresh temporary SoftHSM token store. Text output is compared with a
file in golden/ after the values that change from run to run (serial
numbers, slot IDs, paths) are replaced by placeholders. JSON output is parsed
and checked value by value. Token facts are cross-checked with pkcs11-tool,
a client independent of hsmux.

Set HSMUX_GOLDEN_UPDATE=1 to rewrite the golden files from the current
output; review the diff before committing it.
"""

import argparse
import difflib
import json
import os
import pty
import re
import select
import shutil
import subprocess
import sys
import tempfile
import termios
import time

# Distinct PINs, so that a leak is found by a plain substring search.
SO_PIN = "so-PIN-7391qz"
USER_PIN = "user-PIN-5826kx"
# Commands that other files add to the tool; --help lists them once linked.
OPTIONAL_COMMANDS = ("byok", "sd", "backup", "restore")


class CheckFailed(Exception):
    pass


def check(condition, message):
    if not condition:
        raise CheckFailed(message)


class Cli:
    """The tool under test, its module and a temporary token store."""

    def __init__(self, opts, tmp):
        self.opts = opts
        self.tmp = tmp
        self.runs = []  # (argv, stdout, stderr) of every run, for leak checks
        self.env = {k: v for k, v in os.environ.items()
                    if not k.startswith(("HSMUX_", "SOFTHSM2_"))}
        self.env["HOME"] = tmp
        self.env["XDG_CONFIG_HOME"] = os.path.join(tmp, "config")
        self.env["XDG_DATA_HOME"] = os.path.join(tmp, "data")
        self.store = os.path.join(tmp, "store")
        os.makedirs(self.store)
        if opts.mode == "direct":
            conf = os.path.join(tmp, "softhsm2.conf")
            with open(conf, "w") as f:
                f.write(f"directories.tokendir = {self.store}\n"
                        "objectstore.backend = file\n")
            self.env["SOFTHSM2_CONF"] = conf
        elif opts.mode == "router":
            conf = os.path.join(tmp, "hsmux.conf")
            with open(conf, "w") as f:
                f.write(f"[backend:soft]\ntype = softhsm\nstore = {self.store}\n")
            self.env["HSMUX_CONF"] = conf

    def run(self, *args, env=None, module=True, expect=0):
        """Runs the tool without a controlling terminal; returns (stdout, stderr)."""
        argv = [self.opts.hsmux]
        if module and self.opts.module:
            argv += ["--module", self.opts.module]
        argv += list(args)
        full_env = dict(self.env)
        full_env.update(env or {})
        proc = subprocess.run(argv, env=full_env, cwd=self.tmp, stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=30,
                              start_new_session=True)
        self.runs.append((argv, proc.stdout, proc.stderr))
        if expect is not None:
            check(proc.returncode == expect,
                  f"{' '.join(args)}: exit status {proc.returncode}, expected {expect}\n"
                  f"stdout: {proc.stdout}\nstderr: {proc.stderr}")
        return proc.stdout, proc.stderr

    def init_token(self, label, so_pin=SO_PIN, user_pin=USER_PIN):
        env = {"HSMUX_SO_PIN": so_pin, "HSMUX_PIN": user_pin}
        return self.run("token", "init", "--label", label, env=env)

    def tool_env(self):
        """The environment for pkcs11-tool, which loads a sanitized module only
        when the sanitizer runtimes are preloaded; its own leaks are not ours."""
        env = dict(self.env)
        ldd = subprocess.run(["ldd", self.opts.module], capture_output=True, text=True).stdout
        runtimes = re.findall(r"=> (\S*lib(?:asan|ubsan)\.so\S*)", ldd)
        if runtimes:
            env["LD_PRELOAD"] = ":".join(runtimes)
            env["ASAN_OPTIONS"] = "detect_leaks=0"
        return env

    def pkcs11_tool(self, *args, expect=0):
        """Runs pkcs11-tool on the same module; the independent view of a token."""
        check(self.opts.pkcs11_tool, "pkcs11-tool is missing; install Debian's opensc")
        argv = [self.opts.pkcs11_tool, "--module", self.opts.module] + list(args)
        proc = subprocess.run(argv, env=self.tool_env(), stdin=subprocess.DEVNULL,
                              capture_output=True, text=True, timeout=30)
        if expect is not None:
            check(proc.returncode == expect,
                  f"pkcs11-tool {' '.join(args)}: exit status {proc.returncode}, "
                  f"expected {expect}\n{proc.stdout}{proc.stderr}")
        return proc.stdout + proc.stderr

    def pkcs11_tool_tokens(self):
        """Returns {label: serial} of the initialized tokens that pkcs11-tool lists."""
        out = self.pkcs11_tool("--list-token-slots")
        tokens = {}
        label = None
        for line in out.splitlines():
            m = re.match(r"\s*token label\s*:\s*(.*?)\s*$", line)
            if m:
                label = m.group(1)
            m = re.match(r"\s*serial num\s*:\s*(\S+)", line)
            if m and label:
                tokens[label] = m.group(1)
                label = None
        return tokens

    def normalize(self, text):
        text = text.replace(self.tmp, "<TMP>")
        if self.opts.module:
            text = text.replace(self.opts.module, "<MODULE>")
        text = re.sub(r"\b[0-9a-f]{16}\b", "<SERIAL>", text)
        text = re.sub(r"(?i)\b(slot) \d+", r"\1 <ID>", text)
        text = re.sub(r"slot ID 0x[0-9a-f]+", "slot ID <HEX>", text)
        # The count grows as the module composes mechanisms; status_json checks it
        # against pkcs11-tool's list.
        text = re.sub(r"mechanisms: \d+", "mechanisms: <N>", text)
        return text

    def golden(self, name, text):
        path = os.path.join(self.opts.golden, name + ".txt")
        text = self.normalize(text)
        if os.environ.get("HSMUX_GOLDEN_UPDATE") == "1":
            with open(path, "w") as f:
                f.write(text)
            return
        check(os.path.exists(path), f"golden file {path} is missing; run with "
              "HSMUX_GOLDEN_UPDATE=1 and review it")
        with open(path) as f:
            expected = f.read()
        diff = "".join(difflib.unified_diff(expected.splitlines(True), text.splitlines(True),
                                            path, "actual"))
        check(not diff, f"output differs from {path}:\n{diff}")

    def status_json(self):
        out, _ = self.run("status", "--json")
        return json.loads(out)


def token_slot(status, label):
    for slot in status["slots"]:
        token = slot["token"]
        if token and token["initialized"] and token["label"] == label:
            return slot
    raise CheckFailed(f"no slot with token '{label}' in status --json")


def mode_name(opts):
    return opts.mode


# --- cases without a module ------------------------------------------------

def case_help(cli):
    out, err = cli.run("--help", module=False)
    check(err == "", f"--help wrote to stderr: {err}")
    listed = [line.split()[0] for line in out.splitlines() if line.startswith("  ")
              and not line.lstrip().startswith("-")]
    check("status" in listed and "token" in listed, f"commands missing from help: {listed}")
    # Each listed command prints its own help, including the commands of other files.
    for name in listed:
        if name.startswith("$") or name.startswith("--"):
            continue
        cmd_out, _ = cli.run(name, "--help", module=False)
        check(cmd_out.startswith("Usage: hsmux " + name), f"{name} --help: {cmd_out[:80]}")
    core = "".join(line for line in out.splitlines(True)
                   if not any(line.startswith(f"  {c} ") for c in OPTIONAL_COMMANDS))
    cli.golden("help", core)
    help_out, _ = cli.run("help", module=False)
    check(help_out == out, "`hsmux help` differs from `hsmux --help`")
    cli.golden("help-status", cli.run("status", "--help", module=False)[0])
    cli.golden("help-token", cli.run("help", "token", module=False)[0])


def case_version(cli):
    out, _ = cli.run("--version", module=False)
    check(re.fullmatch(r"hsmux \d+\.\d+\.\d+\n", out), f"--version printed {out!r}")


def case_usage_errors(cli):
    log = []
    for args in (["frob"], [], ["--bogus"], ["status", "extra"], ["status", "--bogus"],
                 ["token"], ["token", "frob"], ["token", "init"],
                 ["token", "check-pin"], ["token", "list", "--label", "x"],
                 ["token", "init", "--label", "x", "--so"],
                 ["token", "check-pin", "--token", "x", "--backend", "soft"],
                 ["status", "--token", "x"], ["status", "--keys", "--token"]):
        out, err = cli.run(*args, module=False, expect=2)
        check(out == "", f"{args}: a usage error wrote to stdout: {out}")
        log.append(f"$ hsmux {' '.join(args)}\n{err}")
    cli.golden("usage-errors", "".join(log))


# --- cases with a module ---------------------------------------------------

def case_status_fresh(cli):
    out, _ = cli.run("status")
    cli.golden(f"status-fresh-{mode_name(cli.opts)}", out)
    status = cli.status_json()
    present = [s for s in status["slots"] if s["token_present"]]
    check(len(present) >= 1, f"a fresh store has no token slot: {status}")
    check(all(not s["token"]["initialized"] for s in present),
          "a fresh store has an initialized token")
    if cli.opts.mode == "router":
        check([b["name"] for b in status["backends"]] == ["soft"],
              f"backends: {status['backends']}")
        check(all(s["backend"] == "soft" for s in status["slots"]), "slot without backend")
    else:
        check(status["backends"] == [], f"SoftHSM direct has backends: {status['backends']}")
        check(all(s["backend"] is None for s in status["slots"]), "slot with a backend")


def case_status_text(cli):
    cli.init_token("alpha")
    out, _ = cli.run("status")
    cli.golden(f"status-{mode_name(cli.opts)}", out)


def case_status_json(cli):
    cli.init_token("alpha")
    status = cli.status_json()
    global_out, _ = cli.run("--json", "status")
    check(json.loads(global_out) == status, "`--json status` differs from `status --json`")

    module = status["module"]
    check(module["path"] == cli.opts.module, f"module path {module['path']}")
    check(re.fullmatch(r"\d+\.\d+", module["cryptoki_version"]), f"module {module}")
    if cli.opts.mode == "direct":
        check(module["manufacturer"] == "SoftHSM", f"module {module}")
        check(module["cryptoki_version"] == "2.40", f"module {module}")

    slot = token_slot(status, "alpha")
    token = slot["token"]
    check(token["serial"] == cli.pkcs11_tool_tokens().get("alpha"),
          f"serial {token['serial']} differs from pkcs11-tool's {cli.pkcs11_tool_tokens()}")
    check(token["model"] == "SoftHSM v2", f"model {token['model']}")
    check(token["initialized"] is True, "initialized is not true")
    check(token["login_required"] is True, "login_required is not true")
    check(token["user_pin_initialized"] is True, "user_pin_initialized is not true")
    check(token["login_state"] == "public", f"login_state {token['login_state']}")
    check((token["min_pin_length"], token["max_pin_length"]) == (4, 255),
          f"PIN lengths {token['min_pin_length']}..{token['max_pin_length']}")
    for flag in ("CKF_TOKEN_INITIALIZED", "CKF_LOGIN_REQUIRED", "CKF_USER_PIN_INITIALIZED"):
        check(flag in token["flags"], f"{flag} missing from {token['flags']}")

    mechanisms = cli.pkcs11_tool("--slot", str(slot["id"]), "--list-mechanisms")
    count = len([line for line in mechanisms.splitlines() if line.startswith("  ")])
    check(slot["mechanism_count"] == count,
          f"mechanism_count {slot['mechanism_count']}, pkcs11-tool lists {count}")
    check(slot["mechanism_count"] > 20, f"only {slot['mechanism_count']} mechanisms")


def check_pins_work(cli, label, so_pin=SO_PIN, user_pin=USER_PIN):
    cli.pkcs11_tool("--token-label", label, "--login", "--pin", user_pin, "--list-objects")
    out = cli.pkcs11_tool("--token-label", label, "--login", "--pin", user_pin + "x",
                          "--list-objects", expect=None)
    check("CKR_PIN_INCORRECT" in out, f"a wrong user PIN was not refused: {out}")
    # SoftHSM lets the SO log in only in a read-write session.
    cli.pkcs11_tool("--token-label", label, "--session-rw", "--login", "--login-type", "so",
                    "--so-pin", so_pin, "--list-objects")


def case_token_init_env(cli):
    out, err = cli.init_token("alpha")
    check(err == "", f"token init wrote to stderr: {err}")
    cli.golden(f"token-init-{mode_name(cli.opts)}", out)
    check("alpha" in cli.pkcs11_tool_tokens(), "pkcs11-tool does not list token 'alpha'")
    check_pins_work(cli, "alpha")


def case_token_init_file(cli):
    so_file = os.path.join(cli.tmp, "so.pin")
    user_file = os.path.join(cli.tmp, "user.pin")
    with open(so_file, "w") as f:
        f.write(SO_PIN + "\r\n")  # a CRLF line end is not part of the PIN
    with open(user_file, "w") as f:
        f.write(USER_PIN + "\nsecond line is ignored\n")
    args = ["token", "init", "--label", "beta", "--so-pin-file", so_file,
            "--pin-file", user_file]
    if cli.opts.mode == "router":
        args += ["--backend", "soft"]
    # The files win over the environment.
    cli.run(*args, env={"HSMUX_SO_PIN": "wrong-so-pin", "HSMUX_PIN": "wrong-pin"})
    check_pins_work(cli, "beta")

    # A PIN file without a line end works too.
    with open(user_file, "w") as f:
        f.write(USER_PIN)
    cli.run("token", "check-pin", "--token", "beta", "--pin-file", user_file)


def case_token_list(cli):
    out, _ = cli.run("token", "list")
    check(out.startswith("No initialized tokens;"), f"list of a fresh store: {out}")
    cli.init_token("alpha")
    cli.init_token("beta")
    out, _ = cli.run("token", "list")
    cli.golden(f"token-list-{mode_name(cli.opts)}", out)
    listed = json.loads(cli.run("token", "list", "--json")[0])
    check(sorted(s["token"]["label"] for s in listed) == ["alpha", "beta"],
          f"token list --json: {listed}")
    serials = cli.pkcs11_tool_tokens()
    for slot in listed:
        check(slot["token"]["serial"] == serials[slot["token"]["label"]],
              f"serial of {slot['token']['label']} differs from pkcs11-tool's")


def wait_for_no_echo(fd, screen):
    """Waits until the tool has turned echo off after a prompt, as it must for a PIN."""
    deadline = time.time() + 5
    while termios.tcgetattr(fd)[3] & termios.ECHO:
        check(time.time() < deadline, f"echo stays on at the prompt: {screen!r}")
        time.sleep(0.02)


def run_on_terminal(cli, args, answers):
    """Runs the tool on a new pseudo-terminal, typing each answer at a prompt."""
    argv = [cli.opts.hsmux, "--module", cli.opts.module] + args
    pid, fd = pty.fork()
    if pid == 0:
        os.chdir(cli.tmp)
        os.execve(argv[0], argv, cli.env)

    answers = list(answers)
    answered = 0
    screen = b""
    deadline = time.time() + 20
    while time.time() < deadline:
        ready, _, _ = select.select([fd], [], [], 0.2)
        if not ready:
            continue
        try:
            data = os.read(fd, 1024)
        except OSError:
            break
        if not data:
            break
        screen += data
        # A prompt ends in ": " with no line end; answer each prompt once.
        if screen.endswith(b": ") and answers and screen.count(b": ") > answered:
            wait_for_no_echo(fd, screen)
            os.write(fd, (answers.pop(0) + "\n").encode())
            answered = screen.count(b": ")

    _, status = os.waitpid(pid, 0)
    os.close(fd)
    text = screen.decode(errors="replace")
    cli.runs.append((argv, text, ""))
    return os.waitstatus_to_exitcode(status), text.replace("\r\n", "\n")


def case_token_init_prompt(cli):
    args = ["token", "init", "--label", "gamma"]
    rc, screen = run_on_terminal(cli, args, [SO_PIN, SO_PIN, USER_PIN, USER_PIN])
    check(rc == 0, f"token init on a terminal: exit status {rc}\n{screen}")
    check(SO_PIN not in screen and USER_PIN not in screen, f"a PIN was echoed: {screen}")
    cli.golden("token-init-prompt", re.sub(r"^Initialized token .*\n", "", screen, flags=re.M))
    check_pins_work(cli, "gamma")

    # Two entries that differ leave the token uninitialized.
    rc, screen = run_on_terminal(cli, ["token", "init", "--label", "delta"],
                                 [SO_PIN, SO_PIN + "x"])
    check(rc == 1, f"mismatched PINs: exit status {rc}\n{screen}")
    check("the two entries differ" in screen, f"no mismatch message: {screen}")
    check("delta" not in cli.pkcs11_tool_tokens(), "token 'delta' was created anyway")

    rc, screen = run_on_terminal(cli, ["token", "check-pin", "--token", "gamma"], [USER_PIN])
    check(rc == 0 and "PIN for token 'gamma': " in screen, f"check-pin prompt: {screen}")


def case_pin_not_leaked(cli):
    trace = os.path.join(cli.tmp, "trace.log")
    env = {"HSMUX_DEBUG": "all", "HSMUX_DEBUG_FILE": trace,
           "HSMUX_SO_PIN": SO_PIN, "HSMUX_PIN": USER_PIN}
    pin_file = os.path.join(cli.tmp, "pin")
    with open(pin_file, "w") as f:
        f.write(USER_PIN + "\n")

    cli.run("token", "init", "--label", "alpha", env=env)
    cli.run("status", env=env)
    cli.run("token", "check-pin", "--token", "alpha", env=env)
    cli.run("token", "check-pin", "--token", "alpha", "--pin-file", pin_file, env=env)
    cli.run("token", "check-pin", "--so", "--token", "pkcs11:token=alpha", env=env)
    bad = dict(env, HSMUX_PIN=USER_PIN[:-1])
    cli.run("token", "check-pin", "--token", "alpha", env=bad, expect=1)
    cli.run("token", "check-pin", "--token", f"pkcs11:token=alpha?pin-value={USER_PIN}",
            env=env, expect=1)
    cli.run("token", "init", "--label", "alpha", env=env, expect=1)

    for argv, out, err in cli.runs:
        for pin in (SO_PIN, USER_PIN, USER_PIN[:-1]):
            check(pin not in out and pin not in err,
                  f"{' '.join(argv)} printed a PIN:\n{out}{err}")
    if cli.opts.mode == "router":
        check(os.path.exists(trace) and os.path.getsize(trace) > 0,
              "HSMUX_DEBUG=all wrote no trace, so the trace was not checked")
    if os.path.exists(trace):
        with open(trace, errors="replace") as f:
            text = f.read()
        for pin in (SO_PIN, USER_PIN, USER_PIN[:-1]):
            check(pin not in text, "the trace contains a PIN")


def case_uri_lookup(cli):
    cli.init_token("alpha")
    cli.init_token("beta")
    serial = cli.pkcs11_tool_tokens()["alpha"]
    env = {"HSMUX_PIN": USER_PIN}
    for uri in ("pkcs11:token=alpha", f"pkcs11:token=alpha;serial={serial}",
                "pkcs11:model=SoftHSM%20v2;token=alpha", f"pkcs11:serial={serial}"):
        out, _ = cli.run("token", "check-pin", "--token", uri, env=env)
        check(out == "The user PIN of token 'alpha' is correct.\n", f"{uri}: {out}")
    _, err = cli.run("token", "check-pin", "--token", "pkcs11:model=SoftHSM%20v2", env=env,
                     expect=1)
    check(err.startswith("hsmux: 2 tokens match"), f"ambiguous URI: {err}")


def case_errors_token(cli):
    cli.init_token("alpha")
    env = {"HSMUX_PIN": USER_PIN}
    log = []
    for token in ("nope", "pkcs11:token=nope", "pkcs11:token=alpha;serial=0000000000000000",
                  "pkcs11:token=%zz", "pkcs11:frob=1", ""):
        _, err = cli.run("token", "check-pin", "--token", token, env=env, expect=1)
        log.append(f"--token {token}\n{err}")

    # pkcs11-tool, unlike hsmux, lets a second token take a label in use.
    fresh = [s for s in cli.status_json()["slots"]
             if s["token"] and not s["token"]["initialized"]][0]
    cli.pkcs11_tool("--slot", str(fresh["id"]), "--init-token", "--label", "alpha",
                    "--so-pin", SO_PIN)
    _, err = cli.run("token", "check-pin", "--token", "alpha", env=env, expect=1)
    log.append(f"--token alpha (twice)\n{err}")
    cli.golden("errors-token", "".join(log))


def shared_library_without_pkcs11():
    """A real shared library that is not a PKCS#11 module."""
    out = subprocess.run(["ldconfig", "-p"], capture_output=True, text=True).stdout
    for name in ("libjansson.so.4", "libz.so.1"):
        m = re.search(r"\s" + re.escape(name) + r" \(libc6,x86-64\) => (\S+)", out)
        if m:
            return m.group(1)
    raise CheckFailed("found no libjansson or libz to load as a non-module")


def case_errors_module(cli):
    log = []
    _, err = cli.run("status", expect=1, module=False,
                     env={"HSMUX_MODULE": "/nonexistent/libnope.so"})
    log.append(err)
    saved = cli.opts.module
    cli.opts.module = "/nonexistent/libnope.so"
    _, err = cli.run("status", expect=1)
    log.append(err)
    cli.opts.module = shared_library_without_pkcs11()
    _, err = cli.run("token", "list", expect=1)
    log.append(err.replace(cli.opts.module, "<LIBRARY>"))
    cli.opts.module = saved
    cli.golden("errors-module", "".join(log))

    if cli.opts.mode == "router":
        # A bad config makes C_Initialize fail; the tool names the module and the fix.
        bad = os.path.join(cli.tmp, "bad.conf")
        with open(bad, "w") as f:
            f.write("[backend:soft]\ntype = softhsm\nfrobnicate = yes\n")
        _, err = cli.run("status", env={"HSMUX_CONF": bad}, expect=1)
        check(f"hsmux: module '{cli.opts.module}' failed to start" in err, err)
        check("frobnicate" in err, f"the module did not name the bad key: {err}")


def case_module_default(cli):
    """Without --module, the tool takes HSMUX_MODULE, then an installed module,
    then the module of its build tree."""
    def module_path(hsmux=None, env=None):
        saved = cli.opts.hsmux
        cli.opts.hsmux = hsmux or saved
        out, _ = cli.run("status", "--json", module=False, env=env)
        cli.opts.hsmux = saved
        return json.loads(out)["module"]["path"]

    check(module_path() == cli.opts.module,
          f"the build tree's module was not the default: {module_path()}")
    check(module_path(env={"HSMUX_MODULE": cli.opts.module}) == cli.opts.module,
          "HSMUX_MODULE was not used")

    # An installed layout: PREFIX/bin/hsmux beside PREFIX/lib*/libhsmux.so.
    for libdir in ("lib", "lib64", "lib/x86_64-linux-gnu"):
        prefix = os.path.join(cli.tmp, "prefix-" + libdir.replace("/", "-"))
        os.makedirs(os.path.join(prefix, "bin"))
        os.makedirs(os.path.join(prefix, libdir))
        hsmux = os.path.join(prefix, "bin", "hsmux")
        module = os.path.join(prefix, libdir, "libhsmux.so")
        shutil.copy(cli.opts.hsmux, hsmux)
        shutil.copy(cli.opts.module, module)
        check(module_path(hsmux) == module, f"{libdir}: installed module not found")
        check(module_path(hsmux, env={"HSMUX_MODULE": cli.opts.module}) == cli.opts.module,
              f"{libdir}: HSMUX_MODULE did not win over the installed module")


def case_errors_pin(cli):
    cli.init_token("alpha")
    log = []

    def attempt(title, *args, env=None):
        _, err = cli.run("token", "check-pin", "--token", "alpha", *args, env=env,
                         expect=1)
        log.append(f"{title}\n{err}")

    empty = os.path.join(cli.tmp, "empty.pin")
    open(empty, "w").close()
    attempt("wrong user PIN", env={"HSMUX_PIN": "wrong-pin"})
    attempt("wrong SO PIN", "--so", env={"HSMUX_SO_PIN": "wrong-pin"})
    attempt("no PIN, no terminal")
    attempt("no SO PIN, no terminal", "--so")
    attempt("empty PIN file", "--pin-file", empty)
    attempt("missing PIN file", "--pin-file", os.path.join(cli.tmp, "nope.pin"))
    attempt("empty HSMUX_PIN", env={"HSMUX_PIN": ""})
    attempt("PIN too long", env={"HSMUX_PIN": "x" * 256})
    cli.golden("errors-pin", "".join(log))


def case_errors_init(cli):
    cli.init_token("alpha")
    log = []

    def attempt(title, *args, env=None, expect=1):
        full_env = {"HSMUX_SO_PIN": SO_PIN, "HSMUX_PIN": USER_PIN}
        full_env.update(env or {})
        _, err = cli.run("token", "init", *args, env=full_env, expect=expect)
        log.append(f"{title}\n{err}")

    attempt("label in use", "--label", "alpha")
    attempt("label too long", "--label", "x" * 33, expect=2)
    attempt("label like a URI", "--label", "pkcs11:token=x", expect=2)
    attempt("trailing blank", "--label", "x ", expect=2)
    attempt("unknown backend", "--backend", "nope", "--label", "beta")
    attempt("user PIN too short", "--label", "beta", env={"HSMUX_PIN": "123"})
    attempt("SO PIN too short", "--label", "beta", env={"HSMUX_SO_PIN": "123"})
    cli.golden(f"errors-init-{mode_name(cli.opts)}", "".join(log))
    check(sorted(cli.pkcs11_tool_tokens()) == ["alpha"],
          f"a failed init left a token behind: {cli.pkcs11_tool_tokens()}")


# What `status --keys` must report about the keys that p11_keys.py makes: (label,
# class) -> reason, for the keys outside the rules. The reasons are the
# policy's words for the rules each key breaks, by construction of the key.
MIXED_ROLES = "it (or its key pair) holds a wrap role and an encrypt role, so it does neither"
KEYS_OUTSIDE = {
    ("aes-wrap-decrypt", "CKO_SECRET_KEY"): MIXED_ROLES,
    ("rsa-wrap-decrypt", "CKO_PRIVATE_KEY"): MIXED_ROLES,
    ("rsa-wrap-decrypt", "CKO_PUBLIC_KEY"): MIXED_ROLES,
    ("aes-extractable", "CKO_SECRET_KEY"): "it is not sensitive; it is extractable",
    ("aes-imported-wrap", "CKO_SECRET_KEY"):
        "it may wrap but was imported and is not trusted, so it wraps nothing",
    ("rsa-1024-sign", "CKO_PRIVATE_KEY"): "its RSA modulus is under the minimum size",
    ("rsa-1024-sign", "CKO_PUBLIC_KEY"): "its RSA modulus is under the minimum size",
    ("des3-crypt", "CKO_SECRET_KEY"): "it is a DES key",
}
KEYS_WITHIN = {("aes-clean", "CKO_SECRET_KEY"), ("ec-sign", "CKO_PRIVATE_KEY"),
               ("ec-sign", "CKO_PUBLIC_KEY")}
KEY_FACTS = {"aes-wrap-decrypt": ("01", "CKK_AES"), "rsa-wrap-decrypt": ("02", "CKK_RSA"),
             "aes-extractable": ("03", "CKK_AES"), "aes-clean": ("04", "CKK_AES"),
             "ec-sign": ("05", "CKK_EC"), "aes-imported-wrap": ("06", "CKK_AES"),
             "rsa-1024-sign": ("07", "CKK_RSA"), "des3-crypt": ("08", "CKK_DES3")}


def p11_keys(cli, module, action, label, env):
    """Runs p11_keys.py on module in a process of its own; returns its JSON."""
    argv = [sys.executable, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                         "p11_keys.py"),
            "--module", module, "--token", label, action]
    proc = subprocess.run(argv, env=dict(env, P11_KEYS_PIN=USER_PIN), capture_output=True,
                          text=True, timeout=60)
    check(proc.returncode == 0, f"p11_keys.py {action} on {module}: exit status "
          f"{proc.returncode}\n{proc.stdout}{proc.stderr}")
    return json.loads(proc.stdout)


def softhsm_direct_env(cli):
    """SoftHSM's own view of the store that the softhsm backend manages."""
    return dict(cli.env, SOFTHSM2_CONF=os.path.join(cli.store, "softhsm2.conf"))


def check_keys_json(keys):
    seen = {(k["label"], k["class"]): k for k in keys}
    check(set(seen) == set(KEYS_OUTSIDE) | KEYS_WITHIN and len(keys) == len(seen),
          f"status --keys lists {sorted(seen)}")
    for (label, cls), key in seen.items():
        check((key["id"], key["key_type"]) == KEY_FACTS[label], f"{label}: {key}")
        if (label, cls) in KEYS_OUTSIDE:
            check(key["within_rules"] is False and key["reason"] == KEYS_OUTSIDE[label, cls],
                  f"{label} {cls}: {key}")
        else:
            check(key["within_rules"] is True and key["reason"] is None, f"{label}: {key}")


def status_keys_router(cli):
    env = {"HSMUX_PIN": USER_PIN}
    log = []
    _, err = cli.run("status", "--keys", env=env, expect=1)
    log.append(f"fresh store\n{err}")
    cli.init_token("alpha")
    cli.init_token("beta")
    # Keys that hsmux would refuse to make, made behind its back on SoftHSM.
    direct = softhsm_direct_env(cli)
    p11_keys(cli, cli.opts.softhsm, "create", "alpha", direct)

    out, _ = cli.run("status", "--keys", env=env)
    cli.golden("status-keys-router", out)
    status = json.loads(cli.run("status", "--keys", "--json", env=env)[0])
    check(status["module"] == cli.opts.module, f"module {status['module']}")
    tokens = {t["label"]: t for t in status["tokens"]}
    check(sorted(tokens) == ["alpha", "beta"], f"tokens {sorted(tokens)}")
    alpha = tokens["alpha"]
    check((alpha["backend"], alpha["key_count"], alpha["outside_rules"]) == ("soft", 11, 8),
          f"alpha: {alpha}")
    check(alpha["serial"] == cli.pkcs11_tool_tokens()["alpha"], f"alpha serial {alpha}")
    check_keys_json(alpha["keys"])
    check((tokens["beta"]["key_count"], tokens["beta"]["keys"]) == (0, []), f"beta: {tokens}")

    pin_file = os.path.join(cli.tmp, "user.pin")
    with open(pin_file, "w") as f:
        f.write(USER_PIN + "\n")
    out, _ = cli.run("--json", "status", "--keys", "--token", "pkcs11:token=alpha",
                     "--pin-file", pin_file)
    only = json.loads(out)["tokens"]
    check([t["label"] for t in only] == ["alpha"], f"--token alpha lists {only}")
    check_keys_json(only[0]["keys"])

    # SoftHSM direct lets the WRAP+DECRYPT key do both, and the imported key wrap;
    # through hsmux they do none of it.
    plain = p11_keys(cli, cli.opts.softhsm, "use", "alpha", direct)
    check((plain["decrypt_wrap_decrypt_key"], plain["wrap_with_wrap_decrypt_key"],
           plain["wrap_with_imported_key"]) == ("CKR_OK",) * 3, f"SoftHSM direct: {plain}")
    used = p11_keys(cli, cli.opts.module, "use", "alpha", cli.tool_env())
    check(used == {"decrypt_wrap_decrypt_key": "CKR_KEY_FUNCTION_NOT_PERMITTED",
                   "encrypt_wrap_decrypt_key": "CKR_KEY_FUNCTION_NOT_PERMITTED",
                   "wrap_with_wrap_decrypt_key": "CKR_KEY_FUNCTION_NOT_PERMITTED",
                   "wrap_with_imported_key": "CKR_KEY_FUNCTION_NOT_PERMITTED",
                   "encrypt_clean_key": "CKR_OK", "decrypt_clean_key": "CKR_OK"},
          f"through hsmux: {used}")

    for title, args, run_env in (
            ("wrong PIN", [], {"HSMUX_PIN": "wrong-pin"}),
            ("no PIN, no terminal", ["--token", "alpha"], {}),
            ("unknown token", ["--token", "nope"], env)):
        _, err = cli.run("status", "--keys", *args, env=run_env, expect=1)
        log.append(f"{title}\n{err}")
    cli.golden("status-keys-errors-router", "".join(log))


def case_status_keys(cli):
    if cli.opts.mode == "router":
        status_keys_router(cli)
    else:
        cli.init_token("alpha")
        _, err = cli.run("status", "--keys", env={"HSMUX_PIN": USER_PIN}, expect=1)
        cli.golden("status-keys-direct", err)
    for argv, out, err in cli.runs:
        check(USER_PIN not in out and USER_PIN not in err, f"{argv} printed the PIN")


CASES = {name[len("case_"):]: fn for name, fn in globals().items()
         if name.startswith("case_")}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hsmux", required=True, help="the hsmux executable")
    parser.add_argument("--golden", required=True, help="folder of golden files")
    parser.add_argument("--mode", choices=("none", "direct", "router"), required=True)
    parser.add_argument("--module", help="PKCS#11 module the tool loads")
    parser.add_argument("--softhsm", help="SoftHSMv2's module")
    parser.add_argument("--pkcs11-tool", dest="pkcs11_tool", help="OpenSC's pkcs11-tool")
    parser.add_argument("case", choices=sorted(CASES))
    opts = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="hsmux-cli-")
    try:
        CASES[opts.case](Cli(opts, tmp))
    except CheckFailed as e:
        print(f"FAIL {opts.case} ({opts.mode}): {e}")
        return 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"PASS {opts.case} ({opts.mode})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
