// lockstep's Asyncify instrumenter: binaryen.js behind a line protocol.
//
// Each request on stdin is one JSON line:
// {"wasm": hex, "optimize": 0|1|3, "features": [binaryen feature names]}.
// The module is instrumented with binaryen's Asyncify pass (every import may
// unwind; the unwind buffer lives in a secondary memory of argv[2] pages,
// exported as `asyncify_memory`), then optimized at that level. The reply is
// one line: {"wasm": hex} or {"error": message}.
import binaryen from "binaryen";
import { createInterface } from "node:readline";

binaryen.setPassArgument("asyncify-in-secondary-memory", "true");
binaryen.setPassArgument("asyncify-secondary-memory-size", process.argv[2] ?? "16");

// Binaryen writes types and sections in the newest encoding its features
// allow (exact references, compact imports): it gets exactly the base
// engine's proposals, plus multi-memory for the unwind buffer.
function featureSet(names) {
  return names.reduce((set, name) => set | binaryen.Features[name], binaryen.Features.MultiMemory);
}

function instrument({ wasm, optimize, features }) {
  // Asyncify's own clean-up of the code it adds follows the optimize level.
  binaryen.setOptimizeLevel(optimize);
  binaryen.setShrinkLevel(0);
  const module = binaryen.readBinary(Buffer.from(wasm, "hex"), featureSet(features));
  try {
    module.runPasses(["asyncify"]);
    module.addMemoryExport("asyncify_memory", "asyncify_memory");
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
