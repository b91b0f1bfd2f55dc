package dev.kiln;

import dev.kiln.ir.Graph;

/// The passes a graph goes through between the frontend and the backend. Today the identity: the
/// frontend already emits interned (CSE'd) graphs, and the optimization passes plug in here.
final class Pipeline {
    private Pipeline() {}

    static Graph optimize(Graph g) { return g; }
}
