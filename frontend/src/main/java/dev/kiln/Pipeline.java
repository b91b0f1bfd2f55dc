package dev.kiln;

import dev.kiln.ir.Graph;
import dev.kiln.ir.Verifier;

/// The passes a graph goes through between the frontend and the backend. Today only the verifier
/// (with `-Dkiln.verifyEach`): the frontend already emits interned (CSE'd) graphs, and the
/// optimization passes plug in here.
final class Pipeline {
    private Pipeline() {}

    static Graph optimize(Graph g) {
        if (Boolean.getBoolean("kiln.verifyEach")) Verifier.verify(g);
        return g;
    }
}
