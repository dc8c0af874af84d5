//! Instruction cuts: the edits to one function body that keep its operand stack balanced, found
//! from the validator's stack heights, for `reduce` to try longest first.

use super::{function_bodies, leb, replace_section};
use std::ops::Range;
use wasmparser::{FuncValidatorAllocations, Operator, Parser, ValType, ValidPayload, Validator};

/// One way to make a function body smaller: edits to it, each replacing an instruction run.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cut {
    edits: Vec<Edit>,
}

/// Replace the bytes at `range` (instructions of one body) with `with`.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Edit {
    range: Range<usize>,
    with: Vec<u8>,
}

impl Cut {
    fn one(range: Range<usize>, with: Vec<u8>) -> Cut {
        Cut {
            edits: vec![Edit { range, with }],
        }
    }

    /// How many bytes the cut saves.
    fn saves(&self) -> usize {
        self.edits
            .iter()
            .map(|e| e.range.len() - e.with.len())
            .sum()
    }

    /// The module with this cut made; the body holding it is re-measured.
    pub fn apply(&self, wasm: &[u8]) -> Vec<u8> {
        let bodies = function_bodies(wasm);
        replace_section(wasm, 10, |_| {
            let mut contents = Vec::new();
            leb(bodies.len() as u64, &mut contents);
            for range in &bodies {
                let mut body = wasm[range.clone()].to_vec();
                // Last edit first, so that the earlier ones' offsets still hold.
                for edit in self.edits.iter().rev() {
                    if range.contains(&edit.range.start) {
                        let start = edit.range.start - range.start;
                        body.splice(start..start + edit.range.len(), edit.with.iter().copied());
                    }
                }
                leb(body.len() as u64, &mut contents);
                contents.extend_from_slice(&body);
            }
            contents
        })
    }
}

/// Where instructions can go without upsetting the operand stack, the biggest saving first (see
/// [`track_cuts`]). A cut can still make an invalid module (a branch out of an unwrapped block,
/// a run that consumed values of other types): callers validate.
pub fn cuts(wasm: &[u8]) -> Vec<Cut> {
    let mut cuts: Vec<Cut> = instruction_tracks(wasm)
        .iter()
        .flat_map(|track| track_cuts(wasm, track))
        .collect();
    cuts.sort_by_key(|cut| std::cmp::Reverse(cut.saves()));
    cuts.dedup();
    cuts
}

/// An instruction's start in the module, what it does to blocks, the operand and control stack
/// heights before it, and the type on top of the operand stack before it.
struct Mark {
    at: usize,
    shape: Shape,
    operands: u32,
    frames: u32,
    top: Option<ValType>,
}

/// What an instruction does to the block structure.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Shape {
    /// `block`, `loop`, `try_table`: a block whose body can stand in for it.
    Opens,
    /// `if`: its condition dropped, a `then` can stand in for it.
    OpensIf,
    Drop,
    Else,
    End,
    Other,
}

impl Shape {
    fn of(operator: &Operator) -> Shape {
        match operator {
            Operator::Block { .. } | Operator::Loop { .. } | Operator::TryTable { .. } => {
                Shape::Opens
            }
            Operator::If { .. } => Shape::OpensIf,
            Operator::Drop => Shape::Drop,
            Operator::Else => Shape::Else,
            Operator::End => Shape::End,
            _ => Shape::Other,
        }
    }
}

