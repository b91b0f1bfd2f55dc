package dev.kiln.passes.lower;

import dev.kiln.ir.kernel.BufferPlan;
import dev.kiln.ir.kernel.Kir;
import dev.kiln.ir.kernel.Kir.*;
import dev.kiln.runtime.DType;

import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;

/// Memory planning: assigns the TEMP buffers of a lowered graph to shared typed slots.
final class MemoryPlanning {
    private MemoryPlanning() {}

    /// Greedy first-fit in definition order, preferring the free slot whose estimated size is
    /// closest above the buffer's (symbols estimated at 64). The plan's other fields follow from
    /// the slots (`BufferPlan.of`), as they do when a plan is read back from text.
    static BufferPlan plan(List<Buffer> buffers, List<Kernel> kernels, List<Integer> results) {
        int n = buffers.size();
        int[][] live = BufferPlan.liveRanges(n, kernels);
        int[] first = live[0], last = live[1];
        java.util.Set<Integer> resultSet = new HashSet<>(results);
        int[] slotOf = new int[n];
        java.util.Arrays.fill(slotOf, -1);
        List<DType> types = new ArrayList<>();
        List<Long> estimate = new ArrayList<>();
        List<Integer> busyUntil = new ArrayList<>();
        Integer[] order = new Integer[n];
        for (int i = 0; i < n; i++) order[i] = i;
        java.util.Arrays.sort(order, (a, b) -> Integer.compare(first[a], first[b]));
        for (int b : order) {
            Buffer buf = buffers.get(b);
            if (buf.kind() != BufferKind.TEMP || resultSet.contains(b) || first[b] < 0) continue;
            long size = estimate(buf.numel());
            int best = -1;
            for (int s = 0; s < types.size(); s++) {
                if (types.get(s) != buf.dtype() || busyUntil.get(s) >= first[b]) continue;
                if (best < 0 || better(estimate.get(s), estimate.get(best), size)) best = s;
            }
            if (best < 0) {
                best = types.size();
                types.add(buf.dtype());
                estimate.add(0L);
                busyUntil.add(-1);
            }
            slotOf[b] = best;
            estimate.set(best, Math.max(estimate.get(best), size));
            busyUntil.set(best, last[b]);
        }
        return BufferPlan.of(slotOf, buffers, live);
    }

    /// Prefer a slot already big enough (the smallest such), else the biggest.
    private static boolean better(long cand, long cur, long need) {
        boolean cf = cand >= need, uf = cur >= need;
        if (cf != uf) return cf;
        return cf ? cand < cur : cand > cur;
    }

    static long estimate(Expr numel) { return Kir.eval(numel, name -> 64); }
}
