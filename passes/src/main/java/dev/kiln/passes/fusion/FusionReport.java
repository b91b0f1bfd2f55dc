package dev.kiln.passes.fusion;

import java.util.ArrayList;
import java.util.List;

/// What `fuse` did, for a reader: each kernel with its member ops, and each producer-consumer pair
/// that a reader might expect in one kernel but is not, with the reason. Value numbers (`%7`) are
/// positions in the body of the graph given to `fuse`, as the printer numbers it.
public record FusionReport(int ops, List<Kernel> kernels, List<NotFused> notFused) {
    public FusionReport {
        kernels = List.copyOf(kernels);
        notFused = List.copyOf(notFused);
    }

    /// A fused kernel: its result `root`, its name, its members; `copies` are members also computed in another kernel.
    public record Kernel(int root, String name, List<Integer> members, List<Integer> copies) {
        public Kernel {
            members = List.copyOf(members);
            copies = List.copyOf(copies);
        }

        @Override public String toString() {
            StringBuilder s = new StringBuilder("kernel %" + root + " " + name + ":");
            for (int m : members) s.append(" %").append(m).append(copies.contains(m) ? "*" : "");
            return s.toString();
        }
    }

    /// `producer` (an op named `producerOp`) feeds `consumer` but is not in its kernel, because `reason`.
    public record NotFused(int producer, String producerOp, int consumer, String consumerOp, String reason) {
        @Override public String toString() {
            return "not fused: %" + producer + " " + producerOp + " -> %" + consumer + " " + consumerOp + " (" + reason + ")";
        }
    }

    /// The report as text lines (no comment markers): a summary, the kernels, the pairs not fused.
    public List<String> lines() {
        List<String> out = new ArrayList<>();
        long inKernels = kernels.stream().flatMap(k -> k.members().stream()).distinct().count();
        out.add("fuse: " + kernels.size() + (kernels.size() == 1 ? " kernel holds " : " kernels hold ") + inKernels + " of " + ops + " ops"
                + (kernels.stream().anyMatch(k -> !k.copies().isEmpty()) ? " (* marks an op also computed in another kernel)" : ""));
        for (Kernel k : kernels) out.add(k.toString());
        for (NotFused n : notFused) out.add(n.toString());
        return out;
    }

    @Override public String toString() { return String.join("\n", lines()); }
}