/// The cuts within one function: for each instruction, the longest and the shortest run in its
/// block that leaves the stack as high as before (cut out), one value higher (folded to zero) or
/// one value lower (replaced by `drop`), the block it opens unwrapped, and for a `drop`, the
/// value it drops never pushed.
fn track_cuts(wasm: &[u8], track: &[Mark]) -> Vec<Cut> {
    let mut cuts = Vec::new();
    // The body's final `end` ends runs, never starts one.
    let starts = track.len().saturating_sub(1);
    for (i, start) in track[..starts].iter().enumerate() {
        let ends: Vec<&Mark> = track[i + 1..]
            .iter()
            .take_while(|m| m.frames >= start.frames)
            .filter(|m| m.frames == start.frames)
            .collect();
        let replacements = [
            (Some(start.operands), Replacement::Nothing),
            (start.operands.checked_add(1), Replacement::Zero),
            (start.operands.checked_sub(1), Replacement::Drop),
        ];
        for (height, replacement) in replacements {
            let mut runs = ends.iter().filter(|m| Some(m.operands) == height);
            let (shortest, longest) = (runs.next(), runs.next_back());
            for end in [shortest, longest].into_iter().flatten() {
                let Some(with) = replacement.bytes(end.top) else {
                    continue;
                };
                if end.at - start.at > with.len() {
                    cuts.push(Cut::one(start.at..end.at, with));
                }
            }
        }
        cuts.extend(unwrapped(wasm, &track[i..]));
        if start.shape == Shape::Drop {
            cuts.extend(dead_value(&track[..=i]));
        }
    }
    cuts
}

/// The `drop` that ends `track` cut out with the run that pushed the value it drops, however
/// much happened on the stack above that value in between.
fn dead_value(track: &[Mark]) -> Option<Cut> {
    let (drop, before) = track.split_last()?;
    let slot = drop.operands;
    // Back to where the stack was last below the dropped value, in the drop's block.
    let pushed_at = before
        .iter()
        .rposition(|m| m.operands < slot || m.frames < drop.frames)?;
    let push = &before[pushed_at];
    let pushed = before[pushed_at + 1..]
        .iter()
        .find(|m| m.operands == slot)
        .map_or(drop.at, |m| m.at);
    (push.frames == drop.frames && push.operands + 1 == slot).then(|| Cut {
        edits: vec![
            Edit {
                range: push.at..pushed,
                with: Vec::new(),
            },
            Edit {
                range: drop.at..drop.at + 1,
                with: Vec::new(),
            },
        ],
    })
}

/// What a cut run of instructions leaves in its place.
#[derive(Clone, Copy)]
enum Replacement {
    Nothing,
    /// The constant zero of the type the run left on top.
    Zero,
    Drop,
}

impl Replacement {
    fn bytes(self, top: Option<ValType>) -> Option<Vec<u8>> {
        match self {
            Replacement::Nothing => Some(Vec::new()),
            Replacement::Zero => zero_of(top?),
            Replacement::Drop => Some(vec![0x1a]),
        }
    }
}

/// The block `start` opens replaced by its body (an `if` with no `else` by `drop` and its body).
fn unwrapped(wasm: &[u8], track: &[Mark]) -> Option<Cut> {
    let start = track.first()?;
    let drop_condition: &[u8] = match start.shape {
        Shape::Opens => &[],
        Shape::OpensIf => &[0x1a],
        _ => return None,
    };
    let body = track.get(1)?;
    let closing = track[1..]
        .iter()
        .find(|m| m.frames == start.frames + 1 && matches!(m.shape, Shape::End | Shape::Else))?;
    (closing.shape == Shape::End).then(|| {
        Cut::one(
            start.at..closing.at + 1,
            [drop_condition, &wasm[body.at..closing.at]].concat(),
        )
    })
}

/// The encoding of `T.const 0` for a number or vector type.
fn zero_of(ty: ValType) -> Option<Vec<u8>> {
    let mut bytes = match ty {
        ValType::I32 => vec![0x41, 0],
        ValType::I64 => vec![0x42, 0],
        ValType::F32 => vec![0x43, 0, 0, 0, 0],
        ValType::F64 => vec![0x44, 0, 0, 0, 0, 0, 0, 0, 0],
        ValType::V128 => vec![0xfd, 0x0c],
        ValType::Ref(_) => return None,
    };
    if ty == ValType::V128 {
        bytes.extend([0; 16]);
    }
    Some(bytes)
}

