#!/usr/bin/env python3
"""lockstep's wasmtime-py engine: any wasmtime release, from its PyPI `wasmtime` wheel, speaking
lockstep's external-engine protocol (docs/external-engines.md), one JSON message per line.

    lockstep_wasmtime.py VERSION             serve wasmtime VERSION (installed on first use)
    lockstep_wasmtime.py --install VERSION   only install it; exit 0 when it imports

The wheel of each release bundles that release's C API library, so old releases run as they
shipped, which is what bisecting a finding across releases needs:

    cargo xtask diff m.wasm --engine wasmtime@40.0.0="python3 engines/wasmtime-py/lockstep_wasmtime.py 40.0.0"

Each release is installed with pip into `$LOCKSTEP_TOOLS/wasmtime-py-VERSION` (default
`target/lockstep/tools/`), once, under a lock: several worker processes start at the same time.
"""

import fcntl
import os
import pathlib
import struct
import subprocess
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from lockstep_line import as_list, ask_host, check_protocol, digest, serve  # noqa: E402

# Without Rust backtraces: a trap message needs none, and a panic's own message, not the end
# of a backtrace, is then among the last lines of standard error that lockstep reports.
os.environ["RUST_BACKTRACE"] = "0"
os.environ["RUST_LIB_BACKTRACE"] = "0"

# What every wasmtime release with a Python wheel runs by default: WebAssembly 2.0.
PROPOSALS = [
    "mutable-global",
    "saturating-float-to-int",
    "sign-extension",
    "reference-types",
    "multi-value",
    "bulk-memory",
    "simd",
]

# Later proposals, each declared when the release's Python API can switch it on.
OPTIONAL_PROPOSALS = [
    ("tail-call", "wasm_tail_call"),
    ("multi-memory", "wasm_multi_memory"),
    ("memory64", "wasm_memory64"),
]

# wasmtime's trap codes (by their Python name), as lockstep's.
TRAPS = {
    "UNREACHABLE": "Unreachable",
    "INTEGER_DIVISION_BY_ZERO": "IntegerDivideByZero",
    "INTEGER_OVERFLOW": "IntegerOverflow",
    "BAD_CONVERSION_TO_INTEGER": "InvalidConversionToInteger",
    "MEMORY_OUT_OF_BOUNDS": "MemoryOutOfBounds",
    "TABLE_OUT_OF_BOUNDS": "TableOutOfBounds",
    "INDIRECT_CALL_TO_NULL": "IndirectCallToNull",
    "BAD_SIGNATURE": "IndirectCallTypeMismatch",
    "HEAP_MISALIGNED": "UnalignedAtomic",
    "NULL_REFERENCE": "NullReference",
    "ARRAY_OUT_OF_BOUNDS": "ArrayOutOfBounds",
    "CAST_FAILURE": "CastFailure",
    "ALLOCATION_TOO_LARGE": "AllocationTooLarge",
}

# Trap codes that are a resource running out rather than the Wasm trapping.
EXHAUSTED = {"STACK_OVERFLOW": "Stack", "INTERRUPT": "Time", "OUT_OF_FUEL": "Fuel"}

# What wasmtime says when linking fails, rather than a resource limit or the start function.
UNLINKABLE = ["unknown import", "incompatible import", "imports, found", "types incompatible"]

# How wasmtime words a store limit refusing to grow or allocate.
LIMIT_REFUSALS = ["limit", "exceeds", "resource"]

SCALARS = ("i32", "i64", "f32", "f64")


class Unsupported(Exception):
    pass


def install_dir(version):
    tools = os.environ.get("LOCKSTEP_TOOLS")
    root = pathlib.Path(tools) if tools else pathlib.Path(__file__).resolve().parents[2] / "target/lockstep/tools"
    return root / f"wasmtime-py-{version}"


def install(version):
    """Installs the wheel of `version` unless it is there; returns None or why it cannot be."""
    target = install_dir(version)
    target.parent.mkdir(parents=True, exist_ok=True)
    with open(f"{target}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if (target / "wasmtime").is_dir():
            return None
        partial = pathlib.Path(f"{target}.partial")
        command = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                   "--no-deps", "--target", str(partial), f"wasmtime=={version}"]
        # pip's output goes to standard error: standard output is the protocol's.
        done = subprocess.run(command, stdout=sys.stderr, stderr=subprocess.PIPE, text=True)
        if done.returncode != 0:
            lines = [line for line in done.stderr.splitlines() if line.strip()]
            return f"`{' '.join(command[2:])}` failed: {lines[-1] if lines else done.returncode}"
        partial.rename(target)
    return None


