package dev.kiln.passes;

import dev.kiln.ir.Graph;

import java.util.List;

/// A named pure function from graph to graph. The name is the flag spelling (`fold-constants`),
/// used by `PassManager`, the dump file names and the CLI. Invariant: `run` never mutates its
/// input (graphs are immutable) and returns a graph computing the same results.
public interface Pass {
    String name();

    Graph run(Graph g);

    /// The result plus notes for a reader (printed as `//` comments in dumps); most passes have none.
    default Outcome runWithNotes(Graph g) { return new Outcome(run(g), List.of()); }

    /// A pass's output graph and its notes, one line each, without comment markers.
    record Outcome(Graph graph, List<String> notes) {
        public Outcome { notes = List.copyOf(notes); }
    }
}
