// lockstep's V8 engine: Node.js's WebAssembly JS API speaking lockstep's external-engine
// protocol (docs/external-engines.md), one JSON message per line on stdin/stdout.
//
// Everything is synchronous, stdin included: a host function called in the middle of
// a Wasm call must ask lockstep for its results and wait for the answer.

import fs from 'node:fs';

const PROTOCOL = 2;

// The id of the request being served: its reply and every host call made meanwhile carry it.
let serving = 0;

// The proposals this V8 validates, found by asking it: each module needs its proposal
// and nothing newer (oracles/src/external/v8_probes.rs checks the table). A version
// number says nothing of the flags Node was started with.
const PROBES = {
  'mutable-global': '0061736d01000000020801016d0167037f01',
  'saturating-float-to-int': '0061736d0100000001060160017d017f030201000a080106002000fc000b',
  'sign-extension': '0061736d0100000001060160017f017f030201000a070105002000c00b',
  'reference-types': '0061736d010000000105016000016f030201000a06010400d06f0b',
  'multi-value': '0061736d010000000106016000027f7f030201000a08010600410041010b',
  'bulk-memory': '0061736d010000000104016000000302010005030100010a0e010c00410041004100fc0a00000b',
  'simd': '0061736d010000000105016000017b030201000a16011400fd0c000000000000000000000000000000000b',
  'relaxed-simd': '0061736d0100000001070160027b7b017b030201000a0b01090020002001fd80020b',
  'threads': '0061736d01000000050401030101',
  'tail-call': '0061736d01000000010401600000030201000a0601040012000b',
  'multi-memory': '0061736d0100000005050200010001',
  'exceptions': '0061736d01000000010401600000030201000d030100000a0d010b0002401f400102000b0b0b',
  'memory64': '0061736d010000000503010401',
  'extended-const': '0061736d010000000609017f00410141026a0b',
  'function-references': '0061736d010000000109026000006001640000030201010a040102000b',
  'gc': '0061736d010000000105015f017f00',
  'custom-page-sizes': '0061736d01000000050401080100',
  'wide-arithmetic': '0061736d01000000010a0160047e7e7e7e027e7e030201000a0e010c002000200120022003fc130b',
  'legacy-exceptions': '0061736d01000000010401600000030201000d030100000a080106000640190b0b',
};

function proposals() {
  return Object.entries(PROBES)
    .filter(([, module]) => WebAssembly.validate(Buffer.from(module, 'hex')))
    .map(([name]) => name);
}

// ---- lines in, lines out -------------------------------------------------------------

const input = { buffer: Buffer.alloc(0) };

// Allocated once: a buffer zeroed for every line cost more than the line.
const chunk = Buffer.alloc(1 << 16);

