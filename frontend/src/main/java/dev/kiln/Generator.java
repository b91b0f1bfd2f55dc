package dev.kiln;

import dev.kiln.runtime.Rng;

/// The global random stream behind `Tensor.rand`, parameter initialization and dropout seeds. Each
/// draw takes a fresh 64-bit seed (a hash of the manual seed and a counter); elements are then the
/// counter-based `Rng.uniform(seed, i)` that every backend's `random_uniform` computes, so host and
/// compiled draws agree. Invariant: after `manualSeed(s)` the sequence of draws is a function of s.
final class Generator {
    private Generator() {}

    private static long base = 0x5DEECE66DL;
    private static long counter;

    static synchronized void manualSeed(long seed) {
        base = seed;
        counter = 0;
    }

    /// The whole state, `{base, counter}`: what a checkpoint saves so that a resumed run draws on.
    static synchronized long[] state() { return new long[]{base, counter}; }

    static synchronized void restore(long[] state) {
        base = state[0];
        counter = state[1];
    }

    /// A seed for one tensor's worth of random numbers.
    static synchronized long nextSeed() { return Rng.mix(base ^ Rng.mix(counter++)); }

    static double uniform(long seed, long i) { return Rng.uniform(seed, i); }

    /// A standard normal from two uniforms (Box-Muller); index pairs (2i, 2i+1) of the stream.
    static double normal(long seed, long i) {
        double u1 = Rng.uniform(seed, 2 * i), u2 = Rng.uniform(seed, 2 * i + 1);
        return Math.sqrt(-2 * Math.log(1 - u1)) * Math.cos(2 * Math.PI * u2);
    }
}
