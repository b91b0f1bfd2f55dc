package dev.kiln.runtime;

import java.util.List;

/// A compiled graph, ready to run: inputs in parameter order, outputs in result order. What a
/// backend produces and what a standalone jar contains. Implementations say whether one instance
/// may be called from several threads at once.
public interface Executable {
    List<NdArray> run(List<NdArray> inputs);
}
