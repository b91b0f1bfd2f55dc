package dev.kiln.passes;

import dev.kiln.ir.Graph;

/// Dead-code elimination (`dce`): drops the body values that no result uses, directly or not.
/// Parameters always stay (they are the graph's signature). Invariant: the output's body is a
/// subsequence of the input's, with the very same values.
public final class Dce implements Pass {
    public static final Pass PASS = new Dce();

    @Override public String name() { return "dce"; }

    @Override public Graph run(Graph g) { return Rewrite.keepReachable(g, g.results()); }
}
