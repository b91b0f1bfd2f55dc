package dev.kiln.runtime;

/// The counter-based random numbers of `random_uniform`: element `i` of a tensor drawn with `seed`
/// is a pure function of the two, so every backend (and every thread, in any order) draws the
/// same numbers. Invariant: `uniform` returns a float-exact value in [0, 1) on a 2^-24 grid.
public final class Rng {
    private Rng() {}

    /// SplitMix64's finalizer: a bijective mix of 64 bits.
    public static long mix(long z) {
        z += 0x9E3779B97F4A7C15L;
        z = (z ^ (z >>> 30)) * 0xBF58476D1CE4E5B9L;
        z = (z ^ (z >>> 27)) * 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    /// Element `index` of the uniform stream `seed`.
    public static double uniform(long seed, long index) {
        return (mix(mix(seed) + index) >>> 40) * 0x1p-24;
    }
}
