package dev.kiln.data;

import static org.junit.jupiter.api.Assertions.*;

import dev.kiln.runtime.DType;
import dev.kiln.runtime.NdArray;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.IntPredicate;
import org.junit.jupiter.api.Test;

class DataLoaderTest {
    /// Example i: input i32[2] = (i, -i), target i64[] = i. Records which threads call get and
    /// how often, and throws at the indices `fails` accepts.
    static final class Numbers implements Dataset<Example> {
        final int n;
        final IntPredicate fails;
        final Set<Thread> readers = ConcurrentHashMap.newKeySet();
        final AtomicInteger reads = new AtomicInteger();

        Numbers(int n) { this(n, i -> false); }
        Numbers(int n, IntPredicate fails) { this.n = n; this.fails = fails; }

        public int size() { return n; }
        public Example get(int i) {
            readers.add(Thread.currentThread());
            reads.incrementAndGet();
            if (fails.test(i)) throw new IllegalStateException("boom at " + i);
            return new Example(NdArray.of(new int[] {i, -i}, 2), NdArray.of(new long[] {i}));
        }
    }

    /// Each batch's target values, checking that every input row matches its target.
    static List<List<Long>> epoch(Iterable<Batch> loader) {
        List<List<Long>> out = new ArrayList<>();
        for (Batch b : loader) {
            assertEquals(DType.I32, b.input().dtype());
            assertEquals(DType.I64, b.target().dtype());
            assertEquals(2, b.input().size(1));
            assertFalse(b.input().requiresGrad());
            long[] x = b.input().toLongArray(), y = b.target().toLongArray();
            List<Long> ids = new ArrayList<>();
            for (int k = 0; k < b.size(); k++) {
                long i = y[k];
                assertEquals(i, x[2 * k]);
                assertEquals(-i, x[2 * k + 1]);
                ids.add(i);
            }
            out.add(ids);
        }
        return out;
    }

    static List<Long> flat(List<List<Long>> batches) {
        return batches.stream().flatMap(List::stream).toList();
    }

    static List<Integer> sizes(List<List<Long>> batches) {
        return batches.stream().map(List::size).toList();
    }

    static List<Long> range(int n) {
        List<Long> r = new ArrayList<>();
        for (long i = 0; i < n; i++) r.add(i);
        return r;
    }

    @Test void withoutShuffleBatchesAreInOrderAndTheLastIsPartial() {
        var loader = new DataLoader<>(new Numbers(10), 4, false);
        assertEquals(3, loader.batchCount());
        for (int e = 0; e < 2; e++) {
            var batches = epoch(loader);
            assertEquals(List.of(List.of(0L, 1L, 2L, 3L), List.of(4L, 5L, 6L, 7L), List.of(8L, 9L)), batches);
        }
        assertEquals(2, loader.epoch());
    }

    @Test void everyIndexExactlyOncePerEpoch() {
        for (int prefetch : new int[] {0, 1, 3}) {
            var loader = DataLoader.builder(new Numbers(103)).batchSize(8).shuffle(true).seed(5).prefetch(prefetch).build();
            for (int e = 0; e < 3; e++) {
                var batches = epoch(loader);
                assertEquals(Collections.nCopies(12, 8), sizes(batches).subList(0, 12));
                assertEquals(7, batches.getLast().size()); // 103 = 12 * 8 + 7
                List<Long> seen = new ArrayList<>(flat(batches));
                Collections.sort(seen);
                assertEquals(range(103), seen, "epoch " + e + " prefetch " + prefetch);
            }
        }
    }

    @Test void dropLastLeavesOutThePartialBatch() {
        var loader = DataLoader.builder(new Numbers(10)).batchSize(4).shuffle(true).seed(1).dropLast(true).build();
        assertEquals(2, loader.batchCount());
        int[] order = loader.order(0);
        var batches = epoch(loader);
        assertEquals(List.of(4, 4), sizes(batches));
        // The examples served are the first 8 of the epoch's order; its last 2 are the dropped ones.
        List<Long> expected = new ArrayList<>();
        for (int j = 0; j < 8; j++) expected.add((long) order[j]);
        assertEquals(expected, flat(batches));
        // An exact multiple loses nothing.
        var exact = DataLoader.builder(new Numbers(8)).batchSize(4).dropLast(true).build();
        assertEquals(range(8), flat(epoch(exact)));
    }

