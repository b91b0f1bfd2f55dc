package dev.kiln.cli;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import dev.kiln.cli.GraphView.Edge;
import dev.kiln.cli.GraphView.Kind;
import dev.kiln.cli.GraphView.Node;
import dev.kiln.cli.GraphView.Phase;
import dev.kiln.cli.GraphView.Scene;

/// A layered drawing of a `GraphView` (the Sugiyama scheme, kept simple):
/// 1. layers by longest path from the sources; then backward ops, parameters, constants and what
///    is computed from them alone move down to just above their first user, so that weights
///    sit next to the op that reads them and the backward below the forward;
/// 2. ranks: layer `l` is rank `2l`; rank `2l+1` below it holds one *value point* per value,
///    where its type is written; from there one trunk of dummy points (one per rank) runs down
///    to the value's last user and each use branches off it, so no edge crosses a node and the
///    uses of a value share one line;
/// 3. order within ranks by barycenters, sweeping down and up, keeping the order with the
///    fewest crossings;
/// 4. x by repeated smoothing: each item moves to the mean position its neighbours want for it
///    (an edge arrives at its operand's port: operand 0 left, 1 right), and the positions that
///    keep the order and spacing closest to those wishes are found exactly by isotonic
///    regression (pool adjacent violators);
/// 5. a fused kernel is drawn as a box around the drawing of its region, laid out first.
///
/// Text sizes assume a 12px monospace font for nodes and 10px for labels (about 0.6 em per
/// character). Invariant: boxes in one scene do not overlap (same rank: spaced by order;
/// different ranks: disjoint bands), and every edge path starts at the bottom of its source
/// and ends at the top of its target.
final class Layout {
    static final double CHAR = 7.3, LINE = 15, PAD_X = 10, PAD_Y = 5, LABEL_CHAR = 6.1, LABEL_H = 14;
    static final double GAP_X = 18, DUMMY_W = 6, GAP_Y = 9, MARGIN = 16, HEADER = 2 * LINE + 8, INSET = 10;
    private static final int SWEEPS = 24, SMOOTHING_ROUNDS = 12;
    /// Bend points (value labels and edge dummies) a drawing may need. Each costs some memory
    /// and time; a graph whose values are used very far from where they are made could need a
    /// number quadratic in its size, and is refused instead.
    static final long MAX_POINTS = 2_000_000;

    record Box(double x, double y, double w, double h) {
        double cx() { return x + w / 2; }
    }

    /// A node at its place; `parent` is the id of the kernel whose box holds it, or null.
    record Placed(Node node, Box box, String parent, List<String> lines) {}

    /// An edge's path: x, y pairs from the source's bottom to the target's top.
    record Path(Edge edge, double[] points) {}

    /// The type of a value, written where its uses fan out.
    record Label(String from, String text, Phase phase, double x, double y, double w) {}

    record Drawing(double width, double height, List<Placed> nodes, List<Path> paths, List<Label> labels) {}

    static Drawing of(GraphView view) {
        SceneLayout top = new SceneLayout(view.scene());
        List<Placed> nodes = new ArrayList<>();
        List<Path> paths = new ArrayList<>();
        List<Label> labels = new ArrayList<>();
        top.emit(0, 0, null, nodes, paths, labels);
        return new Drawing(top.width, top.height, nodes, paths, labels);
    }

    /// The lines written on a node's face (a kernel's header for a fused node).
    static List<String> lines(Node n) {
        return switch (n.kind()) {
            case PARAM -> List.of(n.name(), n.type());
            case RETURN -> List.of(n.title());
            case OP -> n.brief().isEmpty() ? List.of(n.title() + " " + n.name(), n.type())
                    : List.of(n.title() + " " + n.name(), n.type(), n.brief());
            case FUSED -> List.of(n.title() + " " + n.name(), n.type());
        };
    }

