//! Conversion between wasmtime's `Val` and lockstep's `Value`.
//! Generic over the store data, so that modules and WASI programs share it.

use crate::host;
use crate::outcome::{Heap, Outcome, Ref, Value};
use wasmtime::{AnyRef, ExternRef, Store, Val};

/// The outcome of a completed call: its results as lockstep values.
pub(super) fn outcome<T: 'static>(store: &mut Store<T>, results: &[Val]) -> Outcome {
    let mut values = Vec::with_capacity(results.len());
    for val in results {
        match from_val(store, val) {
            Ok(value) => values.push(value),
            Err(e) => return Outcome::HarnessFailed(format!("reading a result: {e:?}")),
        }
    }
    Outcome::Values(values)
}

/// A call's arguments converted for `func`, and slots for its results. A null argument is the
/// null of its parameter's type: which hierarchy a caller names (V8's JS API names none, lockstep's
/// reading of a concrete GC type may say `func`) is not what a call compares.
pub(super) fn call_slots<T: 'static>(
    store: &mut Store<T>,
    func: &wasmtime::Func,
    args: &[Value],
) -> Result<(Vec<Val>, Vec<Val>), Outcome> {
    let mut params = Vec::with_capacity(args.len());
    let types: Vec<wasmtime::ValType> = func.ty(&*store).params().collect();
    for (index, arg) in args.iter().enumerate() {
        if let (Value::Ref(Ref::Null(_)), Some(wasmtime::ValType::Ref(r))) = (arg, types.get(index))
        {
            params.push(Val::null_ref(r.heap_type()));
            continue;
        }
        match to_val(store, arg) {
            Ok(val) => params.push(val),
            Err(e) => return Err(Outcome::HarnessFailed(format!("argument {arg}: {e:?}"))),
        }
    }
    let results = func
        .ty(&*store)
        .results()
        .map(|t| Val::default_for_ty(&t).unwrap_or(Val::I32(0)))
        .collect();
    Ok((params, results))
}

pub(super) fn to_val<T: 'static>(store: &mut Store<T>, value: &Value) -> wasmtime::Result<Val> {
    if let Some(val) = plain_val(value) {
        return Ok(val);
    }
    Ok(match value {
        Value::Ref(Ref::Extern(Some(n))) => Val::ExternRef(Some(ExternRef::new(&mut *store, *n)?)),
        Value::Ref(Ref::Host(n)) => {
            let host = ExternRef::new(&mut *store, *n)?;
            Val::AnyRef(Some(AnyRef::convert_extern(&mut *store, host)?))
        }
        other => wasmtime::bail!("lockstep cannot create a {other} argument"),
    })
}

/// Numbers and nulls, the values that need no store to create.
fn plain_val(value: &Value) -> Option<Val> {
    Some(match value {
        Value::I32(v) => Val::I32(*v),
        Value::I64(v) => Val::I64(*v),
        Value::F32(bits) => Val::F32(*bits),
        Value::F64(bits) => Val::F64(*bits),
        Value::V128(v) => Val::V128((*v).into()),
        Value::Ref(Ref::Null(Heap::Func)) => Val::FuncRef(None),
        Value::Ref(Ref::Null(Heap::Extern)) => Val::ExternRef(None),
        Value::Ref(Ref::Null(Heap::Any)) => Val::AnyRef(None),
        Value::Ref(Ref::Null(Heap::Exn)) => Val::ExnRef(None),
        Value::Ref(_) => return None,
    })
}

pub(super) fn from_val<T: 'static>(store: &mut Store<T>, val: &Val) -> wasmtime::Result<Value> {
    if let Some(value) = plain_value(val) {
        return Ok(value);
    }
    Ok(Value::Ref(match val {
        Val::ExternRef(Some(x)) => Ref::Extern(host_payload(store, x)?),
        Val::AnyRef(Some(x)) => any_ref(store, x)?,
        Val::FuncRef(Some(_)) => Ref::Func,
        Val::ExnRef(Some(_)) => Ref::Exn,
        _ => Ref::Opaque,
    }))
}

/// Numbers and nulls, the values that need no store to read.
fn plain_value(val: &Val) -> Option<Value> {
    Some(match val {
        Val::I32(v) => Value::I32(*v),
        Val::I64(v) => Value::I64(*v),
        Val::F32(bits) => Value::F32(*bits),
        Val::F64(bits) => Value::F64(*bits),
        Val::V128(v) => Value::V128(v.as_u128()),
        Val::FuncRef(None) => Value::Ref(Ref::Null(Heap::Func)),
        Val::ExternRef(None) => Value::Ref(Ref::Null(Heap::Extern)),
        Val::AnyRef(None) => Value::Ref(Ref::Null(Heap::Any)),
        Val::ExnRef(None) => Value::Ref(Ref::Null(Heap::Exn)),
        _ => return None,
    })
}

fn host_payload<T: 'static>(store: &mut Store<T>, x: &ExternRef) -> wasmtime::Result<Option<u32>> {
    Ok(x.data(&*store)?
        .and_then(|data| data.downcast_ref::<u32>().copied()))
}

fn any_ref<T: 'static>(
    store: &mut Store<T>,
    x: &wasmtime::Rooted<AnyRef>,
) -> wasmtime::Result<Ref> {
    if let Some(i31) = x.as_i31(&*store)? {
        return Ok(Ref::I31(i31.get_i32()));
    }
    if x.is_struct(&*store)? {
        return Ok(Ref::Struct);
    }
    if x.is_array(&*store)? {
        return Ok(Ref::Array);
    }
    let external = ExternRef::convert_any(&mut *store, *x)?;
    Ok(match host_payload(store, &external)? {
        Some(n) => Ref::Host(n),
        None => Ref::Opaque,
    })
}

/// A host function's view of a value type.
pub(super) fn host_type(ty: &wasmtime::ValType) -> host::ValType {
    match ty {
        wasmtime::ValType::I32 => host::ValType::I32,
        wasmtime::ValType::I64 => host::ValType::I64,
        wasmtime::ValType::F32 => host::ValType::F32,
        wasmtime::ValType::F64 => host::ValType::F64,
        wasmtime::ValType::V128 => host::ValType::V128,
        wasmtime::ValType::Ref(r) => host::ValType::Ref(heap(r.heap_type())),
    }
}

fn heap(ty: &wasmtime::HeapType) -> Heap {
    match ty.top() {
        wasmtime::HeapType::Func => Heap::Func,
        wasmtime::HeapType::Extern => Heap::Extern,
        wasmtime::HeapType::Exn => Heap::Exn,
        _ => Heap::Any,
    }
}

/// An argument as a host function sees it: numbers exactly, references only as null or not.
pub(super) fn host_arg(val: &Val) -> Value {
    plain_value(val).unwrap_or(Value::Ref(Ref::Opaque))
}

/// A host function's result; host functions return only numbers and nulls.
pub(super) fn host_result(value: &Value) -> Val {
    plain_val(value).unwrap_or(Val::FuncRef(None))
}