    @Test void shuffleIsReproducibleBySeedAndDiffersAcrossEpochs() {
        var a = DataLoader.builder(new Numbers(50)).batchSize(7).shuffle(true).seed(42).build();
        var b = DataLoader.builder(new Numbers(50)).batchSize(7).shuffle(true).seed(42).prefetch(0).build();
        var c = DataLoader.builder(new Numbers(50)).batchSize(7).shuffle(true).seed(43).build();
        var a0 = epoch(a); var a1 = epoch(a);
        assertEquals(a0, epoch(b));
        assertEquals(a1, epoch(b));
        assertNotEquals(flat(a0), flat(a1));
        assertNotEquals(flat(a0), flat(epoch(c)));
        assertNotEquals(range(50), flat(a0));
        // Batches follow order(e), which depends on nothing but the seed and the epoch.
        assertEquals(flat(a1), Arrays.stream(a.order(1)).mapToObj(i -> (long) i).toList());
        // A new loader set to epoch 1 continues where a run stopped after epoch 0.
        var resumed = DataLoader.builder(new Numbers(50)).batchSize(7).shuffle(true).seed(42).build();
        resumed.setEpoch(1);
        assertEquals(a1, epoch(resumed));
    }

    @Test void setEpochWithABatchResumesInsideAnEpochWithoutLoadingTheSkippedBatches() {
        for (int prefetch : new int[] {0, 2}) {
            var whole = DataLoader.builder(new Numbers(50)).batchSize(7).shuffle(true).seed(3).prefetch(prefetch).build();
            whole.setEpoch(2);
            var epoch2 = epoch(whole);
            var epoch3 = epoch(whole);
            var data = new Numbers(50);
            var resumed = DataLoader.builder(data).batchSize(7).shuffle(true).seed(3).prefetch(prefetch).build();
            resumed.setEpoch(2, 5);
            var tail = epoch(resumed);
            assertEquals(epoch2.subList(5, 8), tail, "prefetch " + prefetch); // 50 = 7 batches of 7 and one of 1
            assertEquals(7 + 7 + 1, data.reads.get()); // batches 0-4 were never read
            assertEquals(epoch3, epoch(resumed)); // the next epoch starts at its first batch again
            resumed.setEpoch(0, resumed.batchCount());
            assertEquals(List.of(), epoch(resumed)); // resuming at the end of an epoch yields nothing
        }
        var loader = new DataLoader<>(new Numbers(10), 4, false);
        var it = loader.iterator();
        assertEquals(0, it.position());
        it.next();
        assertEquals(1, it.position());
        var e = assertThrows(IllegalArgumentException.class, () -> loader.setEpoch(0, 4));
        assertEquals("batch must be in [0, 3] (batches per epoch), got 4", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> loader.setEpoch(-1, 0));
    }

    /// Every element should land in every position about equally often over many epochs.
    @Test void shuffleIsRoughlyUniform() {
        var loader = DataLoader.builder(new Numbers(5)).shuffle(true).seed(9).build();
        int epochs = 20000;
        int[][] count = new int[5][5];
        for (int e = 0; e < epochs; e++) {
            int[] order = loader.order(e);
            for (int p = 0; p < 5; p++) count[order[p]][p]++;
        }
        // Expected 4000 each; the standard deviation is sqrt(20000 * 0.2 * 0.8) ~ 57, so 300 is > 5 sigma.
        for (int[] row : count) for (int c : row) assertEquals(4000, c, 300, Arrays.deepToString(count));
    }

    @Test void prefetchRunsOnADaemonWorkerThatStaysABoundedDistanceAhead() throws Exception {
        var data = new Numbers(1000);
        var loader = DataLoader.builder(data).batchSize(10).prefetch(2).build();
        try (var it = loader.iterator()) {
            assertTrue(it.hasNext());
            it.next();
            Thread.sleep(200);
            // One batch returned, two queued, one loaded and waiting to be queued: at most 4 batches read.
            assertTrue(data.reads.get() <= 40, data.reads.get() + " reads");
            assertEquals(1, data.readers.size());
            Thread worker = data.readers.iterator().next();
            assertNotSame(Thread.currentThread(), worker);
            assertTrue(worker.isDaemon());
        }
        var sync = new Numbers(30);
        epoch(DataLoader.builder(sync).batchSize(10).prefetch(0).build());
        assertEquals(Set.of(Thread.currentThread()), sync.readers);
    }

