package dev.kiln.data;

import static org.junit.jupiter.api.Assertions.*;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.List;
import org.junit.jupiter.api.Test;

class ProgressTest {
    @Test void withoutATerminalItLogsATenthOfTheEpochPerLineThenASummary() {
        StringWriter out = new StringWriter();
        try (var p = new Progress("epoch 1", 20, new PrintWriter(out), false)) {
            for (int i = 0; i < 20; i++) p.step(i == 19 ? 4 : 8, i < 10 ? 2.0 : 1.0);
            assertEquals(156, p.images()); // 19 * 8 + 4
            assertEquals(1.5, p.meanLoss(), 1e-12);
        }
        List<String> lines = out.toString().lines().toList();
        assertEquals(10, lines.size(), out.toString()); // after batches 2, 4, ..., 18, and the summary
        assertTrue(lines.getFirst().matches("epoch 1  2/20  [0-9,]+ img/s  loss 2\\.0000"), lines.getFirst());
        assertTrue(lines.get(8).matches("epoch 1  18/20  [0-9,]+ img/s  loss 1\\.5556"), lines.get(8)); // (10*2 + 8*1)/18
        assertTrue(lines.getLast().matches("epoch 1: 20 batches, 156 images in [0-9.]+ s \\([0-9,]+ img/s\\), mean loss 1\\.5000"),
                lines.getLast());
        assertFalse(out.toString().contains("\r"));
    }

    @Test void onATerminalABarIsRedrawnInPlaceAndReplacedByTheSummary() {
        StringWriter out = new StringWriter();
        var p = new Progress("epoch 2", 4, new PrintWriter(out), true);
        assertEquals("\repoch 2 [....................] 0/4", out.toString()); // drawn before the first batch
        for (int i = 0; i < 4; i++) p.step(64, 0.5);
        p.close();
        String s = out.toString();
        assertFalse(s.substring(0, s.length() - 1).contains("\n"), "only the summary ends a line: " + s);
        String last = s.substring(s.lastIndexOf('\r') + 1);
        assertTrue(last.matches("epoch 2: 4 batches, 256 images in [0-9.]+ s \\([0-9,]+ img/s\\), mean loss 0\\.5000\n"), last);
        assertTrue(s.contains("\repoch 2 [#####...............] 1/4  "), s);
        assertTrue(s.contains("\repoch 2 [####################] 4/4  "), s); // the last batch is always drawn
    }
}
