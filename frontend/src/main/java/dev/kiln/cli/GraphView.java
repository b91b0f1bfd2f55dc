package dev.kiln.cli;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

import dev.kiln.ir.DenseData;
import dev.kiln.ir.Graph;
import dev.kiln.ir.Loc;
import dev.kiln.ir.Op;
import dev.kiln.ir.Ops;
import dev.kiln.ir.Value;
import dev.kiln.ir.text.Printer;

/// A graph as the pictures (`kiln dump --format dot|html`) draw it: one node per parameter,
/// per op and for the `return`, one edge per operand use, carrying the type of the value that
/// flows. A fused kernel (`Op.Fused`) is one node that holds its region as a nested scene,
/// whose parameters stand for the kernel's inputs and whose `yield` gives its result.
///
/// Names and statement texts are those of `Printer.print(graph)`, so the picture and the text
/// dump agree on `%12`. A value is *backward* when its location is `Loc.Grad` (autodiff made
/// it); a fused kernel is backward when all its ops are, *mixed* when some are.
///
/// Invariant: node ids are unique across the whole view, nested scenes included, and every
/// edge joins two nodes of the same scene; edges only go from earlier nodes to later ones.
record GraphView(String name, String signature, Scene scene) {
    enum Kind { PARAM, OP, FUSED, RETURN }

    enum Phase { FORWARD, BACKWARD, MIXED }

    record Attr(String name, String value) {}

    /// `title` is the mnemonic (`matmul`), the parameter name, `fused <kernel>`, `return` or
    /// `yield`; `name` is how the text spells the value (`%3`); `brief` is a short attribute
    /// line for the node's face (empty when there is none or it would be too long); `ports`
    /// is the number of operand slots edges arrive at.
    record Node(String id, Kind kind, String title, String name, String type, String brief, String statement,
                String loc, Phase phase, List<Attr> attributes, Scene region, int ports) {}

    /// An operand use: the value made by `from` is operand `port` of `to`.
    record Edge(String from, String to, int port, String label, Phase phase) {}

    /// The nodes of one graph or region (`region` true), in definition order, and the edges between them.
    record Scene(List<Node> nodes, List<Edge> edges, boolean region) {}

    /// Statements longer than this are cut in the picture (a dense constant prints every value).
    static final int MAX_STATEMENT = 400;
    static final int MAX_BRIEF = 30;

    static GraphView of(Graph g) {
        Names names = new Names(g);
        String params = String.join(", ", g.params().stream().map(p -> names.name(p) + ": " + p.type()).toList());
        String results = String.join(", ", g.resultTypes().stream().map(Object::toString).toList());
        String signature = "@" + g.name() + "(" + params + ") -> (" + results + ")";
        return new GraphView(g.name(), cut(signature), new Builder(names).scene(g, "", false));
    }

    /// Every node of the view, nested ones included, in drawing order (a kernel before its body).
    List<Node> allNodes() {
        List<Node> out = new ArrayList<>();
        collect(scene, out);
        return out;
    }

    private static void collect(Scene s, List<Node> out) {
        for (Node n : s.nodes()) {
            out.add(n);
            if (n.region() != null) collect(n.region(), out);
        }
    }

    private static final class Builder {
        final Names names;

        Builder(Names names) { this.names = names; }

        /// The scene of `g`; `prefix` keeps region parameter ids apart from the top level's.
        Scene scene(Graph g, String prefix, boolean region) {
            List<Node> nodes = new ArrayList<>();
            List<Edge> edges = new ArrayList<>();
            Map<Value, Node> made = new IdentityHashMap<>();
            for (int i = 0; i < g.params().size(); i++) {
                Value p = g.params().get(i);
                String label = (region ? "region parameter #" : "parameter #") + i;
                Node n = new Node(prefix + "p" + i, Kind.PARAM, names.name(p), names.name(p), p.type().toString(), "",
                        names.name(p) + ": " + p.type() + "    // " + label, loc(p.loc()), Phase.FORWARD, List.of(), null, 0);
                nodes.add(n);
                made.put(p, n);
            }
            for (Value v : g.body()) {
                Node n = node(v);
                nodes.add(n);
                made.put(v, n);
                List<Value> operands = Ops.operands(v.op());
                for (int k = 0; k < operands.size(); k++) edges.add(edge(made.get(operands.get(k)), n, k));
            }
            String keyword = region ? "yield" : "return";
            String id = region ? prefix + "yield" : "return";
            List<String> refs = g.results().stream().map(names::name).toList();
            Node ret = new Node(id, Kind.RETURN, keyword, "", String.join(", ", g.resultTypes().stream().map(Object::toString).toList()),
                    "", cut(keyword + (refs.isEmpty() ? "" : " " + String.join(", ", refs))), "", Phase.FORWARD, List.of(), null,
                    g.results().size());
            nodes.add(ret);
            for (int k = 0; k < g.results().size(); k++) edges.add(edge(made.get(g.results().get(k)), ret, k));
            return new Scene(List.copyOf(nodes), List.copyOf(edges), region);
        }

        private static Edge edge(Node from, Node to, int port) {
            return new Edge(from.id(), to.id(), port, from.type(), from.phase());
        }