    /// One item of a rank: a node, a value point (label) or an edge's dummy point.
    private static final class Item {
        final Node node;          // null for points
        final String label;       // for value points
        final Phase phase;
        final double w, h;
        int rank, order;
        double x;                 // centre
        final List<Link> in = new ArrayList<>(), out = new ArrayList<>();

        Item(Node node, String label, Phase phase, double w, double h) {
            this.node = node;
            this.label = label;
            this.phase = phase;
            this.w = w;
            this.h = h;
        }
    }

    /// `from` feeds port `port` of `to` (the port matters only when `to` is a node).
    private record Link(Item from, Item to, int port) {}

    private static final class SceneLayout {
        final Scene scene;
        final Map<String, Item> items = new HashMap<>();
        final Map<String, SceneLayout> regions = new HashMap<>();
        final Map<Edge, List<Item>> chains = new HashMap<>();
        final Map<Item, Item> valuePoint = new LinkedHashMap<>();
        final List<List<Item>> ranks = new ArrayList<>();
        double width, height;
        double[] rankTop, rankHeight;

        SceneLayout(Scene scene) {
            this.scene = scene;
            for (Node n : scene.nodes()) {
                double w, h;
                List<String> lines = lines(n);
                int chars = lines.stream().mapToInt(String::length).max().orElse(0);
                w = chars * CHAR + 2 * PAD_X;
                h = lines.size() * LINE + 2 * PAD_Y;
                if (n.region() != null) {
                    SceneLayout inner = new SceneLayout(n.region());
                    regions.put(n.id(), inner);
                    // The inner drawing's own margins give way to the box's inset.
                    w = Math.max(w, inner.width - 2 * MARGIN + 2 * INSET);
                    h = HEADER + inner.height - 2 * MARGIN + INSET;
                }
                if (n.ports() > 1) w = Math.max(w, (n.ports() + 1) * 14);
                items.put(n.id(), new Item(n, null, n.phase(), w, h));
            }
            layer();
            order();
            place();
        }

        // ---- 1, 2: layers, ranks, value points and dummies --------------------------------

