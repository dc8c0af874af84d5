#!/bin/bash -eu
# Builds every target of fuzz/ with the sanitizer and coverage flags the builder sets
# ($SANITIZER, $RUSTFLAGS), and hands each to the fuzzer with its seed corpus and options.
cd "$SRC/lockstep/fuzz"
cargo fuzz build -O --debug-assertions
built=target/x86_64-unknown-linux-gnu/release
for target in $(cargo fuzz list); do
  cp "$built/$target" "$OUT/"
  if [ -d "corpus/$target" ]; then
    (cd "corpus/$target" && zip -q -r "$OUT/${target}_seed_corpus.zip" .)
  fi
  # Every input runs on several engines, and a deep tail-call chain on the interpreters
  # takes seconds: the defaults (25 s, 2.5 GB) are close for tail_calls.
  printf '[libfuzzer]\ntimeout = 60\nrss_limit_mb = 4096\n' > "$OUT/$target.options"
done
