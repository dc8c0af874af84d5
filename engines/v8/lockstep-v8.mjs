// lockstep's V8 engine: Node.js's WebAssembly JS API speaking lockstep's external-engine
// protocol (docs/external-engines.md), one JSON message per line on stdin/stdout.
//
// Everything is synchronous, stdin included: a host function called in the middle of
// a Wasm call must ask lockstep for its results and wait for the answer.

import fs from 'node:fs';

const PROTOCOL = 2;

// The id of the request being served: its reply and every host call made meanwhile carry it.
let serving = 0;

// Proposals by the V8 version that shipped them without flags. Node.js reports
// its V8 in process.versions.v8 ("11.3.244.8-node.19" for Node 20).
const SHIPPED = [
  [[7, 0], ['mutable-global', 'saturating-float-to-int', 'sign-extension', 'multi-value', 'bulk-memory', 'threads']],
  [[9, 1], ['reference-types', 'simd']],
  [[9, 5], ['legacy-exceptions']],
  [[11, 2], ['tail-call']],
  [[11, 4], ['extended-const', 'relaxed-simd']],
  [[11, 9], ['function-references', 'gc']],
  [[12, 0], ['multi-memory']],
  [[13, 3], ['memory64']],
  [[13, 7], ['exceptions']],
];

function proposals() {
  const [major, minor] = process.versions.v8.split('.').map(Number);
  const shipped = ([m, n]) => major > m || (major === m && minor >= n);
  return SHIPPED.filter(([version]) => shipped(version)).flatMap(([, names]) => names);
}

// ---- lines in, lines out -------------------------------------------------------------

const input = { buffer: Buffer.alloc(0) };

function readLine() {
  const chunk = Buffer.alloc(1 << 16);
  for (;;) {
    const end = input.buffer.indexOf(10);
    if (end >= 0) {
      const line = input.buffer.subarray(0, end).toString('utf8');
      input.buffer = input.buffer.subarray(end + 1);
      return line;
    }
    let read;
    try {
      read = fs.readSync(0, chunk, 0, chunk.length, null);
    } catch (e) {
      if (e.code === 'EAGAIN') continue;
      throw e;
    }
    if (read === 0) return null;
    input.buffer = Buffer.concat([input.buffer, chunk.subarray(0, read)]);
  }
}

function send(message) {
  const line = Buffer.from(JSON.stringify({ id: serving, ...message }) + '\n');
  for (let written = 0; written < line.length;) {
    written += fs.writeSync(1, line, written);
  }
}

// ---- values ----------------------------------------------------------------------------

const scratch = new DataView(new ArrayBuffer(8));

// An externref created by lockstep: a JS object, so that null stays null.
class HostRef {
  constructor(payload) { this.payload = payload; }
}

class Unsupported extends Error {}

function toJs(value) {
  const bits = value.value;
  switch (value.type) {
    case 'i32': return Number(BigInt.asIntN(32, BigInt(bits)));
    case 'i64': return BigInt.asIntN(64, BigInt(bits));
    case 'f32': scratch.setUint32(0, Number(bits)); return scratch.getFloat32(0);
    case 'f64': scratch.setBigUint64(0, BigInt(bits)); return scratch.getFloat64(0);
    case 'ref.null': return null;
    case 'ref.extern': return new HostRef(value.value);
    case 'v128': throw new Unsupported('the JS API cannot pass v128 values');
    default: throw new Unsupported(`the JS API cannot pass a ${value.type}`);
  }
}

// The wire form of JS value `v` of Wasm type `type`. JS numbers keep no NaN payload:
// a NaN comes back as the canonical one.
function fromJs(v, type) {
  switch (type) {
    case 'i32': return { type, value: String(v >>> 0) };
    case 'i64': return { type, value: BigInt.asUintN(64, v).toString() };
    case 'f32': scratch.setFloat32(0, v); return { type, value: String(scratch.getUint32(0)) };
    case 'f64': scratch.setFloat64(0, v); return { type, value: scratch.getBigUint64(0).toString() };
    default: return fromJsRef(v, type);
  }
}

function fromJsRef(v, type) {
  if (v === null) return { type: 'ref.null', heap: type.replace(/ref$/, '') };
  if (v instanceof HostRef) return { type: 'ref.extern', value: v.payload };
  if (typeof v === 'function') return { type: 'ref.func' };
  if (type === 'externref') return { type: 'ref.extern' };
  return { type: 'ref' };
}