    @Test void aWorkerFailureIsRethrownInTheConsumerNamingTheIndex() {
        for (int prefetch : new int[] {0, 2}) {
            var data = new Numbers(20, i -> i == 13);
            var loader = DataLoader.builder(data).batchSize(4).prefetch(prefetch).build();
            List<Long> got = new ArrayList<>();
            var e = assertThrows(DataException.class, () -> { for (Batch b : loader) got.add(b.target().toLongArray()[0]); });
            assertEquals("dataset.get(13) failed in batch 3 of epoch 0: boom at 13", e.getMessage());
            assertEquals(List.of(0L, 4L, 8L), got); // the batches before the failure arrived
            Throwable root = e;
            while (root.getCause() != null) root = root.getCause();
            assertEquals(IllegalStateException.class, root.getClass());
            for (Thread t : data.readers) if (t != Thread.currentThread()) assertFalse(t.isAlive());
        }
    }

    @Test void aCollateFailureNamesTheBatch() {
        Dataset<Example> ragged = new Dataset<>() {
            public int size() { return 4; }
            public Example get(int i) { return new Example(NdArray.zeros(DType.F32, i == 2 ? 3 : 2), NdArray.of(new long[] {i})); }
        };
        var e = assertThrows(DataException.class, () -> { for (Batch b : new DataLoader<>(ragged, 2, false)) assertEquals(2, b.size()); });
        assertEquals("collating batch 1 of epoch 0 failed: cannot stack input #1 of type f32[2] onto input #0 of type f32[3]",
                e.getMessage());

        Dataset<String> words = new Dataset<>() {
            public int size() { return 3; }
            public String get(int i) { return "w" + i; }
        };
        e = assertThrows(DataException.class, () -> new DataLoader<>(words, 2, false).iterator().next());
        assertEquals("collating batch 0 of epoch 0 failed: the default collate stacks Example elements, got "
                + "java.lang.String; give DataLoader.builder(dataset).collate(...) for other elements", e.getMessage());
    }

    @Test void aCustomCollateSeesTheExamplesOfEachBatch() {
        Dataset<String> words = new Dataset<>() {
            public int size() { return 5; }
            public String get(int i) { return "w".repeat(i + 1); }
        };
        var loader = DataLoader.builder(words).batchSize(2).collate(ws -> new Batch(
                NdArray.of(ws.stream().mapToInt(String::length).toArray(), ws.size()),
                NdArray.of(new long[ws.size()], ws.size()))).build();
        List<List<Integer>> lengths = new ArrayList<>();
        for (Batch b : loader) lengths.add(Arrays.stream(b.input().toIntArray()).boxed().toList());
        assertEquals(List.of(List.of(1, 2), List.of(3, 4), List.of(5)), lengths);
    }

    // ---- stopping early ----

    static void awaitDeath(Set<Thread> threads) throws InterruptedException {
        long deadline = System.nanoTime() + 10_000_000_000L;
        for (Thread t : threads) {
            if (t == Thread.currentThread()) continue;
            while (t.isAlive()) {
                assertTrue(System.nanoTime() < deadline, t.getName() + " still alive");
                System.gc();
                Thread.sleep(20);
            }
        }
    }

    @Test void closingAnEpochStopsItsWorker() {
        var data = new Numbers(10_000);
        var loader = DataLoader.builder(data).batchSize(10).prefetch(2).build();
        try (var it = loader.iterator()) {
            it.next();
        }
        assertEquals(1, data.readers.size());
        for (Thread t : data.readers) assertFalse(t.isAlive()); // close() waits for the worker
        assertTrue(data.reads.get() <= 40);
    }

    @Test void breakingOutOfTheLoopDoesNotLeakTheWorker() throws InterruptedException {
        var data = new Numbers(10_000);
        var loader = DataLoader.builder(data).batchSize(10).prefetch(2).build();
        for (int e = 0; e < 3; e++) {
            for (Batch b : loader) if (b.target().toLongArray()[0] == 20) break;
        }
        assertEquals(3, data.readers.size()); // one worker per epoch
        // The abandoned epochs are unreachable: the cleaner stops their workers once collected.
        awaitDeath(data.readers);
        assertTrue(data.reads.get() <= 3 * 60, data.reads.get() + " reads");
    }

