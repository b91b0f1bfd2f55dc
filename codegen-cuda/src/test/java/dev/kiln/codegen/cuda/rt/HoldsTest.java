package dev.kiln.codegen.cuda.rt;

import org.junit.jupiter.api.Test;

import java.lang.ref.Cleaner;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.*;

/// The ownership bookkeeping of `CudaPlanExecutable`, without a GPU: the resources go once,
/// after the last holder lets go, never while a holder (a cache, a model, a resident loop whose
/// captured graph reads them) is left; and an owner that becomes unreachable lets go through the
/// `Cleaner`, as the executable and its resident loops do.
class HoldsTest {
    @Test void freesOnceAfterTheLastRelease() {
        AtomicInteger frees = new AtomicInteger();
        Holds h = new Holds(frees::incrementAndGet);
        h.acquire("x"); // a resident loop
        h.acquire("x"); // a second owner
        h.release();
        h.release();
        assertEquals(0, frees.get(), "one holder is left");
        assertEquals(1, h.count());
        h.release();
        assertEquals(1, frees.get());
        h.release();
        assertEquals(1, frees.get(), "a release after the last does nothing");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> h.acquire("graph @m: executable"));
        assertEquals("graph @m: executable is closed", e.getMessage());
    }

    /// An owner registered as `CudaPlanExecutable` registers itself: the action holds the
    /// resources, never the owner, so the owner can become unreachable.
    @Test void anUnreachableOwnerReleasesThroughTheCleaner() throws Exception {
        AtomicInteger frees = new AtomicInteger();
        Holds h = new Holds(frees::incrementAndGet);
        h.acquire("x"); // a resident loop still running
        register(h);
        for (int i = 0; i < 200 && h.count() > 1; i++) {
            System.gc();
            Thread.sleep(10);
        }
        assertEquals(1, h.count(), "the unreachable owner's hold went");
        assertEquals(0, frees.get(), "the resident loop's hold keeps the resources");
        h.release();
        assertEquals(1, frees.get());
    }

    private static void register(Holds h) {
        Object owner = new Object();
        Cleaner.Cleanable c = CudaPlanExecutable.CLEANER.register(owner, h::release);
        assertNotNull(c);
    }
}