        private void layer() {
            Map<String, List<Edge>> outs = new HashMap<>(), ins = new HashMap<>();
            for (Edge e : scene.edges()) {
                outs.computeIfAbsent(e.from(), k -> new ArrayList<>()).add(e);
                ins.computeIfAbsent(e.to(), k -> new ArrayList<>()).add(e);
            }
            Map<String, Integer> layer = new HashMap<>();
            int max = 0;
            for (Node n : scene.nodes()) {
                int l = 0;
                for (Edge e : ins.getOrDefault(n.id(), List.of())) l = Math.max(l, layer.get(e.from()) + 1);
                if (n.kind() == Kind.RETURN) l = Math.max(l, max + 1);
                layer.put(n.id(), l);
                max = Math.max(max, l);
            }
            // Backward ops and nodes computed from constants and parameters alone (a weight's
            // transpose, a bias broadcast) float down to just above their first user, so that
            // they sit beside the op that reads them, and the gradient's seed next to where it
            // meets the forward values, not in the top rows. The forward keeps its
            // longest-path layers and runs top down. A region's parameters stay on top, in
            // order, where the kernel's inputs arrive.
            Map<String, Boolean> fromParams = new HashMap<>();
            Map<String, Boolean> floating = new HashMap<>();
            for (Node n : scene.nodes()) {
                List<Edge> in = ins.getOrDefault(n.id(), List.of());
                boolean dep = n.kind() == Kind.PARAM || in.stream().anyMatch(e -> fromParams.get(e.from()));
                fromParams.put(n.id(), dep);
                floating.put(n.id(), !dep || n.phase() != Phase.FORWARD
                        || in.stream().allMatch(e -> !ins.containsKey(e.from()) || !fromParams.get(e.from())));
            }
            for (Node n : scene.nodes().reversed()) {
                List<Edge> out = outs.getOrDefault(n.id(), List.of());
                if (out.isEmpty() || !floating.get(n.id()) || n.kind() == Kind.RETURN) continue;
                if (scene.region() && n.kind() == Kind.PARAM) continue;
                int first = out.stream().mapToInt(e -> layer.get(e.to())).min().orElseThrow();
                layer.put(n.id(), first - 1);
            }
            for (int r = 0; r <= 2 * max + 1; r++) ranks.add(new ArrayList<>());
            for (Node n : scene.nodes()) put(items.get(n.id()), 2 * layer.get(n.id()));
            long points = 0;
            Map<String, Integer> deepest = new HashMap<>();
            for (Edge e : scene.edges()) deepest.merge(e.from(), items.get(e.to()).rank, Math::max);
            for (var d : deepest.entrySet()) points += d.getValue() - items.get(d.getKey()).rank;
            if (points > MAX_POINTS)
                throw new CliException("the graph is too large to draw (" + scene.nodes().size() + " nodes whose edges need " + points
                        + " bend points, more than " + MAX_POINTS + "); dump it with --format dot or text");
            for (Node n : scene.nodes()) {
                Item src = items.get(n.id());
                List<Edge> out = outs.getOrDefault(n.id(), List.of());
                if (out.isEmpty()) continue;
                Item value = new Item(null, n.type(), n.phase(), n.type().length() * LABEL_CHAR + 6, LABEL_H);
                put(value, src.rank + 1);
                link(src, value, 0);
                valuePoint.put(src, value);
                // One trunk of points runs down from the value to its last user; each use leaves
                // it on the rank above its user, so the uses of one value share one line.
                List<Item> trunk = new ArrayList<>(List.of(value));
                for (int r = value.rank + 1; r < deepest.get(n.id()); r++) {
                    Item d = new Item(null, null, n.phase(), DUMMY_W, 0);
                    put(d, r);
                    link(trunk.getLast(), d, 0);
                    trunk.add(d);
                }
                for (Edge e : out) {
                    Item target = items.get(e.to());
                    List<Item> chain = new ArrayList<>(List.of(src));
                    chain.addAll(trunk.subList(0, target.rank - value.rank));
                    link(chain.getLast(), target, e.port());
                    chain.add(target);
                    chains.put(e, chain);
                }
            }
        }

        private void put(Item it, int rank) {
            it.rank = rank;
            it.order = ranks.get(rank).size();
            ranks.get(rank).add(it);
        }

        private static void link(Item from, Item to, int port) {
            Link l = new Link(from, to, port);
            from.out.add(l);
            to.in.add(l);
        }

        // ---- 3: order ---------------------------------------------------------------------

        private void order() {
            List<List<Item>> best = copy();
            long bestCrossings = crossings();
            for (int sweep = 0; sweep < SWEEPS && bestCrossings > 0; sweep++) {
                boolean down = sweep % 2 == 0;
                // A region's top rank keeps its parameters in operand order.
                int last = scene.region() ? 1 : 0;
                if (down) for (int r = 1; r < ranks.size(); r++) sortBy(ranks.get(r), true);
                else for (int r = ranks.size() - 2; r >= last; r--) sortBy(ranks.get(r), false);
                long c = crossings();
                if (c < bestCrossings) {
                    bestCrossings = c;
                    best = copy();
                }
            }
            ranks.clear();
            ranks.addAll(best);
            renumber();
        }

        private void sortBy(List<Item> rank, boolean byPredecessors) {
            Map<Item, Double> key = new HashMap<>();
            for (Item it : rank) {
                List<Link> links = byPredecessors ? it.in : it.out;
                if (links.isEmpty()) {
                    key.put(it, (double) it.order);
                    continue;
                }
                double sum = 0;
                for (Link l : links) sum += byPredecessors ? l.from().order : l.to().order;
                key.put(it, sum / links.size());
            }
            rank.sort(Comparator.comparingDouble(key::get)); // stable: ties keep their order
            for (int i = 0; i < rank.size(); i++) rank.get(i).order = i;
        }

