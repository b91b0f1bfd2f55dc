package dev.kiln.data;

import dev.kiln.runtime.Rng;
import java.lang.ref.Cleaner;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;

/// Iterates a dataset in minibatches, as PyTorch's `DataLoader`:
///
/// ```java
/// for (var batch : new DataLoader<>(FashionMnist.train(), 64, true)) { ... batch.input() ... }
/// ```
///
/// Each `iterator()` call is one epoch. With `shuffle`, epoch `e` visits the examples in the
/// order `order(e)`, a permutation drawn from the seed and `e` alone, so runs repeat exactly and a
/// resumed run continues the same sequence after `setEpoch` (from a batch inside the epoch, too). Unless `prefetch` is 0, a daemon
/// worker thread loads and collates up to `prefetch` batches ahead into a bounded queue; its
/// failures are rethrown in the consuming thread, and it stops when the epoch ends, when the
/// epoch's iterator is closed or becomes unreachable (a `break` out of the loop), or when the
/// loader is closed. Invariant: every epoch yields each index of `order(e)` exactly once, in
/// batches of `batchSize` except a smaller last one, which `dropLast` leaves out (with its examples).
///
/// Batches are `Batch`es, built by `Batch.stack` unless the builder is given another collate. A
/// collate producing some other type is not offered: `new DataLoader<>(...)` could not infer such
/// a type, and the training loop reads only `input()` and `target()`.
public final class DataLoader<E> implements Iterable<Batch>, AutoCloseable {
    private static final Cleaner CLEANER = Cleaner.create();
    private static final AtomicInteger IDS = new AtomicInteger();
    private static final Object END = new Object(), STOPPED = new Object();

    private final Dataset<E> dataset;
    private final int batchSize, prefetch, id = IDS.getAndIncrement();
    private final boolean shuffle, dropLast;
    private final long seed;
    private final Function<? super List<E>, Batch> collate;
    private final AtomicInteger nextEpoch = new AtomicInteger();
    private int nextStart; // the first batch of the next epoch (guarded by this loader's lock)
    private final Set<Worker<E>> workers = ConcurrentHashMap.newKeySet();

    /// Batches of `batchSize` with the defaults of `builder`: seed 0, last partial batch kept,
    /// two batches prefetched, `Batch.stack` as collate (so the examples must be `Example`s).
    public DataLoader(Dataset<E> dataset, int batchSize, boolean shuffle) {
        this(builder(dataset).batchSize(batchSize).shuffle(shuffle));
    }

    private DataLoader(Builder<E> b) {
        this.dataset = b.dataset;
        this.batchSize = b.batchSize;
        this.shuffle = b.shuffle;
        this.seed = b.seed;
        this.dropLast = b.dropLast;
        this.prefetch = b.prefetch;
        this.collate = b.collate != null ? b.collate : DataLoader::stackExamples;
    }

    public static <E> Builder<E> builder(Dataset<E> dataset) { return new Builder<>(dataset); }

    /// Options of a `DataLoader`; each setter checks its argument at once.
    public static final class Builder<E> {
        private final Dataset<E> dataset;
        private int batchSize = 1, prefetch = 2;
        private boolean shuffle, dropLast;
        private long seed;
        private Function<? super List<E>, Batch> collate;

        private Builder(Dataset<E> dataset) { this.dataset = Objects.requireNonNull(dataset, "dataset"); }

        public Builder<E> batchSize(int n) {
            if (n < 1) throw new IllegalArgumentException("batch size must be at least 1, got " + n);
            batchSize = n;
            return this;
        }
        public Builder<E> shuffle(boolean on) { shuffle = on; return this; }
        /// The base seed of the per-epoch permutations (default 0).
        public Builder<E> seed(long s) { seed = s; return this; }
        /// Leave out the last batch when it has fewer than `batchSize` examples.
        public Builder<E> dropLast(boolean on) { dropLast = on; return this; }
        /// How many batches the worker thread may load ahead; 0 loads each batch on the
        /// consuming thread, with no worker.
        public Builder<E> prefetch(int batches) {
            if (batches < 0) throw new IllegalArgumentException("prefetch must be 0 or more batches, got " + batches);
            prefetch = batches;
            return this;
        }
        /// Turns the examples of one batch (in visiting order) into a Batch. Runs on the worker
        /// thread when prefetching.
        public Builder<E> collate(Function<? super List<E>, Batch> f) { collate = Objects.requireNonNull(f); return this; }
        public DataLoader<E> build() { return new DataLoader<>(this); }
    }

    public Dataset<E> dataset() { return dataset; }
    public int batchSize() { return batchSize; }

