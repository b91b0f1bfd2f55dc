package dev.kiln.ir.kernel;

import dev.kiln.ir.kernel.Kir.*;
import dev.kiln.runtime.DType;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;

/// Where intermediate buffers live (computed by `passes.lower.MemoryPlanning`): TEMP buffers that are not results share typed slots, two
/// buffers sharing a slot only when their live ranges (first writing kernel to last reading
/// kernel) do not overlap. A slot's size is the largest of its buffers' sizes for the bound
/// symbols, so the plan holds for every batch size. Invariant: `slotOf[b]` is -1 exactly for
/// PARAM, CONST and result buffers; every other field follows from `slotOf` and the kernels
/// (see `of`), which is why the text form prints only `slotOf`. Equality is by value.
public record BufferPlan(int[] slotOf, List<DType> slotTypes, List<List<Integer>> slotBuffers,
                         int[] firstUse, int[] lastUse) {
    public BufferPlan {
        slotTypes = List.copyOf(slotTypes);
        slotBuffers = slotBuffers.stream().map(List::copyOf).toList();
    }

    /// The plan that puts buffer `b` in slot `slotOf[b]` (-1: none): each slot's dtype is its
    /// buffers', its buffers are listed by first use (then id), and the live ranges are those
    /// of `liveRanges`. Slots must be numbered from 0 without gaps.
    public static BufferPlan of(int[] slotOf, List<Buffer> buffers, List<Kernel> kernels) {
        return of(slotOf, buffers, liveRanges(buffers.size(), kernels));
    }

    /// `of`, with the live ranges the caller has already computed (`liveRanges`).
    public static BufferPlan of(int[] slotOf, List<Buffer> buffers, int[][] live) {
        int[] first = live[0];
        List<DType> types = new ArrayList<>();
        List<List<Integer>> members = new ArrayList<>();
        Integer[] order = new Integer[buffers.size()];
        for (int i = 0; i < order.length; i++) order[i] = i;
        Arrays.sort(order, (a, b) -> Integer.compare(first[a], first[b])); // stable: ties stay in id order
        for (int b : order) {
            int s = slotOf[b];
            if (s < 0) continue;
            while (types.size() <= s) {
                types.add(null);
                members.add(new ArrayList<>());
            }
            types.set(s, buffers.get(b).dtype());
            members.get(s).add(b);
        }
        if (types.contains(null)) throw new IllegalArgumentException("slot " + types.indexOf(null) + " holds no buffer");
        return new BufferPlan(slotOf.clone(), types, members, first, live[1]);
    }

    /// `{first, last}`: for each of `n` buffers, the index of the first kernel that writes it
    /// and of the last kernel that reads or writes it; -1 when no kernel does.
    public static int[][] liveRanges(int n, List<Kernel> kernels) {
        int[] first = new int[n], last = new int[n];
        Arrays.fill(first, -1);
        Arrays.fill(last, -1);
        for (int k = 0; k < kernels.size(); k++) {
            for (int b : Kir.writes(kernels.get(k))) {
                if (first[b] < 0) first[b] = k;
                last[b] = Math.max(last[b], k);
            }
            for (int b : Kir.reads(kernels.get(k))) last[b] = Math.max(last[b], k);
        }
        return new int[][]{first, last};
    }

    @Override public boolean equals(Object o) {
        return o instanceof BufferPlan p && Arrays.equals(slotOf, p.slotOf) && slotTypes.equals(p.slotTypes)
                && slotBuffers.equals(p.slotBuffers) && Arrays.equals(firstUse, p.firstUse) && Arrays.equals(lastUse, p.lastUse);
    }

    @Override public int hashCode() { return Arrays.hashCode(slotOf) * 31 + slotTypes.hashCode(); }

    @Override public String toString() {
        return "BufferPlan[slotOf=" + Arrays.toString(slotOf) + ", slotTypes=" + slotTypes + ", slotBuffers=" + slotBuffers
                + ", firstUse=" + Arrays.toString(firstUse) + ", lastUse=" + Arrays.toString(lastUse) + "]";
    }
}
