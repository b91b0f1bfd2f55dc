package dev.kiln.passes.autodiff;

import dev.kiln.ir.Builder;
import dev.kiln.ir.Dim;
import dev.kiln.ir.Graph;
import dev.kiln.ir.IrError;
import dev.kiln.ir.Op;
import dev.kiln.ir.Op.*;
import dev.kiln.ir.Ops;
import dev.kiln.ir.TensorType;
import dev.kiln.ir.Value;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/// A joint graph cut into a forward graph and a backward graph (AOTAutograd's partition).
///
/// - `forward`: the joint graph's primal parameters -> its primal results, then the saved
///   activations (one result per saved value, in joint order).
/// - `backward`: the primal parameters it reads (under their own names), then one `%saved.<k>`
///   per saved activation (k in the order the forward returns them), then the joint's cotangent
///   parameters -> the gradients.
///
/// Which values cross. The forward part of the joint is what its primal results need; the rest
/// is backward. Of the forward values the backward reads, each is either *saved* (returned by the
/// forward) or *recomputed* in the backward from other values. The choice is a minimum cut over
/// bytes, as in AOTAutograd's min-cut partitioner: each forward value is an edge `in -> out` whose
/// capacity is its size in bytes; operands feed their users with infinite edges; the source feeds
/// parameters and every value that may not be recomputed (contractions, reductions, fused
/// kernels: the expensive ones); the sink takes every forward value the backward reads. A cut
/// then names a set of values whose saving makes everything else the backward reads
/// recomputable from them, and the minimum cut saves the fewest bytes. Parameters cost nothing:
/// the caller holds them across the step anyway. Among the minimum cuts the one nearest the sink
/// is taken, which recomputes as little as possible. Typical outcome: `relu(z)` is recomputed
/// from a saved `z` instead of both being saved; chains of elementwise ops on parameters are
/// recomputed outright. Symbolic dimensions count as `SYMBOL_SIZE` elements.
///
/// Not done: moving backward-only values that need no cotangent (a relu mask) into the forward
/// so as to save them in a smaller dtype; limiting how long a recomputed chain may grow.
///
/// Invariant: running `forward`, then `backward` on its saved results and the cotangents, gives
/// exactly the joint graph's values (the same ops on the same inputs).
public record Split(Graph forward, Graph backward, List<String> saved, List<String> recomputed, String report) {

    /// The size assumed for a symbolic dimension when weighing what to save.
    public static final long SYMBOL_SIZE = 1024;

    private static final long INF = Long.MAX_VALUE / 4;

