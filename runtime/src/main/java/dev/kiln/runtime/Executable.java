package dev.kiln.runtime;

import java.util.List;

/// A compiled graph, ready to run: inputs in parameter order, outputs in result order. What a
/// backend produces and what a standalone jar contains. Implementations say whether one instance
/// may be called from several threads at once.
///
/// One that holds native resources (device memory) is shared by counting: whoever gets it from
/// the backend holds it, `retain` adds a holder, and each holder calls `close` once when done;
/// the resources go with the last. For the others both do nothing.
public interface Executable {
    List<NdArray> run(List<NdArray> inputs);

    /// Adds a holder, who calls `close` once when done; returns this.
    default Executable retain() { return this; }

    /// Drops this holder's hold.
    default void close() {}
}
