package dev.kiln.codegen.jvm.rt;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/// A fixed pool of worker threads for data-parallel loops: `run(parts, job)` calls
/// `job.run(p)` for every `p` in `[0, parts)` and returns when all are done. Parts are claimed
/// from a shared counter by the caller and the workers alike, so a worker that the OS has not
/// scheduled yet costs nothing: the caller runs the parts it did not claim. Workers spin
/// briefly, then park. One parallel region at a time: a caller that finds the pool busy
/// (another thread's region, or a nested one) runs its parts itself, so the pool never
/// deadlocks. Each region allocates one small record (its claim counters); nothing else.
/// Invariant: `size()` counts the calling thread.
public final class Pool {
    /// Work split into numbered parts.
    public interface Job { void run(int part); }

    private static final Pool DEFAULT = new Pool(Integer.getInteger("kiln.threads", Runtime.getRuntime().availableProcessors()));

    public static Pool shared() { return DEFAULT; }

    /// The pool of the executable whose library call (`Gemm`, `ConvKernels`) this thread is
    /// running, set by `PlanExecutable` around each call: generated code calls the library
    /// statically, without a pool, and the call must split its work over the executable's
    /// threads (a jar run with `--threads N`), not over the shared pool's.
    private static final ThreadLocal<Pool> CURRENT = new ThreadLocal<>();

    /// The pool set by `enter` on this thread, or the shared one outside any executable.
    static Pool current() {
        Pool p = CURRENT.get();
        return p != null ? p : DEFAULT;
    }

    /// Makes `p` this thread's current pool; returns the previous one, for `leave`.
    static Pool enter(Pool p) {
        Pool prev = CURRENT.get();
        CURRENT.set(p);
        return prev;
    }

    static void leave(Pool prev) {
        if (prev == null) CURRENT.remove();
        else CURRENT.set(prev);
    }

    /// One parallel region: immutable job and part count, and its own counters, so a worker
    /// that wakes late and still holds an old region can only find it exhausted.
    private record Region(Job job, int parts, AtomicInteger next, AtomicInteger done) {}

    private final Worker[] workers;
    private final ReentrantLock lock = new ReentrantLock();
    private volatile Region region;
    private volatile Throwable failure;
    /// Parallel regions handed to the workers so far (not those run inline); tests read it.
    private final AtomicInteger regions = new AtomicInteger();

    public Pool(int threads) {
        workers = new Worker[Math.max(0, threads - 1)];
        for (int i = 0; i < workers.length; i++) {
            workers[i] = new Worker();
            workers[i].setDaemon(true);
            workers[i].setName("kiln-worker-" + (i + 1));
            workers[i].start();
        }
    }

    public int size() { return workers.length + 1; }

    /// How many parallel regions this pool has shared with its workers since it was made.
    int regionsRun() { return regions.get(); }

    public void run(int parts, Job job) {
        if (parts <= 1 || workers.length == 0 || !lock.tryLock()) {
            for (int p = 0; p < parts; p++) job.run(p);
            return;
        }
        try {
            failure = null;
            regions.incrementAndGet();
            Region r = new Region(job, parts, new AtomicInteger(), new AtomicInteger());
            region = r;
            for (Worker w : workers) if (w.parked) LockSupport.unpark(w);
            Throwable mine = null;
            try {
                work(r);
            } catch (Throwable t) {
                mine = t;
            }
            int spins = 0;
            while (r.done().get() < parts) {
                if (++spins < 100_000) Thread.onSpinWait();
                else Thread.yield();
            }
            if (mine == null) mine = failure;
            if (mine instanceof RuntimeException e) throw e;
            if (mine instanceof Error e) throw e;
            if (mine != null) throw new IllegalStateException(mine);
        } finally {
            lock.unlock();
        }
    }

    /// Claims and runs parts of `r` until none is left.
    private void work(Region r) {
        for (int p; (p = r.next().getAndIncrement()) < r.parts(); ) {
            try {
                r.job().run(p);
            } finally {
                r.done().incrementAndGet();
            }
        }
    }

    private final class Worker extends Thread {
        volatile boolean parked;

        @Override public void run() {
            Region seen = null;
            while (true) {
                int spins = 0;
                Region r;
                while ((r = region) == seen) {
                    if (++spins < 50_000) Thread.onSpinWait();
                    else {
                        parked = true;
                        if (region == seen) LockSupport.park(this);
                        parked = false;
                    }
                }
                seen = r;
                try {
                    work(r);
                } catch (Throwable t) {
                    failure = t;
                }
            }
        }
    }
}