    /// Splits `joint`, whose first `primalParams` parameters are the forward's inputs (the rest
    /// are cotangents) and whose first `primalResults` results are the forward's results (the
    /// rest are gradients), as `Differentiate` lays them out.
    public static Split of(Graph joint, int primalParams, int primalResults) {
        List<Value> params = joint.params(), results = joint.results();
        if (primalParams > params.size() || primalResults > results.size())
            throw new IrError("split: graph @" + joint.name() + " has " + params.size() + " parameters and " + results.size()
                    + " results, fewer than the " + primalParams + " and " + primalResults + " asked for");
        List<Value> primal = params.subList(0, primalParams), cotangents = params.subList(primalParams, params.size());
        List<Value> outs = results.subList(0, primalResults), grads = results.subList(primalResults, results.size());

        Set<Value> fwd = Differentiate.ancestors(outs);
        for (Value c : cotangents)
            if (fwd.contains(c))
                throw new IrError("split: a forward result of @" + joint.name() + " depends on the cotangent '%"
                        + Differentiate.name(c) + "'");
        fwd.addAll(primal);
        Set<Value> bwd = Differentiate.ancestors(grads);

        // Candidates: forward values the backward depends on (parameters first, then body order).
        List<Value> cand = new ArrayList<>();
        for (Value p : primal) if (bwd.contains(p)) cand.add(p);
        for (Value v : joint.body()) if (fwd.contains(v) && bwd.contains(v)) cand.add(v);
        Map<Value, Integer> id = new HashMap<>();
        for (int k = 0; k < cand.size(); k++) id.put(cand.get(k), k);

        Flow net = new Flow(2 + 2 * cand.size());
        for (int k = 0; k < cand.size(); k++) {
            Value v = cand.get(k);
            boolean param = v.op() instanceof Param;
            net.edge(in(k), out(k), param ? 0 : bytes(v.type()));
            if (param || !recomputable(v.op())) net.edge(Flow.SOURCE, in(k), INF);
            for (Value u : Ops.operands(v.op())) if (id.containsKey(u)) net.edge(out(id.get(u)), in(k), INF);
        }
        for (Value v : joint.body())
            if (bwd.contains(v) && !fwd.contains(v))
                for (Value u : Ops.operands(v.op())) if (id.containsKey(u)) net.edge(out(id.get(u)), Flow.SINK, INF);
        for (Value r : grads) if (id.containsKey(r)) net.edge(out(id.get(r)), Flow.SINK, INF);
        net.maxFlow();
        boolean[] late = net.reachingSink();

        List<Value> savedParams = new ArrayList<>(), savedActs = new ArrayList<>();
        Set<Value> recomputable = new HashSet<>();
        for (int k = 0; k < cand.size(); k++) {
            Value v = cand.get(k);
            if (late[in(k)]) recomputable.add(v);
            else if (late[out(k)]) (v.op() instanceof Param ? savedParams : savedActs).add(v);
        }

        // Forward: what the primal results and the saved activations need.
        Builder fb = new Builder();
        Map<Value, Value> fm = new HashMap<>();
        for (Value p : primal) try (var _ = fb.at(p.loc())) { fm.put(p, fb.param(Differentiate.name(p), p.type())); }
        List<Value> fRoots = new ArrayList<>(outs);
        fRoots.addAll(savedActs);
        Set<Value> fNeed = Differentiate.ancestors(fRoots);
        for (Value v : joint.body())
            if (fNeed.contains(v)) try (var _ = fb.at(v.loc())) { fm.put(v, fb.emit(Ops.mapOperands(v.op(), fm::get))); }
        Graph forward = fb.build(joint.name() + "_forward", fRoots.stream().map(fm::get).toList());

        // Backward: saved values and cotangents come in as parameters; the rest is computed.
        Builder bb = new Builder();
        Map<Value, Value> bm = new HashMap<>();
        List<String> savedNames = new ArrayList<>();
        String prefix = freshPrefix(joint);
        for (Value p : savedParams) {
            savedNames.add(Differentiate.name(p));
            try (var _ = bb.at(p.loc())) { bm.put(p, bb.param(Differentiate.name(p), p.type())); }
        }
        for (int k = 0; k < savedActs.size(); k++) {
            Value v = savedActs.get(k);
            savedNames.add(prefix + "." + k);
            try (var _ = bb.at(v.loc())) { bm.put(v, bb.param(prefix + "." + k, v.type())); }
        }
        for (Value c : cotangents) try (var _ = bb.at(c.loc())) { bm.put(c, bb.param(Differentiate.name(c), c.type())); }
        Set<Value> bNeed = new HashSet<>();
        ArrayDeque<Value> stack = new ArrayDeque<>(grads);
        while (!stack.isEmpty()) {
            Value v = stack.pop();
            if (bm.containsKey(v) || !bNeed.add(v)) continue;
            stack.addAll(Ops.operands(v.op()));
        }
        List<Value> recomputed = new ArrayList<>();
        for (Value v : joint.body()) {
            if (!bNeed.contains(v)) continue;
            if (fwd.contains(v)) {
                if (!recomputable.contains(v)) throw new IllegalStateException("split: " + v + " is neither saved nor recomputed");
                recomputed.add(v);
            }
            try (var _ = bb.at(v.loc())) { bm.put(v, bb.emit(Ops.mapOperands(v.op(), bm::get))); }
        }
        for (Value v : bNeed)
            if (v.op() instanceof Param) throw new IllegalStateException("split: parameter " + v + " was not passed to the backward");
        Graph backward = bb.build(joint.name() + "_backward", grads.stream().map(bm::get).toList());

        Map<Value, Integer> number = new HashMap<>();
        for (int i = 0; i < joint.body().size(); i++) number.put(joint.body().get(i), i);
        List<String> recomputedText = recomputed.stream().map(v -> describe(v, number)).toList();
        return new Split(forward, backward, savedNames, recomputedText,
                report(joint, forward, backward, savedParams, savedActs, prefix, recomputedText, number));
    }

    private static int in(int k) { return 2 + 2 * k; }
    private static int out(int k) { return 3 + 2 * k; }

    /// Whether the backward may compute this op again rather than have it saved: layout and
    /// elementwise ops and constants are cheap (and fuse into the backward's kernels); the
    /// contractions, reductions and fused kernels are not.
    static boolean recomputable(Op op) {
        return switch (op) {
            case Param _ -> false;
            case Const _, Dense _, Iota _, RandomUniform _ -> true; // random draws are a pure function of the seed
            case Elementwise _, Broadcast _, Reshape _, Transpose _, Slice _, Pad _, Concat _ -> true;
            case ReduceSum _, ReduceMax _, Argmax _, ReduceMaxGrad _, Matmul _, Conv2d _, Conv2dGradInput _, Conv2dGradWeight _, Fused _ -> false;
        };
    }