    @Test void closingTheLoaderStopsEveryWorker() {
        var data = new Numbers(10_000);
        var loader = DataLoader.builder(data).batchSize(10).prefetch(1).build();
        var first = loader.iterator();
        var second = loader.iterator();
        first.next();
        second.next();
        loader.close();
        assertEquals(2, data.readers.size());
        for (Thread t : data.readers) assertFalse(t.isAlive());
        // An epoch still being iterated says why it ends early rather than waiting forever.
        var e = assertThrows(DataException.class, first::hasNext);
        assertEquals("epoch 0 stopped before batch 1: its DataLoader was closed", e.getMessage());
        assertEquals("epoch 1 stopped before batch 1: its DataLoader was closed",
                assertThrows(DataException.class, second::next).getMessage());
        // The loader remains usable.
        assertEquals(1000, epoch(loader).size());
    }

    // ---- the pieces ----

    @Test void tensorDatasetReadsRowsOfTheFirstAxis() {
        var x = NdArray.of(new float[] {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 3, 2, 2);
        var y = NdArray.of(new long[] {7, 8, 9}, 3);
        var ds = new TensorDataset(x, y);
        assertEquals(3, ds.size());
        Example e = ds.get(1);
        assertArrayEquals(new int[] {2, 2}, e.input().shape());
        assertArrayEquals(new float[] {4, 5, 6, 7}, (float[]) e.input().data());
        assertEquals(0, e.target().rank());
        assertEquals(8, e.target().getLong(0));
        Batch b = Batch.stack(List.of(ds.get(2), ds.get(0)));
        assertArrayEquals(new int[] {2, 2, 2}, b.input().shape());
        assertArrayEquals(new float[] {8, 9, 10, 11, 0, 1, 2, 3}, b.input().toFloatArray());
        assertArrayEquals(new long[] {9, 7}, b.target().toLongArray());

        var e2 = assertThrows(IllegalArgumentException.class, () -> new TensorDataset(x, NdArray.of(new long[] {1, 2}, 2)));
        assertEquals("TensorDataset inputs f32[3,2,2] and targets i64[2] differ in their number of examples", e2.getMessage());
    }

    @Test void batchesHoldTensorsThatAModelTakes() {
        var x = dev.kiln.Tensor.of(new float[][] {{1, 2}, {3, 4}, {5, 6}});
        var ds = new TensorDataset(x, dev.kiln.Tensor.of(new long[] {0, 1, 2}));
        Batch b = new DataLoader<>(ds, 3, false).iterator().next();
        assertEquals(3, b.size());
        assertTrue(b.input().isRealized());
        assertArrayEquals(new int[] {3, 2}, b.input().shape());
        // The batch feeds ops directly: x @ [1, 10] = [21, 43, 65].
        assertArrayEquals(new float[] {21, 43, 65}, b.input().matmul(dev.kiln.Tensor.of(new float[] {1, 10})).toFloatArray());
        assertArrayEquals(new long[] {0, 1, 2}, b.target().toLongArray());
        var e = assertThrows(IllegalArgumentException.class,
                () -> new Batch(NdArray.of(new float[] {1, 2}, 2), NdArray.of(new long[] {1, 2, 3}, 3)));
        assertEquals("a batch needs inputs and targets with the same first dimension, got f32[2] and i64[3]", e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new Batch(dev.kiln.Tensor.scalar(1f), dev.kiln.Tensor.scalar(1f)));
    }

    @Test void mapAndSliceAreViews() {
        Dataset<Example> ds = new Numbers(10);
        Dataset<Long> targets = ds.slice(3, 7).map(ex -> ex.target().getLong(0));
        assertEquals(4, targets.size());
        assertEquals(List.of(3L, 4L, 5L, 6L), List.of(targets.get(0), targets.get(1), targets.get(2), targets.get(3)));
        assertThrows(IndexOutOfBoundsException.class, () -> targets.get(4));
        assertThrows(IndexOutOfBoundsException.class, () -> ds.slice(5, 11));
    }

    @Test void optionsAreChecked() {
        var ds = new Numbers(3);
        assertEquals("batch size must be at least 1, got 0",
                assertThrows(IllegalArgumentException.class, () -> new DataLoader<>(ds, 0, false)).getMessage());
        assertEquals("prefetch must be 0 or more batches, got -1",
                assertThrows(IllegalArgumentException.class, () -> DataLoader.builder(ds).prefetch(-1)).getMessage());
        var empty = new DataLoader<>(new Numbers(0), 4, true);
        assertEquals(0, empty.batchCount());
        assertFalse(empty.iterator().hasNext());
    }
}