        private List<List<Item>> copy() {
            List<List<Item>> c = new ArrayList<>();
            for (List<Item> r : ranks) c.add(new ArrayList<>(r));
            return c;
        }

        private void renumber() {
            for (List<Item> r : ranks) for (int i = 0; i < r.size(); i++) r.get(i).order = i;
        }

        /// Edge crossings between each pair of neighbouring ranks: inversions of the targets'
        /// order when links are sorted by their sources' order, counted with a Fenwick tree.
        private long crossings() {
            long total = 0;
            for (int r = 0; r + 1 < ranks.size(); r++) {
                List<int[]> links = new ArrayList<>();
                for (Item it : ranks.get(r)) for (Link l : it.out) links.add(new int[] {it.order, l.to().order});
                links.sort((a, b) -> a[0] != b[0] ? Integer.compare(a[0], b[0]) : Integer.compare(a[1], b[1]));
                int n = ranks.get(r + 1).size();
                long[] tree = new long[n + 1];
                long seen = 0;
                for (int[] l : links) {
                    long notAbove = 0; // links seen so far whose target is at or left of this one
                    for (int i = l[1] + 1; i > 0; i -= i & -i) notAbove += tree[i];
                    total += seen - notAbove;
                    for (int i = l[1] + 1; i <= n; i += i & -i) tree[i]++;
                    seen++;
                }
            }
            return total;
        }

        // ---- 4: coordinates ---------------------------------------------------------------

        private void place() {
            for (List<Item> rank : ranks) { // packed left to right to start with
                double x = 0;
                for (Item it : rank) {
                    it.x = x + it.w / 2;
                    x += it.w + gap(it);
                }
            }
            for (int round = 0; round < SMOOTHING_ROUNDS; round++) {
                for (int r = 1; r < ranks.size(); r++) smooth(ranks.get(r), true, false);
                for (int r = ranks.size() - 2; r >= 0; r--) smooth(ranks.get(r), false, true);
            }
            for (List<Item> rank : ranks) smooth(rank, true, true);

            double left = Double.POSITIVE_INFINITY, right = Double.NEGATIVE_INFINITY;
            for (List<Item> rank : ranks)
                for (Item it : rank) {
                    left = Math.min(left, it.x - it.w / 2);
                    right = Math.max(right, it.x + it.w / 2);
                }
            if (left == Double.POSITIVE_INFINITY) left = right = 0;
            for (List<Item> rank : ranks) for (Item it : rank) it.x += MARGIN - left;
            width = right - left + 2 * MARGIN;

            rankTop = new double[ranks.size()];
            rankHeight = new double[ranks.size()];
            double y = MARGIN;
            for (int r = 0; r < ranks.size(); r++) {
                for (Item it : ranks.get(r)) rankHeight[r] = Math.max(rankHeight[r], it.h);
                rankTop[r] = y;
                y += rankHeight[r] + GAP_Y;
            }
            height = y - GAP_Y + MARGIN;
        }

        private static double gap(Item it) { return it.node != null ? GAP_X : 4; }

        /// Moves the items of `rank` to where their neighbours (above, below or both) want them,
        /// as near as keeping their order and spacing allows.
        private void smooth(List<Item> rank, boolean above, boolean below) {
            int n = rank.size();
            if (n == 0) return;
            double[] want = new double[n];
            for (int i = 0; i < n; i++) {
                Item it = rank.get(i);
                double sum = 0;
                int count = 0;
                if (above) for (Link l : it.in) {
                    sum += l.from().x - portOffset(it, l.port());
                    count++;
                }
                if (below) for (Link l : it.out) {
                    sum += l.to().x + portOffset(l.to(), l.port());
                    count++;
                }
                want[i] = count == 0 ? it.x : sum / count;
            }
            // x[i] = y[i] + offset[i] with offset the tightest packing; order and spacing hold
            // exactly when y is non-decreasing: the best y is the isotonic regression of
            // want - offset.
            double[] offset = new double[n], target = new double[n];
            for (int i = 1; i < n; i++)
                offset[i] = offset[i - 1] + (rank.get(i - 1).w + rank.get(i).w) / 2 + Math.max(gap(rank.get(i - 1)), gap(rank.get(i)));
            for (int i = 0; i < n; i++) target[i] = want[i] - offset[i];
            double[] fit = isotonic(target);
            for (int i = 0; i < n; i++) rank.get(i).x = fit[i] + offset[i];
        }