    /// Batches per epoch.
    public int batchCount() {
        int n = dataset.size();
        return dropLast ? n / batchSize : (n + batchSize - 1) / batchSize;
    }

    /// The epoch that the next `iterator()` call runs (0 for a new loader).
    public int epoch() { return nextEpoch.get(); }

    /// Makes the next `iterator()` run epoch `e`, e.g. to resume a run at its shuffle order.
    public void setEpoch(int e) { setEpoch(e, 0); }

    /// Makes the next `iterator()` run epoch `e` from its batch `batch` on: the batches before it
    /// are skipped without being loaded, the rest are exactly those an uninterrupted epoch `e`
    /// yields. What resuming from a checkpoint taken inside an epoch needs. Later epochs start at 0.
    public synchronized void setEpoch(int e, int batch) {
        if (e < 0) throw new IllegalArgumentException("epoch must be 0 or more, got " + e);
        if (batch < 0 || batch > batchCount())
            throw new IllegalArgumentException("batch must be in [0, " + batchCount() + "] (batches per epoch), got " + batch);
        nextEpoch.set(e);
        nextStart = batch;
    }

    /// The dataset indices in the order epoch `e` visits them (before `dropLast` trims the end):
    /// the identity without shuffle, else a Fisher-Yates permutation whose draws are a pure
    /// function of (seed, e, position), independent of the JDK's random generators.
    public int[] order(int e) {
        int n = dataset.size();
        int[] order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        if (!shuffle) return order;
        long epochSeed = Rng.mix(Rng.mix(seed) + e);
        for (int i = n - 1; i > 0; i--) {
            // A uniform j in [0, i] from the high 32 bits, by multiply-shift (bias below 2^-32 * n).
            int j = (int) (((Rng.mix(epochSeed + i) >>> 32) * (i + 1)) >>> 32);
            int t = order[i]; order[i] = order[j]; order[j] = t;
        }
        return order;
    }

    /// Starts the next epoch (and its prefetch worker).
    @Override public synchronized Epoch iterator() {
        int start = nextStart;
        nextStart = 0;
        return new Epoch(nextEpoch.getAndIncrement(), start);
    }

    /// Stops every prefetch worker of this loader and waits for them to exit. The loader stays
    /// usable: a later `iterator()` starts a new worker.
    @Override public void close() {
        for (Worker<E> w : workers) w.stop();
        for (Worker<E> w : workers) w.join();
    }

    /// One epoch's batches. Closing it (or dropping it) stops its prefetch worker.
    public final class Epoch implements Iterator<Batch>, AutoCloseable {
        private final int epoch, count;
        private final int[] order;
        private final Worker<E> worker;            // null without prefetch
        private final Cleaner.Cleanable cleanable; // stops the worker if this Epoch is dropped
        private int produced;                      // index of the next batch next() returns
        private Object ahead;                      // a taken but not yet returned queue item
        private boolean finished;

        private Epoch(int epoch, int start) {
            this.epoch = epoch;
            this.order = order(epoch);
            this.count = batchCount();
            this.produced = start;
            if (prefetch > 0 && count > start) {
                worker = new Worker<>(dataset, collate, order, batchSize, start, count, epoch, prefetch, workers);
                Thread t = Thread.ofPlatform().daemon().name("kiln-prefetch-" + id + "-epoch-" + epoch).unstarted(worker);
                worker.thread = t;
                workers.add(worker);
                // The action holds the worker only, never this Epoch, or it would keep it reachable.
                cleanable = CLEANER.register(this, worker::stop);
                t.start();
            } else {
                worker = null;
                cleanable = null;
            }
        }

        /// The epoch number, as passed to `order`.
        public int epoch() { return epoch; }

        /// The index in this epoch of the batch that `next()` returns next (so far: how many
        /// batches of the epoch are done, counting those skipped by `setEpoch(e, batch)`).
        public int position() { return produced; }

        @Override public boolean hasNext() {
            if (finished) return false;
            if (worker == null) {
                if (produced < count) return true;
                finished = true;
                return false;
            }
            if (ahead == null) ahead = take();
            return switch (ahead) {
                case Batch _ -> true;
                case Failure f -> {
                    close();
                    if (f.error() instanceof Error err) throw err;
                    throw new DataException(f.error().getMessage(), f.error());
                }
                default -> {
                    close();
                    if (ahead == STOPPED) throw new DataException("epoch " + epoch + " stopped before batch " + produced
                            + ": its DataLoader was closed");
                    yield false; // END
                }
            };
        }