def load_wasmtime(version):
    """The `wasmtime` module of `version`, or why it cannot be had."""
    why = install(version)
    if why:
        return None, why
    sys.path.insert(0, str(install_dir(version)))
    try:
        import wasmtime
    except Exception as error:  # a wheel for another Python or machine fails in many ways
        return None, f"the wasmtime {version} wheel does not load here: {error}"
    return wasmtime, None


class Values:
    """lockstep's values (bits as decimal strings) to wasmtime-py's and back."""

    def __init__(self, wasmtime):
        self.w = wasmtime

    def to_wasm(self, value):
        kind, Val = value["type"], self.w.Val
        bits = int(value.get("value", 0))
        if kind == "i32":
            return Val.i32(struct.unpack("<i", struct.pack("<I", bits))[0])
        if kind == "i64":
            return Val.i64(struct.unpack("<q", struct.pack("<Q", bits))[0])
        if kind == "f32":
            return Val.f32(struct.unpack("<f", struct.pack("<I", bits))[0])
        if kind == "f64":
            return Val.f64(struct.unpack("<d", struct.pack("<Q", bits))[0])
        if kind == "ref.null" and value["heap"] in ("func", "extern"):
            return Val.funcref(None) if value["heap"] == "func" else Val.externref(None)
        if kind == "ref.extern" and "value" in value:
            return Val.externref(int(value["value"]))
        raise Unsupported(f"wasmtime-py cannot pass a {kind}")

    def from_wasm(self, value, kind):
        if isinstance(value, self.w.Val):
            value = value.value
        if kind in SCALARS:
            fmt = {"i32": ("<i", "<I"), "i64": ("<q", "<Q"), "f32": ("<f", "<I"), "f64": ("<d", "<Q")}[kind]
            return {"type": kind, "value": str(struct.unpack(fmt[1], struct.pack(fmt[0], value))[0])}
        if kind in ("funcref", "externref"):
            if value is None:
                return {"type": "ref.null", "heap": kind[:-3]}
            if kind == "funcref":
                return {"type": "ref.func"}
            return {"type": "ref.extern", "value": value} if isinstance(value, int) else {"type": "ref.extern"}
        raise Unsupported(f"wasmtime-py cannot return a {kind}")

    def type_of(self, kind):
        ValType = self.w.ValType
        makers = {"i32": ValType.i32, "i64": ValType.i64, "f32": ValType.f32, "f64": ValType.f64,
                  "funcref": ValType.funcref, "externref": ValType.externref}
        if kind not in makers:
            raise Unsupported(f"wasmtime-py has no {kind}")
        return makers[kind]()