        /// Where port `port` of `it` lies, from its centre.
        private double portOffset(Item it, int port) {
            Node n = it.node;
            if (n == null || n.ports() <= 1) return 0;
            if (n.kind() == Kind.FUSED) {
                SceneLayout inner = regions.get(n.id());
                Item p = inner.items.get(n.id() + ".p" + port);
                if (p != null) return p.x - inner.width / 2; // the region is centred in the box
            }
            return (port + 1) * it.w / (n.ports() + 1) - it.w / 2;
        }

        // ---- output -----------------------------------------------------------------------

        /// Nodes hang from the top of their rank, so a tall kernel box beside small ops does not push them down.
        private double top(Item it) { return it.node != null ? rankTop[it.rank] : rankTop[it.rank] + (rankHeight[it.rank] - it.h) / 2; }

        private double middle(Item it) { return rankTop[it.rank] + rankHeight[it.rank] / 2; }

        /// Adds this scene's nodes, paths and labels, moved by (dx, dy), to the lists.
        void emit(double dx, double dy, String parent, List<Placed> nodes, List<Path> paths, List<Label> labels) {
            for (Node n : scene.nodes()) {
                Item it = items.get(n.id());
                Box box = new Box(dx + it.x - it.w / 2, dy + top(it), it.w, it.h);
                nodes.add(new Placed(n, box, parent, lines(n)));
                SceneLayout inner = regions.get(n.id());
                if (inner != null)
                    inner.emit(box.cx() - inner.width / 2, box.y() + HEADER - MARGIN, n.id(), nodes, paths, labels);
            }
            for (var e : valuePoint.entrySet()) {
                Item v = e.getValue();
                labels.add(new Label(e.getKey().node.id(), v.label, v.phase, dx + v.x, dy + middle(v), v.w));
            }
            for (Edge e : scene.edges()) {
                List<Item> chain = chains.get(e);
                double[] pts = new double[2 * chain.size()];
                Item src = chain.getFirst(), dst = chain.getLast();
                pts[0] = dx + src.x;
                pts[1] = dy + top(src) + src.h;
                for (int i = 1; i + 1 < chain.size(); i++) {
                    pts[2 * i] = dx + chain.get(i).x;
                    pts[2 * i + 1] = dy + middle(chain.get(i));
                }
                pts[pts.length - 2] = dx + dst.x + portOffset(dst, e.port());
                pts[pts.length - 1] = dy + top(dst);
                paths.add(new Path(e, pts));
            }
        }
    }

    /// The non-decreasing sequence closest to `v` in least squares (pool adjacent violators).
    static double[] isotonic(double[] v) {
        int n = v.length;
        double[] sum = new double[n];
        int[] count = new int[n];
        int blocks = 0;
        for (double x : v) {
            sum[blocks] = x;
            count[blocks] = 1;
            blocks++;
            while (blocks > 1 && sum[blocks - 2] / count[blocks - 2] > sum[blocks - 1] / count[blocks - 1]) {
                sum[blocks - 2] += sum[blocks - 1];
                count[blocks - 2] += count[blocks - 1];
                blocks--;
            }
        }
        double[] out = new double[n];
        int i = 0;
        for (int b = 0; b < blocks; b++) {
            Arrays.fill(out, i, i + count[b], sum[b] / count[b]);
            i += count[b];
        }
        return out;
    }
}
