package dev.kiln;

import java.util.ArrayList;
import java.util.List;

/// The compact indexing of `Tensor.get(String)`: comma-separated entries, each an integer (picks
/// one element and removes the dimension), a slice `start:end[:step]` with optional parts, `...`
/// (as many whole dimensions as needed) or `None` (a new dimension of size 1).
final class Indexing {
    private Indexing() {}

    static Tensor apply(Tensor t, String index) {
        List<String> parts = new ArrayList<>();
        for (String p : index.split(",", -1)) parts.add(p.trim());
        if (parts.size() == 1 && parts.getFirst().isEmpty()) return t;
        int consuming = 0, ellipses = 0;
        for (String p : parts) {
            if (p.equals("...")) ellipses++;
            else if (!p.equals("None")) consuming++;
        }
        if (ellipses > 1) throw new KilnException("get(\"" + index + "\"): at most one '...' is allowed");
        if (consuming > t.dim())
            throw new KilnException("get(\"" + index + "\"): " + consuming + " indices for a tensor of shape " + t.shapeText());
        int d = 0;
        for (String p : parts) {
            if (p.equals("...")) d += t.dim() - d - countConsumingAfter(parts, p);
            else if (p.equals("None")) t = t.unsqueeze(d++);
            else if (p.contains(":")) {
                String[] s = p.split(":", -1);
                if (s.length > 3) throw bad(index, p);
                int start = s[0].isEmpty() ? 0 : parse(index, s[0]);
                int end = s[1].isEmpty() ? Integer.MAX_VALUE : parse(index, s[1]);
                int step = s.length < 3 || s[2].isEmpty() ? 1 : parse(index, s[2]);
                t = t.slice(d++, start, end, step);
            } else t = t.select(d, parse(index, p));
        }
        return t;
    }

    private static int countConsumingAfter(List<String> parts, String ellipsis) {
        int n = 0;
        boolean after = false;
        for (String p : parts) {
            if (p == ellipsis) after = true;
            else if (after && !p.equals("None")) n++;
        }
        return n;
    }

    private static int parse(String index, String s) {
        try {
            return Integer.parseInt(s.trim());
        } catch (NumberFormatException e) {
            throw bad(index, s);
        }
    }

    private static KilnException bad(String index, String part) {
        return new KilnException("get(\"" + index + "\"): cannot read index '" + part
                + "' (expected an integer, start:end[:step], '...' or 'None')");
    }
}
