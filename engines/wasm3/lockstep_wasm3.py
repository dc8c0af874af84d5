#!/usr/bin/env python3
"""lockstep's wasm3 engine: wasm3 through its Python binding (pywasm3), speaking lockstep's
external-engine protocol (docs/external-engines.md), one JSON message per line.

Each instance gets a wasm3 runtime of its own: wasm3 looks functions up by name
across a runtime, so two instances in one runtime would shadow each other.
Imports between instances are linked as functions that call into the other runtime.
"""

import json
import pathlib
import struct
import sys

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[1]))
from lockstep_line import as_list, ask_host, check_protocol, digest, serve  # noqa: E402

try:
    import wasm3
except ImportError as missing:
    wasm3 = None
    MISSING = f"the Python module `wasm3` is not installed ({missing}); `python3 -m pip install pywasm3==0.5.0`"

# What wasm3 0.5 implements beyond the MVP. Bulk memory is only partly there
# (memory.copy and memory.fill), reference types and SIMD are not.
PROPOSALS = ["mutable-global", "saturating-float-to-int", "sign-extension", "multi-value"]

STACK_BYTES = 1 << 20

# wasm3's trap messages, as lockstep's trap codes.
TRAPS = [
    ("out of bounds memory access", "MemoryOutOfBounds"),
    ("integer divide by zero", "IntegerDivideByZero"),
    ("integer overflow", "IntegerOverflow"),
    ("invalid conversion to integer", "InvalidConversionToInteger"),
    ("indirect call type mismatch", "IndirectCallTypeMismatch"),
    ("undefined element", "TableOutOfBounds"),
    ("null table element", "IndirectCallToNull"),
    ("unreachable", "Unreachable"),
]

# What wasm3 says when instantiation fails before any code runs.
INSTANTIATION_FAILURES = [
    ("data segment", {"trap": {"code": "MemoryOutOfBounds", "message": ""}}),
    ("unallocated linear memory", {"trap": {"code": "MemoryOutOfBounds", "message": ""}}),
    ("table underflow", {"trap": {"code": "TableOutOfBounds", "message": ""}}),
    ("memory allocation failed", {"exhausted": "Memory"}),
]

SIGNATURE_LETTERS = {"i32": "i", "i64": "I", "f32": "f", "f64": "F"}


class Unsupported(Exception):
    pass


class Unlinkable(Exception):
    pass


def to_python(value):
    bits = int(value.get("value", 0))
    kind = value["type"]
    if kind == "i32":
        return struct.unpack("<i", struct.pack("<I", bits))[0]
    if kind == "i64":
        return struct.unpack("<q", struct.pack("<Q", bits))[0]
    if kind == "f32":
        return struct.unpack("<f", struct.pack("<I", bits))[0]
    if kind == "f64":
        return struct.unpack("<d", struct.pack("<Q", bits))[0]
    raise Unsupported(f"wasm3 cannot take a {kind}")


def from_python(value, kind):
    if kind == "i32":
        bits = struct.unpack("<I", struct.pack("<i", value))[0]
    elif kind == "i64":
        bits = struct.unpack("<Q", struct.pack("<q", value))[0]
    elif kind == "f32":
        bits = struct.unpack("<I", struct.pack("<f", value))[0]
    elif kind == "f64":
        bits = struct.unpack("<Q", struct.pack("<d", value))[0]
    else:
        raise Unsupported(f"wasm3 cannot return a {kind}")
    return {"type": kind, "value": str(bits)}


def failure(error):
    message = str(error)
    if isinstance(error, Unsupported):
        return {"unsupported": message}
    if isinstance(error, Unlinkable):
        return {"unlinkable": message}
    if "stack overflow" in message:
        return {"exhausted": "Stack"}
    for text, outcome in INSTANTIATION_FAILURES:
        if text in message:
            return json.loads(json.dumps(outcome).replace('""', json.dumps(message)))
    if "[trap]" in message:
        code = next((code for text, code in TRAPS if text in message), "Other")
        return {"trap": {"code": code, "message": message}}
    return {"error": f"{type(error).__name__}: {message}"}


class Instance:
    def __init__(self, module, runtime, wasm_module):
        self.module = module
        self.runtime = runtime
        self.wasm_module = wasm_module

    def function(self, name):
        return self.runtime.find_function(name)


