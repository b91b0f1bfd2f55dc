package dev.kiln.codegen.cuda.rt;

/// Shared ownership of native resources: starts with one hold, `acquire` adds one, `release`
/// drops one, and the release of the last runs `free`, once. Needs no GPU, so the bookkeeping of
/// `CudaPlanExecutable` (an executable, its resident loops, the cache that holds them) is tested
/// without one. Thread-safe.
/// Invariant: `free` runs at most once, and only when every acquire has been released.
final class Holds {
    private final Runnable free;
    private int holds = 1;

    Holds(Runnable free) { this.free = free; }

    /// Adds a hold; throws IllegalStateException (naming `what`) once everything was released.
    synchronized void acquire(String what) {
        if (holds == 0) throw new IllegalStateException(what + " is closed");
        holds++;
    }

    /// Drops a hold; the last one frees. A release after the last does nothing.
    void release() {
        synchronized (this) {
            if (holds == 0 || --holds > 0) return;
        }
        free.run();
    }

    synchronized int count() { return holds; }
}