        private Node node(Value v) {
            Op op = v.op();
            String id = "v" + names.name(v).substring(1);
            List<Attr> attrs = attributes(op);
            String brief = brief(attrs);
            if (op instanceof Op.Fused f) {
                Scene region = scene(f.body(), id + ".", true);
                Phase phase = regionPhase(region, v.loc());
                attrs = List.of(new Attr("kernel", quote(f.kernel())));
                return new Node(id, Kind.FUSED, "fused " + f.kernel(), names.name(v), v.type().toString(), "",
                        cut(names.statement(v)), loc(v.loc()), phase, attrs, region, f.inputs().size());
            }
            return new Node(id, Kind.OP, Ops.mnemonic(op), names.name(v), v.type().toString(), brief, cut(names.statement(v)),
                    loc(v.loc()), phase(v.loc()), attrs, null, Ops.operands(op).size());
        }
    }

    static Phase phase(Loc loc) {
        return switch (loc) {
            case Loc.Grad _ -> Phase.BACKWARD;
            case Loc.Fused(List<Loc> parts) -> {
                long grads = parts.stream().filter(p -> p instanceof Loc.Grad).count();
                yield grads == 0 ? Phase.FORWARD : grads == parts.size() ? Phase.BACKWARD : Phase.MIXED;
            }
            default -> Phase.FORWARD;
        };
    }

    /// A kernel's phase from its ops (a hand-written kernel has a plain location), else its location.
    private static Phase regionPhase(Scene region, Loc loc) {
        boolean forward = false, backward = false;
        for (Node n : region.nodes()) {
            if (n.kind() != Kind.OP && n.kind() != Kind.FUSED) continue;
            forward |= n.phase() != Phase.BACKWARD;
            backward |= n.phase() != Phase.FORWARD;
        }
        if (!forward && !backward) return phase(loc);
        return forward && backward ? Phase.MIXED : backward ? Phase.BACKWARD : Phase.FORWARD;
    }

    private static String loc(Loc loc) { return loc.isKnown() ? loc.toString() : ""; }

    static List<Attr> attributes(Op op) {
        List<Attr> out = new ArrayList<>();
        for (var e : Ops.attributes(op).entrySet()) {
            String value = switch (e.getValue()) {
                case Double d -> number(d);
                case String s -> quote(s);
                case DenseData d -> "dense " + d.type() + " (" + d.size() + " values)";
                case Object o -> String.valueOf(o);
            };
            out.add(new Attr(Ops.snake(e.getKey()), value));
        }
        return out;
    }

    /// `perm=[1,0]`: the attributes as the node's face shows them, or "" when too long.
    private static String brief(List<Attr> attrs) {
        String s = String.join(" ", attrs.stream().map(a -> a.name() + "=" + a.value()).toList());
        return s.length() <= MAX_BRIEF ? s : "";
    }

    private static String number(double d) {
        if (Double.isNaN(d)) return "nan";
        if (Double.isInfinite(d)) return d > 0 ? "inf" : "-inf";
        return Double.toString(d);
    }

    private static String quote(String s) {
        return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"").replace("\n", "\\n") + "\"";
    }

    static String cut(String s) { return s.length() <= MAX_STATEMENT ? s : s.substring(0, MAX_STATEMENT - 1) + "…"; }

    /// How `Printer.print(root)` names each value and spells each statement: the printed text
    /// is walked in step with the graph (header, one line per statement, a region's parameter
    /// line, body, `yield` and `}`), which is the printer's documented layout.
    static final class Names {
        private final Map<Value, String> names = new IdentityHashMap<>();
        private final Map<Value, String> statements = new IdentityHashMap<>();
        private final Graph root;
        private final String[] lines;
        private int at;

        Names(Graph root) {
            this.root = root;
            this.lines = Printer.print(root).split("\n", -1);
            while (at < lines.length && !lines[at].endsWith("{")) at++; // the header ends with `{`
            at++;
            params(root);
            body(root);
        }

        String name(Value v) {
            String n = names.get(v);
            return n != null ? n : "%?";
        }

        String statement(Value v) { return statements.getOrDefault(v, name(v)); }

        private void params(Graph g) {
            for (Value p : g.params()) {
                String n = ((Op.Param) p.op()).name();
                names.put(p, isBare(n) ? "%" + n : Printer.name(root, p));
            }
        }

        private void body(Graph g) {
            for (Value v : g.body()) {
                String line = at < lines.length ? lines[at++].strip() : "";
                int eq = line.indexOf(" = ");
                names.put(v, eq > 0 ? line.substring(0, eq) : "%?");
                Graph region = Ops.region(v.op());
                statements.put(v, region == null ? line : line.substring(0, line.length() - 1).stripTrailing());
                if (region != null) {
                    at++; // (%arg0: ...):
                    params(region);
                    body(region);
                    at += 2; // yield, }
                }
            }
        }

        /// Printed without quotes: letters, digits, `_` and `.`, not all digits.
        private static boolean isBare(String s) {
            if (s.isEmpty() || s.chars().allMatch(c -> c >= '0' && c <= '9')) return false;
            return s.chars().allMatch(c -> Character.isLetterOrDigit(c) || c == '_' || c == '.');
        }
    }
}