        @Override public Batch next() {
            if (!hasNext()) throw new NoSuchElementException("epoch " + epoch + " has no batch #" + produced);
            Batch b;
            if (worker == null) {
                b = load(dataset, collate, order, batchSize, produced, epoch);
            } else {
                b = (Batch) ahead;
                ahead = null;
            }
            produced++;
            return b;
        }

        private Object take() {
            try {
                return worker.queue.take();
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                close();
                throw new DataException("interrupted while waiting for batch " + produced + " of epoch " + epoch);
            }
        }

        /// Stops the prefetch worker and waits for it to exit; the epoch then yields nothing more.
        @Override public void close() {
            finished = true;
            if (worker != null) {
                cleanable.clean();
                worker.join();
            }
        }
    }

    private record Failure(Throwable error) {}

    /// Loads batches `start..count-1` of one epoch into `queue`, then END, the first Failure, or
    /// STOPPED when stopped. Holds
    /// no reference to its Epoch, so a dropped Epoch can be cleaned while this still runs.
    private static final class Worker<E> implements Runnable {
        final BlockingQueue<Object> queue;
        private final Dataset<E> dataset;
        private final Function<? super List<E>, Batch> collate;
        private final int[] order;
        private final int batchSize, start, count, epoch;
        private final Set<Worker<E>> registry;
        volatile Thread thread;
        private volatile boolean stopped;

        Worker(Dataset<E> dataset, Function<? super List<E>, Batch> collate, int[] order, int batchSize, int start,
               int count, int epoch, int prefetch, Set<Worker<E>> registry) {
            this.queue = new ArrayBlockingQueue<>(prefetch);
            this.dataset = dataset;
            this.collate = collate;
            this.order = order;
            this.batchSize = batchSize;
            this.start = start;
            this.count = count;
            this.epoch = epoch;
            this.registry = registry;
        }

        @Override public void run() {
            try {
                for (int k = start; k < count && !stopped; k++) queue.put(load(dataset, collate, order, batchSize, k, epoch));
                if (!stopped) queue.put(END);
            } catch (InterruptedException e) {
                // stop() interrupted a blocking put: nobody is waiting for this epoch any more.
            } catch (Throwable t) {
                try {
                    if (!stopped) queue.put(new Failure(t));
                } catch (InterruptedException e) {
                    // stopped while handing over the failure: nobody will read it.
                }
            } finally {
                registry.remove(this);
                // Stopped by DataLoader.close(): a consumer may still be waiting on the queue.
                if (stopped) {
                    queue.clear();
                    queue.offer(STOPPED);
                }
            }
        }

        void stop() {
            stopped = true;
            Thread t = thread;
            if (t != null) t.interrupt();
        }

        void join() {
            Thread t = thread;
            if (t == null || t == Thread.currentThread()) return;
            boolean interrupted = false;
            while (true) {
                try {
                    t.join();
                    break;
                } catch (InterruptedException e) {
                    interrupted = true;
                }
            }
            if (interrupted) Thread.currentThread().interrupt();
        }
    }

    /// Batch `k` of an epoch visiting `order`: reads its examples and collates them, wrapping any
    /// failure in a DataException that names the dataset index or the batch.
    private static <E> Batch load(Dataset<E> dataset, Function<? super List<E>, Batch> collate, int[] order,
                                  int batchSize, int k, int epoch) {
        int from = k * batchSize, to = Math.min(from + batchSize, order.length);
        List<E> items = new ArrayList<>(to - from);
        for (int j = from; j < to; j++) {
            int index = order[j];
            try {
                items.add(dataset.get(index));
            } catch (RuntimeException e) {
                throw new DataException("dataset.get(" + index + ") failed in batch " + k + " of epoch " + epoch + ": "
                        + describe(e), e);
            }
        }
        Batch b;
        try {
            b = collate.apply(items);
        } catch (RuntimeException e) {
            throw new DataException("collating batch " + k + " of epoch " + epoch + " failed: " + describe(e), e);
        }
        if (b == null) throw new DataException("collating batch " + k + " of epoch " + epoch + " returned null");
        return b;
    }

    private static <E> Batch stackExamples(List<E> items) {
        List<Example> examples = new ArrayList<>(items.size());
        for (E item : items) {
            if (!(item instanceof Example e))
                throw new IllegalArgumentException("the default collate stacks Example elements, got "
                        + (item == null ? "null" : item.getClass().getName())
                        + "; give DataLoader.builder(dataset).collate(...) for other elements");
            examples.add(e);
        }
        return Batch.stack(examples);
    }

    static String describe(Throwable e) {
        return e.getMessage() != null ? e.getMessage() : e.getClass().getSimpleName();
    }
}
