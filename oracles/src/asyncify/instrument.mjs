// lockstep's Asyncify instrumenter: binaryen.js behind a line protocol.
//
// Each request on stdin is one JSON line:
// {"wasm": hex, "optimize": 0|1|3, "pages": N, "features": [binaryen feature names]}.
// The module is instrumented with binaryen's Asyncify pass (every import may
// unwind; the unwind buffer is a secondary memory of N pages), then optimized
// at that level. The reply is one line: {"wasm": hex} or {"error": message}.
//
// The instrumented module exports what the original did, plus the driver's
// exports under lockstep's own names (`lockstep:asyncify_start_unwind`, ...,
// `lockstep:asyncify_memory`); a module that imports no function has no driver
// functions, only the memory. A module instrumented by Asyncify already (CRuby
// on WASI ships so) keeps its own `asyncify_*` exports: they are moved aside
// while binaryen adds its functions under the same names, and put back after.
// lockstep's own output is refused: its names are taken.
import binaryen from "binaryen";
import { createInterface } from "node:readline";

binaryen.setPassArgument("asyncify-in-secondary-memory", "true");

const DRIVER_EXPORTS = [
  "asyncify_start_unwind",
  "asyncify_stop_unwind",
  "asyncify_start_rewind",
  "asyncify_stop_rewind",
  "asyncify_get_state",
];
const MEMORY = "asyncify_memory";
const OURS = "lockstep:";
const ASIDE = "lockstep-aside:";

// Binaryen writes types and sections in the newest encoding its features
// allow (exact references, compact imports): it gets exactly the base
// engine's proposals, plus multi-memory for the unwind buffer.
function featureSet(names) {
  return names.reduce((set, name) => set | binaryen.Features[name], binaryen.Features.MultiMemory);
}

// Re-exports `from` as `to`, of whatever kind it is.
function renameExport(module, from, to) {
  const exported = module.getExport(from);
  if (!exported) return false;
  const { kind, value } = binaryen.getExportInfo(exported);
  module.removeExport(from);
  const add = {
    [binaryen.ExternalFunction]: () => module.addFunctionExport(value, to),
    [binaryen.ExternalMemory]: () => module.addMemoryExport(value, to),
    [binaryen.ExternalGlobal]: () => module.addGlobalExport(value, to),
    [binaryen.ExternalTable]: () => module.addTableExport(value, to),
    [binaryen.ExternalTag]: () => module.addTagExport(value, to),
  }[kind];
  add();
  return true;
}

// Only an import call unwinds: in a module that imports no function, the
// driver's functions are never called, and go rather than be compiled for nothing.
// An import is a function without a body (its names may be empty).
function importsFunctions(module) {
  const count = module.getNumFunctions();
  for (let i = 0; i < count; i++) {
    if (!binaryen.getFunctionInfo(module.getFunctionByIndex(i)).body) return true;
  }
  return false;
}

function removeFunctionExport(module, name) {
  const { value } = binaryen.getExportInfo(module.getExport(name));
  module.removeExport(name);
  module.removeFunction(value);
}

function instrument({ wasm, optimize, pages, features }) {
  // Asyncify's own clean-up of the code it adds follows the optimize level.
  binaryen.setOptimizeLevel(optimize);
  binaryen.setShrinkLevel(0);
  binaryen.setPassArgument("asyncify-secondary-memory-size", String(pages));
  const module = binaryen.readBinary(Buffer.from(wasm, "hex"), featureSet(features));
  try {
    const names = [...DRIVER_EXPORTS, MEMORY];
    const taken = names.find((name) => module.getExport(OURS + name));
    if (taken) {
      throw new Error(`the module is lockstep's Asyncify output already (it exports \`${OURS + taken}\`); give lockstep the module it was made from`);
    }
    const aside = names.filter((name) => renameExport(module, name, ASIDE + name));
    module.runPasses(["asyncify"]);
    module.addMemoryExport(MEMORY, MEMORY);
    if (!importsFunctions(module)) DRIVER_EXPORTS.forEach((name) => removeFunctionExport(module, name));
    for (const name of names) renameExport(module, name, OURS + name);
    for (const name of aside) renameExport(module, ASIDE + name, name);
    if (optimize > 0) module.optimize();
    if (!module.validate()) {
      throw new Error("binaryen produced a module it does not validate");
    }
    return Buffer.from(module.emitBinary()).toString("hex");
  } finally {
    module.dispose();
  }
}

// Binaryen's fatal errors arrive as C++ exceptions; their text says why.
function describe(error) {
  if (error instanceof Error) return error.message;
  const [, message] = binaryen.getExceptionMessage(error);
  return String(message).replace(/^Fatal:\s*/, "").trim();
}

for await (const line of createInterface({ input: process.stdin })) {
  try {
    const wasm = instrument(JSON.parse(line));
    process.stdout.write(JSON.stringify({ wasm }) + "\n");
  } catch (error) {
    process.stdout.write(JSON.stringify({ error: describe(error) }) + "\n");
    // An abort leaves binaryen's runtime unusable; lockstep starts a new process.
    if (error instanceof WebAssembly.RuntimeError) process.exit(3);
  }
}
