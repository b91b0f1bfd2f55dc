package dev.kiln.codegen.jvm.rt;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.locks.LockSupport;
import java.util.concurrent.locks.ReentrantLock;

/// A fixed pool of worker threads for data-parallel loops: `run(parts, job)` calls
/// `job.run(p)` for every `p` in `[0, parts)`, part 0 on the calling thread, and returns when all
/// are done. Workers spin briefly and then park, so a kernel a few microseconds long still
/// gains from a second core. One parallel region at a time: a caller that finds the pool busy
/// (another thread's region, or a nested one) runs its parts itself, so the pool never
/// deadlocks and never allocates per call. Invariant: `size()` counts the calling thread.
public final class Pool {
    /// Work split into numbered parts.
    public interface Job { void run(int part); }

    private static final Pool DEFAULT = new Pool(Integer.getInteger("kiln.threads", Runtime.getRuntime().availableProcessors()));

    public static Pool shared() { return DEFAULT; }

    private final Worker[] workers;
    private final ReentrantLock lock = new ReentrantLock();
    private final AtomicInteger pending = new AtomicInteger();
    private volatile Throwable failure;

    public Pool(int threads) {
        workers = new Worker[Math.max(0, threads - 1)];
        for (int i = 0; i < workers.length; i++) {
            workers[i] = new Worker(i + 1);
            workers[i].setDaemon(true);
            workers[i].setName("kiln-worker-" + (i + 1));
            workers[i].start();
        }
    }

    public int size() { return workers.length + 1; }

    public void run(int parts, Job job) {
        if (parts <= 1 || workers.length == 0 || !lock.tryLock()) {
            for (int p = 0; p < parts; p++) job.run(p);
            return;
        }
        try {
            int helpers = Math.min(parts - 1, workers.length);
            failure = null;
            pending.set(helpers);
            for (int i = 0; i < helpers; i++) workers[i].start(job, parts, helpers + 1);
            Throwable mine = null;
            try {
                for (int p = 0; p < parts; p += helpers + 1) job.run(p);
            } catch (Throwable t) {
                mine = t;
            }
            int spins = 0;
            while (pending.get() != 0) {
                if (++spins < 20_000) Thread.onSpinWait();
                else Thread.yield();
            }
            if (mine == null) mine = failure;
            if (mine instanceof RuntimeException r) throw r;
            if (mine instanceof Error e) throw e;
            if (mine != null) throw new IllegalStateException(mine);
        } finally {
            lock.unlock();
        }
    }

    private final class Worker extends Thread {
        private final int index;
        private volatile Job job;
        private int parts, step;
        private volatile long generation;
        private long seen;

        Worker(int index) { this.index = index; }

        void start(Job j, int parts, int step) {
            this.parts = parts;
            this.step = step;
            this.job = j;
            generation++;
            LockSupport.unpark(this);
        }

        @Override public void run() {
            while (true) {
                int spins = 0;
                while (generation == seen) {
                    if (++spins < 50_000) Thread.onSpinWait();
                    else LockSupport.park(this);
                }
                seen = generation;
                Job j = job;
                try {
                    for (int p = index; p < parts; p += step) j.run(p);
                } catch (Throwable t) {
                    failure = t;
                } finally {
                    pending.decrementAndGet();
                }
            }
        }
    }
}