// ---- outcomes --------------------------------------------------------------------------

// V8's trap messages, as lockstep's trap codes: a message V8 uses for more
// than one trap maps to every code it may stand for.
const TRAPS = [
  ['unreachable', 'Unreachable'],
  ['divide by zero', 'IntegerDivideByZero'],
  ['remainder by zero', 'IntegerDivideByZero'],
  ['divide result unrepresentable', 'IntegerOverflow'],
  // Both float-to-integer traps: a NaN and an out-of-range value.
  ['float unrepresentable in integer range', ['InvalidConversionToInteger', 'IntegerOverflow']],
  ['memory access out of bounds', 'MemoryOutOfBounds'],
  ['data segment', 'MemoryOutOfBounds'],
  ['table index is out of bounds', 'TableOutOfBounds'],
  ['element segment', 'TableOutOfBounds'],
  ['table access out of bounds', 'TableOutOfBounds'],
  // Both kinds of bad indirect call: a null entry and a wrong type.
  ['null function or function signature mismatch', ['IndirectCallToNull', 'IndirectCallTypeMismatch']],
  ['function signature mismatch', 'IndirectCallTypeMismatch'],
  ['dereferencing a null pointer', 'NullReference'],
  ['illegal cast', 'CastFailure'],
  ['array element access out of bounds', 'ArrayOutOfBounds'],
  ['operation does not support unaligned accesses', 'UnalignedAtomic'],
  ['atomics wait operation on non-shared', 'AtomicWaitOnNonSharedMemory'],
];

function failure(error, session) {
  const message = String(error && error.message);
  if (error instanceof Unsupported) return { unsupported: message };
  if (error instanceof WebAssembly.Exception) return session.exception(error);
  if (error instanceof WebAssembly.CompileError) return { invalid: message };
  if (error instanceof WebAssembly.LinkError) return { unlinkable: message };
  if (error instanceof RangeError && /call stack/.test(message)) return { exhausted: 'Stack' };
  if (error instanceof RangeError && /memory|allocat/i.test(message)) return { exhausted: 'Memory' };
  if (error instanceof WebAssembly.RuntimeError) {
    const known = TRAPS.find(([text]) => message.includes(text));
    const codes = known ? known[1] : 'Other';
    return { trap: Array.isArray(codes) ? { codes, message } : { code: codes, message } };
  }
  if (error instanceof HostTrap) return { trap: { code: 'Host', message } };
  return { error: `${error && error.name}: ${message}` };
}

class HostTrap extends Error {}

// ---- the spectest module ---------------------------------------------------------------

function spectest() {
  const print = () => {};
  const global = (value, init) => new WebAssembly.Global({ value, mutable: false }, init);
  const prints = ['print', 'print_i32', 'print_i64', 'print_f32', 'print_f64', 'print_i32_f32', 'print_f64_f64'];
  return {
    ...Object.fromEntries(prints.map((name) => [name, print])),
    global_i32: global('i32', 666),
    global_i64: global('i64', 666n),
    global_f32: global('f32', 666.6),
    global_f64: global('f64', 666.6),
    table: new WebAssembly.Table({ initial: 10, maximum: 20, element: 'anyfunc' }),
    memory: new WebAssembly.Memory({ initial: 1, maximum: 2 }),
    shared_memory: new WebAssembly.Memory({ initial: 1, maximum: 2, shared: true }),
  };
}

// ---- digests ---------------------------------------------------------------------------

// FNV-1a, 64-bit, in two 32-bit halves: the prime is 2^40 + 0x1b3.
function digest(bytes) {
  let hi = 0xcbf29ce4, lo = 0x84222325;
  for (let i = 0; i < bytes.length; i++) {
    lo = (lo ^ bytes[i]) >>> 0;
    const loTimes = lo * 0x1b3;
    const carry = Math.floor(loTimes / 0x100000000);
    hi = (Math.imul(hi, 0x1b3) + carry + ((lo << 8) >>> 0)) >>> 0;
    lo = loTimes >>> 0;
  }
  return ((BigInt(hi) << 32n) | BigInt(lo)).toString();
}

// ---- the session -----------------------------------------------------------------------

class Session {
  constructor() {
    this.spectest = spectest();
    this.modules = new Map();
    this.instances = new Map();
    this.registered = new Map();
  }

  load({ module, wasm, exports }) {
    const compiled = new WebAssembly.Module(Buffer.from(wasm, 'hex'));
    this.modules.set(module, { compiled, exports });
    return { values: [] };
  }

