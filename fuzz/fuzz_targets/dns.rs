//! cargo-fuzz target: supervisor::fuzzing::dns (see its documentation).
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    supervisor::fuzzing::dns(data);
});