/// The instructions of every defined function body, with the stack heights
/// the validator saw before each (none when the module does not validate).
fn instruction_tracks(wasm: &[u8]) -> Vec<Vec<Mark>> {
    let mut validator = Validator::new_with_features(oracles::features::all());
    let mut tracks = Vec::new();
    for payload in Parser::new(0).parse_all(wasm) {
        let Ok(payload) = payload else {
            return Vec::new();
        };
        match validator.payload(&payload) {
            Ok(ValidPayload::Func(function, body)) => {
                let mut function = function.into_validator(FuncValidatorAllocations::default());
                let mut track = Vec::new();
                let mut locals = body.get_binary_reader();
                let Ok(mut reader) = function
                    .read_locals(&mut locals)
                    .and_then(|()| body.get_operators_reader())
                else {
                    return Vec::new();
                };
                while !reader.eof() {
                    let Ok((operator, at)) = reader.read_with_offset() else {
                        return Vec::new();
                    };
                    track.push(Mark {
                        at: at as usize,
                        shape: Shape::of(&operator),
                        operands: function.operand_stack_height(),
                        frames: function.control_stack_height(),
                        top: function.get_operand_type(0).flatten(),
                    });
                    if function.op(at, &operator).is_err() {
                        return Vec::new();
                    }
                }
                tracks.push(track);
            }
            Ok(_) => {}
            Err(_) => return Vec::new(),
        }
    }
    tracks
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The module `text` after each of its cuts that leaves it valid, printed, longest cut first.
    fn valid_cuts(text: &str) -> Vec<String> {
        let wasm = generators::wat_to_wasm(text).unwrap();
        let all = oracles::features::all();
        cuts(&wasm)
            .iter()
            .map(|cut| cut.apply(&wasm))
            .filter(|cut| oracles::features::validates(cut, all))
            .map(|cut| wasmprinter::print_bytes(cut).unwrap())
            .collect()
    }

    #[test]
    fn cuts_remove_neutral_runs_and_fold_values_to_zero() {
        let printed = valid_cuts(
            r#"(module (func (export "f") (param i32) (result i32)
                 (drop (i32.add (local.get 0) (i32.const 1)))
                 (i32.mul (local.get 0) (i32.const 3))))"#,
        );
        let body = |text: &str| text.rsplit("(result i32)").next().unwrap().to_string();
        let bodies: Vec<String> = printed.iter().map(|text| body(text)).collect();
        let first = bodies[0].split_whitespace().collect::<Vec<_>>().join(" ");
        assert_eq!(
            first, "i32.const 0 ) )",
            "longest first: the whole body folds to zero"
        );
        assert!(
            bodies
                .iter()
                .any(|b| !b.contains("drop") && b.contains("i32.mul")),
            "the dropped sum is cut out alone: {bodies:#?}"
        );
    }

    #[test]
    fn cuts_unwrap_blocks_and_ifs() {
        let printed = valid_cuts(
            r#"(module (func (export "f") (param i32) (result i32)
                 (if (local.get 0) (then (nop)))
                 (block (result i32) (local.get 0))))"#,
        );
        let flat = |text: &String| text.split_whitespace().collect::<Vec<_>>().join(" ");
        let flat: Vec<String> = printed.iter().map(flat).collect();
        assert!(
            flat.iter()
                .any(|t| t.contains("local.get 0 drop nop block")),
            "the if is its condition dropped and its then: {flat:#?}"
        );
        assert!(
            flat.iter()
                .any(|t| t.contains("end local.get 0 )") && !t.contains("block")),
            "the block is its body: {flat:#?}"
        );
    }

    #[test]
    fn cuts_remove_a_dropped_value_with_its_drop() {
        let kept = valid_cuts(
            r#"(module (func (export "f") (result i32)
                 i32.const 7
                 f32.const 1
                 i32.const 2
                 i32.const 3
                 i32.add
                 drop
                 drop))"#,
        );
        assert!(
            kept.iter()
                .any(|t| !t.contains("f32.const") && t.contains("i32.add")),
            "the f32 and the drop of it go, the sum stays: {kept:#?}"
        );
    }
}
