package dev.kiln.ir.kernel;

import dev.kiln.ir.kernel.Kir.*;
import dev.kiln.runtime.DType;

import java.util.List;

/// Where intermediate buffers live (computed by `passes.lower.MemoryPlanning`): TEMP buffers that are not results share typed slots, two
/// buffers sharing a slot only when their live ranges (first writing kernel to last reading
/// kernel) do not overlap. A slot's size is the largest of its buffers' sizes for the bound
/// symbols, so the plan holds for every batch size. Invariant: `slotOf[b]` is -1 exactly for
/// PARAM, CONST and result buffers.
public record BufferPlan(int[] slotOf, List<DType> slotTypes, List<List<Integer>> slotBuffers,
                         int[] firstUse, int[] lastUse) {
}