class Session:
    """One `reset`: a store with the limits applied, lockstep's `spectest`, modules and instances."""

    def __init__(self, wasmtime, engine, limits):
        self.w = wasmtime
        self.values = Values(wasmtime)
        self.engine = engine
        self.store = wasmtime.Store(engine)
        self.store.set_limits(**{
            name: limits[key] for name, key in
            [("memory_size", "memory_bytes"), ("table_elements", "table_elements"), ("instances", "instances")]
            if limits.get(key) is not None
        })
        self.modules = {}
        self.instances = {}
        self.registered = {}
        self.spectest = self.spectest_items()

    def spectest_items(self):
        w, store = self.w, self.store
        items = {}
        prints = {"print": [], "print_i32": ["i32"], "print_i64": ["i64"], "print_f32": ["f32"],
                  "print_f64": ["f64"], "print_i32_f32": ["i32", "f32"], "print_f64_f64": ["f64", "f64"]}
        for name, params in prints.items():
            items[name] = w.Func(store, w.FuncType([self.values.type_of(p) for p in params], []), lambda *a: None)
        for name, kind, value in [("global_i32", "i32", 666), ("global_i64", "i64", 666),
                                  ("global_f32", "f32", 666.6), ("global_f64", "f64", 666.6)]:
            items[name] = w.Global(store, w.GlobalType(self.values.type_of(kind), False), getattr(w.Val, kind)(value))
        items["table"] = w.Table(store, w.TableType(w.ValType.funcref(), w.Limits(10, 20)), None)
        items["memory"] = w.Memory(store, w.MemoryType(w.Limits(1, 2)))
        return items

    def load(self, request):
        try:
            module = self.w.Module(self.engine, bytes.fromhex(request["wasm"]))
        except self.w.WasmtimeError as error:
            return {"invalid": str(error)}
        self.modules[request["module"]] = (module, request["exports"])
        return {"values": []}

    def instantiate(self, request):
        module, exports = self.modules[request["module"]]
        linker = self.w.Linker(self.engine)
        linker.allow_shadowing = True
        for name, item in self.spectest.items():
            linker.define(self.store, "spectest", name, item)
        for name, (instance, _) in self.registered.items():
            linker.define_instance(self.store, name, instance)
        for host in request["host_functions"]:
            params = [self.values.type_of(t) for t in host["params"]]
            results = [self.values.type_of(t) for t in host["results"]]
            function = self.w.Func(self.store, self.w.FuncType(params, results), self.host_function(host))
            linker.define(self.store, host["module"], host["name"], function)
        try:
            instance = linker.instantiate(self.store, module)
        except self.w.WasmtimeError as error:
            message = str(error)
            if any(text in message for text in UNLINKABLE):
                return {"unlinkable": message}
            if any(text in message for text in LIMIT_REFUSALS):
                return {"exhausted": "Memory"}
            raise
        self.instances[request["instance"]] = (instance, exports)
        return {"values": []}

    def host_function(self, host):
        """An import lockstep answers: each call asks it for the results."""
        def call(*args):
            wire = [self.values.from_wasm(a, t) for a, t in zip(args, host["params"])]
            values = [self.values.to_wasm(v) for v in ask_host(host["id"], wire)]
            return values[0] if len(values) == 1 else (values or None)
        return call

    def register(self, request):
        self.registered[request["name"]] = self.instances[request["instance"]]
        return {"values": []}

    def export(self, request):
        instance, exports = self.instances[request["instance"]]
        declared = next(e for e in exports if e["name"] == request["export"])
        return instance.exports(self.store)[declared["name"]], declared

    def invoke(self, request):
        function, declared = self.export(request)
        args = [self.values.to_wasm(arg) for arg in request["args"]]
        results = declared.get("results", [])
        for kind in results:
            self.values.type_of(kind)
        returned = as_list(function(self.store, *args), len(results))
        return {"values": [self.values.from_wasm(v, t) for v, t in zip(returned, results)]}

    def global_(self, request):
        global_, declared = self.export(request)
        return {"values": [self.values.from_wasm(global_.value(self.store), declared["type"])]}

    def state(self, request):
        instance, exports = self.instances[request["instance"]]
        items = instance.exports(self.store)
        state = {"globals": [], "memories": [], "tables": []}
        for export in exports:
            item = items[export["name"]]
            if export["kind"] == "global" and export["type"] in SCALARS:
                value = self.values.from_wasm(item.value(self.store), export["type"])
                state["globals"].append({"name": export["name"], "value": value})
            elif export["kind"] == "memory":
                data = item.read(self.store, 0, item.data_len(self.store))
                state["memories"].append({"name": export["name"], "size": len(data), "digest": digest(data)})
            elif export["kind"] == "table":
                size = item.size(self.store)
                nulls = bytes(int(null_ref(item.get(self.store, i))) for i in range(size))
                state["tables"].append({"name": export["name"], "size": size, "digest": digest(nulls)})
        return {"state": state}


def null_ref(value):
    return value is None or getattr(value, "value", False) is None


def failure(wasmtime, error):
    """An exception while serving a request, as the protocol's outcome."""
    if isinstance(error, Unsupported):
        return {"unsupported": str(error)}
    if wasmtime is not None and isinstance(error, wasmtime.Trap):
        code = getattr(getattr(error, "trap_code", None), "name", None)
        if code in EXHAUSTED:
            return {"exhausted": EXHAUSTED[code]}
        return {"trap": {"code": TRAPS.get(code, "Other"), "message": error.message}}
    return {"error": f"{type(error).__name__}: {error}"}


def hello(request, version, wasmtime, why):
    if wasmtime is None:
        return {"unavailable": why}
    if check_protocol(request):
        return check_protocol(request)
    config = wasmtime.Config()
    proposals = list(PROPOSALS)
    for proposal, setter in OPTIONAL_PROPOSALS:
        if hasattr(type(config), setter):
            proposals.append(proposal)
    # Store.set_limits applies the memory, table and instance limits; a running call is not
    # interrupted (no epoch deadline is set), lockstep's deadline kills it.
    return {"hello": {"name": "wasmtime", "version": f"{version} (wasmtime-py)", "proposals": proposals,
                      "validates": True, "unapplied": ["call_time_ms"]}}


def new_engine(wasmtime):
    config = wasmtime.Config()
    for _, setter in OPTIONAL_PROPOSALS:
        if hasattr(type(config), setter):
            setattr(config, setter, True)
    return wasmtime.Engine(config)


def serve_release(version):
    wasmtime, why = load_wasmtime(version)
    engine = new_engine(wasmtime) if wasmtime else None
    serve(
        lambda request: hello(request, version, wasmtime, why),
        lambda limits: Session(wasmtime, engine, limits),
        lambda error: failure(wasmtime, error),
    )


def main(args):
    if len(args) == 2 and args[0] == "--install":
        why = load_wasmtime(args[1])[1]
        if why:
            print(why, file=sys.stderr)
        return 1 if why else 0
    if len(args) != 1:
        print(__doc__, file=sys.stderr)
        return 2
    serve_release(args[0])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
