// The delay line lives with the sandbox (the benchmark uses it too).
export * from "../../src/sandbox/delay-line.js";
