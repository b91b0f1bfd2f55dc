package dev.kiln.cli;

import java.util.Collection;

/// "Did you mean" for names the user typed: only near misses are offered, as for commands.
final class Suggest {
    private Suggest() {}

    /// ` (did you mean %fc1.bias?)` for the closest of `known` within two edits of `typed`,
    /// or the empty string; `sigil` is put before the suggestion.
    static String nearest(String typed, Collection<String> known, String sigil) {
        String best = null;
        int bestDistance = 3;
        for (String k : known) {
            int d = Main.editDistance(typed, k);
            if (d < bestDistance) {
                best = k;
                bestDistance = d;
            }
        }
        return best == null ? "" : " (did you mean " + sigil + best + "?)";
    }
}