class Session:
    def __init__(self):
        self.modules = {}
        self.instances = {}
        self.registered = {}
        self.environment = wasm3.Environment()

    def load(self, request):
        wasm = bytes.fromhex(request["wasm"])
        try:
            self.environment.parse_module(wasm)
        except RuntimeError as error:
            return {"invalid": str(error)}
        self.modules[request["module"]] = (wasm, request["imports"], request["exports"])
        return {"values": []}

    def instantiate(self, request):
        wasm, imports, exports = self.modules[request["module"]]
        runtime = self.environment.new_runtime(STACK_BYTES)
        module = self.environment.parse_module(wasm)
        runtime.load(module)
        hosts = {(h["module"], h["name"]): h for h in request["host_functions"]}
        for imported in imports:
            self.link(module, imported, hosts)
        instance = Instance({"exports": exports}, runtime, module)
        # wasm3 compiles lazily; finding every export compiles it (and runs the start function).
        for export in exports:
            if export["kind"] == "func":
                instance.function(export["name"])
        self.instances[request["instance"]] = instance
        return {"values": []}

    def link(self, module, imported, hosts):
        where = (imported["module"], imported["name"])
        if imported["kind"] != "func":
            if imported["module"] == "spectest" or imported["module"] in self.registered:
                raise Unsupported(f"wasm3 0.5 links only function imports, not the {imported['kind']} {where}")
            raise Unlinkable(f"unknown import {where}")
        params, results = imported.get("params", []), imported.get("results", [])
        if len(results) > 1 or any(t not in SIGNATURE_LETTERS for t in params + results):
            raise Unsupported(f"wasm3 cannot link import {where} of this type")
        if imported["module"] == "spectest" and imported["name"].startswith("print"):
            target = lambda *args: None
        elif imported["module"] in self.registered:
            other = self.registered[imported["module"]]
            if not any(e["name"] == imported["name"] for e in other.module["exports"]):
                raise Unlinkable(f"unknown import {where}")
            target = other.function(imported["name"])
        elif where in hosts:
            target = host_function(hosts[where])
        else:
            raise Unlinkable(f"unknown import {where}")
        result = SIGNATURE_LETTERS[results[0]] if results else "v"
        signature = result + "(" + "".join(SIGNATURE_LETTERS[t] for t in params) + ")"
        module.link_function(imported["module"], imported["name"], signature, target)

    def register(self, request):
        self.registered[request["name"]] = self.instances[request["instance"]]
        return {"values": []}

    def invoke(self, request):
        instance = self.instances[request["instance"]]
        export = export_named(instance, request["export"])
        args = [to_python(arg) for arg in request["args"]]
        results = export.get("results", [])
        returned = as_list(instance.function(export["name"])(*args), len(results))
        return {"values": [from_python(v, t) for v, t in zip(returned, results)]}

    def global_(self, request):
        instance = self.instances[request["instance"]]
        export = export_named(instance, request["export"])
        return {"values": [from_python(instance.wasm_module.get_global(export["name"]), export["type"])]}

    def state(self, request):
        instance = self.instances[request["instance"]]
        state = {"globals": [], "memories": [], "tables": []}
        for export in instance.module["exports"]:
            if export["kind"] == "global" and export["type"] in SIGNATURE_LETTERS:
                value = instance.wasm_module.get_global(export["name"])
                state["globals"].append({"name": export["name"], "value": from_python(value, export["type"])})
            if export["kind"] == "memory":
                memory = instance.runtime.get_memory(0)
                state["memories"].append({"name": export["name"], "size": len(memory), "digest": digest(memory)})
        return {"state": state}


def export_named(instance, name):
    return next(e for e in instance.module["exports"] if e["name"] == name)


def host_function(host):
    """An import lockstep answers: each call asks it for the results."""
    def call(*args):
        values = [to_python(v) for v in ask_host(host["id"], [from_python(a, t) for a, t in zip(args, host["params"])])]
        return values[0] if values else None
    return call


def hello(request):
    if wasm3 is None:
        return {"unavailable": MISSING}
    if check_protocol(request):
        return check_protocol(request)
    # wasm3 validates a function only when it first compiles it, at its first call.
    return {
        "hello": {
            "name": "wasm3",
            "version": wasm3.M3_VERSION + " (pywasm3)",
            "proposals": PROPOSALS,
            "validates": False,
            # pywasm3 has no limits to set: memories grow to wasm3's own maximum, and a running
            # call cannot be interrupted (lockstep's deadline kills it).
            "unapplied": ["memory_bytes", "table_elements", "instances", "call_time_ms"],
        }
    }


def main():
    serve(hello, lambda limits: Session(), failure)


if __name__ == "__main__":
    main()