  instantiate({ module, instance, host_functions }) {
    const { compiled, exports } = this.modules.get(module);
    const imports = {};
    // What nobody provides stays missing, and V8 finds the module unlinkable.
    for (const { module: from, name } of WebAssembly.Module.imports(compiled)) {
      imports[from] ??= {};
      const source = from === 'spectest' ? this.spectest : this.registered.get(from);
      if (source && name in source) imports[from][name] = source[name];
    }
    for (const host of host_functions) {
      imports[host.module] ??= {};
      imports[host.module][host.name] = hostFunction(host);
    }
    const created = new WebAssembly.Instance(compiled, imports);
    this.instances.set(instance, { exports: created.exports, types: exports });
    return { values: [] };
  }

  register({ instance, name }) {
    this.registered.set(name, this.instances.get(instance).exports);
    return { values: [] };
  }

  invoke({ instance, export: name, args }) {
    const { exports, types } = this.instances.get(instance);
    const type = types.find((t) => t.name === name);
    const params = [...(type.params ?? []), ...(type.results ?? [])];
    if (params.includes('v128')) throw new Unsupported('the JS API cannot pass v128 values');
    const returned = exports[name](...args.map(toJs));
    const results = type.results ?? [];
    const values = results.length === 1 ? [returned] : results.length === 0 ? [] : [...returned];
    return { values: values.map((v, i) => fromJs(v, results[i])) };
  }

  global({ instance, export: name }) {
    const { exports, types } = this.instances.get(instance);
    const type = types.find((t) => t.name === name).type;
    if (type === 'v128') throw new Unsupported('the JS API cannot read v128 globals');
    return { values: [fromJs(exports[name].value, type)] };
  }

  state({ instance }) {
    const { exports, types } = this.instances.get(instance);
    const state = { globals: [], memories: [], tables: [] };
    for (const { name, kind, type } of types) {
      const item = exports[name];
      if (kind === 'global' && type !== 'v128') state.globals.push({ name, value: fromJs(item.value, type) });
      if (kind === 'memory') {
        const bytes = new Uint8Array(item.buffer);
        state.memories.push({ name, size: bytes.length, digest: digest(bytes) });
      }
      if (kind === 'table') {
        const nulls = Uint8Array.from({ length: item.length }, (_, i) => (item.get(i) === null ? 1 : 0));
        state.tables.push({ name, size: item.length, digest: digest(nulls) });
      }
    }
    return { state };
  }

  // An uncaught Wasm exception, named by a tag some instance exports.
  exception(error) {
    for (const { exports, types } of [...this.instances.values()].reverse()) {
      for (const { name, kind, params } of types) {
        if (kind !== 'tag' || !error.is(exports[name])) continue;
        const payload = (params ?? []).map((type, i) => fromJs(error.getArg(exports[name], i), type));
        return { exception: { tag: name, payload } };
      }
    }
    return { exception: { tag: '#unknown', payload: [] } };
  }
}

// An import lockstep answers: each call asks it for the results.
function hostFunction({ id, params, results }) {
  return (...args) => {
    send({ host: { function: id, args: args.map((v, i) => fromJs(v, params[i])) } });
    const reply = JSON.parse(readLine());
    if (!reply.values) throw new HostTrap(JSON.stringify(reply));
    const values = reply.values.map(toJs);
    return results.length === 1 ? values[0] : results.length === 0 ? undefined : values;
  };
}

// ---- the loop --------------------------------------------------------------------------

function hello() {
  return {
    hello: {
      name: 'v8',
      version: `${process.versions.v8} (Node.js ${process.version})`,
      proposals: proposals(),
    },
  };
}

function main() {
  let session = new Session();
  for (let line = readLine(); line !== null; line = readLine()) {
    if (line.trim() === '') continue;
    const request = JSON.parse(line);
    serving = request.id;
    let reply;
    try {
      switch (request.op) {
        case 'hello': reply = request.protocol === PROTOCOL ? hello() : { unavailable: `protocol ${request.protocol} is not ${PROTOCOL}` }; break;
        case 'reset': session = new Session(); reply = { values: [] }; break;
        case 'load':
        case 'instantiate':
        case 'register':
        case 'invoke':
        case 'global':
        case 'state': reply = session[request.op](request); break;
        default: reply = { error: `unknown op ${request.op}` };
      }
    } catch (error) {
      reply = failure(error, session);
    }
    send(reply);
  }
}

main();