    static long bytes(TensorType t) {
        long n = t.dtype().byteSize();
        for (Dim d : t.shape().dims()) n *= d.isFixed() ? d.size() : SYMBOL_SIZE;
        return n;
    }

    private static String freshPrefix(Graph g) {
        String p = "saved";
        while (true) {
            String q = p;
            if (g.paramNames().stream().noneMatch(n -> n.startsWith(q + "."))) return p;
            p = "_" + p;
        }
    }

    /// `%3 = relu : f32[32,128]`, numbered as the joint graph prints.
    private static String describe(Value v, Map<Value, Integer> number) {
        return "%" + number.get(v) + " = " + Ops.mnemonic(v.op()) + " : " + v.type();
    }

    private static String report(Graph joint, Graph forward, Graph backward, List<Value> savedParams, List<Value> savedActs,
                                 String prefix, List<String> recomputed, Map<Value, Integer> number) {
        StringBuilder s = new StringBuilder();
        s.append("split @").append(joint.name()).append(": forward ").append(forward.body().size()).append(" ops, backward ")
                .append(backward.body().size()).append(" ops\n");
        s.append("saved for the backward (minimum cut over bytes; parameters cost nothing):\n");
        for (Value p : savedParams)
            s.append(String.format("  %%%-20s %-16s parameter%n", Differentiate.name(p), p.type()));
        long total = 0;
        for (int k = 0; k < savedActs.size(); k++) {
            Value v = savedActs.get(k);
            total += bytes(v.type());
            s.append(String.format("  %%%-20s %-16s %%%d = %s%n", prefix + "." + k, v.type(), number.get(v), Ops.mnemonic(v.op())));
        }
        s.append("saved activations: ").append(total).append(" bytes in ").append(savedActs.size())
                .append(savedActs.size() == 1 ? " value\n" : " values\n");
        s.append("recomputed in the backward:").append(recomputed.isEmpty() ? " none\n" : "\n");
        for (String r : recomputed) s.append("  ").append(r).append('\n');
        return s.toString();
    }

    @Override public String toString() { return report; }

    /// A flow network with integer capacities; Edmonds-Karp max flow (graphs here have a few
    /// hundred nodes).
    static final class Flow {
        static final int SOURCE = 0, SINK = 1;
        private final List<int[]> edges = new ArrayList<>(); // {from, to}; edge i^1 is the reverse of edge i
        private final List<long[]> cap = new ArrayList<>();  // residual capacity, one element
        private final List<List<Integer>> adj = new ArrayList<>();

        Flow(int nodes) { for (int i = 0; i < nodes; i++) adj.add(new ArrayList<>()); }

        void edge(int from, int to, long c) {
            adj.get(from).add(edges.size());
            edges.add(new int[]{from, to});
            cap.add(new long[]{c});
            adj.get(to).add(edges.size());
            edges.add(new int[]{to, from});
            cap.add(new long[]{0});
        }

        long maxFlow() {
            long total = 0;
            while (true) {
                int[] via = new int[adj.size()];
                Arrays.fill(via, -1);
                ArrayDeque<Integer> queue = new ArrayDeque<>(List.of(SOURCE));
                while (!queue.isEmpty() && via[SINK] < 0) {
                    int u = queue.poll();
                    for (int e : adj.get(u)) {
                        int w = edges.get(e)[1];
                        if (w != SOURCE && via[w] < 0 && cap.get(e)[0] > 0) { via[w] = e; queue.add(w); }
                    }
                }
                if (via[SINK] < 0) return total;
                long push = Long.MAX_VALUE;
                for (int w = SINK; w != SOURCE; w = edges.get(via[w])[0]) push = Math.min(push, cap.get(via[w])[0]);
                for (int w = SINK; w != SOURCE; w = edges.get(via[w])[0]) {
                    cap.get(via[w])[0] -= push;
                    cap.get(via[w] ^ 1)[0] += push;
                }
                total += push;
            }
        }

        /// After `maxFlow`: the nodes that can still reach the sink in the residual network (the
        /// sink side of the minimum cut nearest the sink).
        boolean[] reachingSink() {
            boolean[] seen = new boolean[adj.size()];
            seen[SINK] = true;
            ArrayDeque<Integer> queue = new ArrayDeque<>(List.of(SINK));
            while (!queue.isEmpty()) {
                int w = queue.poll();
                for (int e : adj.get(w)) {       // e: w -> u; its reverse e^1 is u -> w
                    int u = edges.get(e)[1];
                    if (!seen[u] && cap.get(e ^ 1)[0] > 0) { seen[u] = true; queue.add(u); }
                }
            }
            return seen;
        }
    }
}