function readLine() {
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

// Globals whose `value` the JS API throws a TypeError on reading.
const UNREADABLE_GLOBALS = ['v128', 'exnref'];

function toJs(value) {
  const bits = value.value;
  switch (value.type) {
    case 'i32': return Number(BigInt.asIntN(32, BigInt(bits)));
    case 'i64': return BigInt.asIntN(64, BigInt(bits));
    case 'f32': scratch.setUint32(0, Number(bits)); return exactly(scratch.getFloat32(0), value);
    case 'f64': scratch.setBigUint64(0, BigInt(bits)); return exactly(scratch.getFloat64(0), value);
    case 'ref.null': return null;
    case 'ref.extern': return new HostRef(value.value);
    case 'v128': throw new Unsupported('the JS API cannot pass v128 values');
    default: throw new Unsupported(`the JS API cannot pass a ${value.type}`);
  }
}

// Float formats: the bits of the fraction and of the exponent.
const FLOATS = { f32: { fraction: 23n, exponent: 8n }, f64: { fraction: 52n, exponent: 11n } };

// `number`, the JS form of float `value`, unless `value` is a signalling NaN (every exponent bit
// set, a fraction, its top bit clear). Rationale: V8 quiets one on its way into Wasm (the JS API
// turns an f32 into a double and back, as the hardware does, and V8 keeps no signalling NaN in
// the argument list's double array), so the call would run on another argument than the other
// engines': V8 cannot make it. A quiet NaN keeps its sign and payload.
function exactly(number, { type, value }) {
  const { fraction, exponent } = FLOATS[type];
  const bits = BigInt(value);
  const ones = (1n << exponent) - 1n;
  const payload = bits & ((1n << fraction) - 1n);
  const signalling = ((bits >> fraction) & ones) === ones && payload !== 0n && payload >> (fraction - 1n) === 0n;
  if (signalling) throw new Unsupported(`the JS API cannot pass a signalling NaN (${type} bits ${value})`);
  return number;
}

// The wire form of JS value `v` of Wasm type `type`. JS numbers keep no reliable NaN
// payload (whether one survives depends on V8's tier and boxing, run to run): every
// NaN comes back as the canonical one, so that the answer is the same each time.
function fromJs(v, type) {
  switch (type) {
    case 'i32': return { type, value: String(v >>> 0) };
    case 'i64': return { type, value: BigInt.asUintN(64, v).toString() };
    case 'f32': scratch.setFloat32(0, Number.isNaN(v) ? NaN : v); return { type, value: String(scratch.getUint32(0)) };
    case 'f64': scratch.setFloat64(0, Number.isNaN(v) ? NaN : v); return { type, value: scratch.getBigUint64(0).toString() };
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
  // Both kinds of bad indirect call, a null entry and a wrong type: V8 11 says
  // "null function or function signature mismatch", V8 14 "function signature mismatch".
  ['function signature mismatch', ['IndirectCallToNull', 'IndirectCallTypeMismatch']],
  ['dereferencing a null pointer', 'NullReference'],
  // `throw_ref` of a null exnref.
  ['rethrowing null value', 'NullReference'],
  ['illegal cast', 'CastFailure'],
  ['array element access out of bounds', 'ArrayOutOfBounds'],
  ['requested new array is too large', 'AllocationTooLarge'],
  ['operation does not support unaligned accesses', 'UnalignedAtomic'],
  ['atomics wait operation on non-shared', 'AtomicWaitOnNonSharedMemory'],
];

function failure(error, session) {
  const message = String(error && error.message);
  if (error instanceof Unsupported) return { unsupported: message };
  if (error instanceof WebAssembly.Exception) return session.exception(error);
  if (error instanceof WebAssembly.CompileError) return { invalid: message };
  // A value the JS API cannot carry (an exnref, a null of a type JS has no null for):
  // a limit of the API, not the engine's answer.
  if (error instanceof TypeError && /type incompatibility when transforming from\/to JS/.test(message)) {
    return { unsupported: message };
  }
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

// FNV-1a, 64-bit, in two 32-bit halves: the prime is 2^40 + 0x1b3. A zero byte leaves the XOR
// step unchanged, so a run of ZERO_RUN zero bytes multiplies by the prime's ZERO_RUN-th power:
// the same digest as byte by byte, at a cost that follows the bytes a module wrote (lockstep's
// own digest does the same).
const ZERO_RUN = 4096;
const ZEROS = Buffer.alloc(ZERO_RUN);
const U64 = (1n << 64n) - 1n;
const ZERO_RUN_FACTOR = Array.from({ length: ZERO_RUN }).reduce((f) => (f * 0x100000001b3n) & U64, 1n);

function digest(bytes) {
  const hash = { hi: 0xcbf29ce4, lo: 0x84222325 };
  const whole = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length);
  let start = 0;
  for (; start + ZERO_RUN <= whole.length; start += ZERO_RUN) {
    if (whole.subarray(start, start + ZERO_RUN).equals(ZEROS)) skipZeros(hash);
    else fnv1a(hash, whole, start, start + ZERO_RUN);
  }
  fnv1a(hash, whole, start, whole.length);
  return ((BigInt(hash.hi) << 32n) | BigInt(hash.lo)).toString();
}

function fnv1a(hash, bytes, start, end) {
  let { hi, lo } = hash;
  for (let i = start; i < end; i++) {
    lo = (lo ^ bytes[i]) >>> 0;
    const loTimes = lo * 0x1b3;
    const carry = Math.floor(loTimes / 0x100000000);
    hi = (Math.imul(hi, 0x1b3) + carry + ((lo << 8) >>> 0)) >>> 0;
    lo = loTimes >>> 0;
  }
  Object.assign(hash, { hi, lo });
}

function skipZeros(hash) {
  const product = (((BigInt(hash.hi) << 32n) | BigInt(hash.lo)) * ZERO_RUN_FACTOR) & U64;
  Object.assign(hash, { hi: Number(product >> 32n), lo: Number(product & 0xffffffffn) });
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
    if (UNREADABLE_GLOBALS.includes(type)) throw new Unsupported(`the JS API cannot read ${type} globals`);
    return { values: [fromJs(exports[name].value, type)] };
  }

  state({ instance }) {
    const { exports, types } = this.instances.get(instance);
    const state = { globals: [], memories: [], tables: [] };
    for (const { name, kind, type } of types) {
      const item = exports[name];
      if (kind === 'global' && !UNREADABLE_GLOBALS.includes(type)) state.globals.push({ name, value: fromJs(item.value, type) });
      if (kind === 'memory') {
        const bytes = new Uint8Array(item.buffer);
        state.memories.push({ name, size: bytes.length, digest: digest(bytes) });
      }
      if (kind === 'table') {
        const table = tableState(item);
        if (table) state.tables.push({ name, ...table });
      }
    }
    return { state };
  }

  // An uncaught Wasm exception, named by a tag some instance exports. The JS API reads a payload
  // only through its tag's object (`getArg(tag, i)`): an unexported tag's is left out, unread.
  exception(error) {
    for (const { exports, types } of [...this.instances.values()].reverse()) {
      for (const { name, kind, params } of types) {
        if (kind !== 'tag' || !error.is(exports[name])) continue;
        const payload = (params ?? []).map((type, i) => fromJs(error.getArg(exports[name], i), type));
        return { exception: { tag: name, payload } };
      }
    }
    return { exception: {} };
  }
}

// A table's size and the digest of which elements are null, or null when the JS API cannot read
// its elements (`get` of an exnref table throws a TypeError). A 64-bit table counts and indexes
// in BigInts.
function tableState(table) {
  const index = typeof table.length === 'bigint' ? BigInt : Number;
  const size = Number(table.length);
  try {
    const nulls = Uint8Array.from({ length: size }, (_, i) => (table.get(index(i)) === null ? 1 : 0));
    return { size, digest: digest(nulls) };
  } catch (error) {
    if (error instanceof TypeError) return null;
    throw error;
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
      // The JS API takes no limits: memories and tables grow to V8's own maximum, instances are
      // not counted, and a running call cannot be interrupted (lockstep's deadline kills it).
      unapplied: ['memory_bytes', 'table_elements', 'instances', 'call_time_ms'],
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
