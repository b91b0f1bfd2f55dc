package dev.kiln.data;

import java.io.PrintWriter;
import java.util.Locale;

/// Progress of one pass over a data loader (a training epoch): images per second and the mean
/// loss so far. On a terminal it is a bar redrawn in place, at most ten times a second; otherwise
/// (a log file, a pipe, a test) plain lines, one per tenth of the epoch. `close()` ends it with a
/// summary line either way:
///
/// ```
/// epoch 1 [##########..........] 469/938  1,712 img/s  loss 0.4410  eta 0:17
/// epoch 1: 938 batches, 60,000 images in 35.1 s (1,709 img/s), mean loss 0.3822
/// ```
///
/// Invariant: nothing but the bar's own line is ever redrawn; every other line ends with a newline.
public final class Progress implements AutoCloseable {
    private static final int WIDTH = 20;
    private static final long REDRAW_NANOS = 100_000_000L;

    private final PrintWriter out;
    private final String title;
    private final int batches;
    private final boolean terminal;
    private final long start = System.nanoTime();
    private long lastDraw, images;
    private int done, lastLogged, barLength;
    private double lossSum;
    private boolean closed;

    /// Progress over `batches` batches, written to `out`; a bar when `terminal`, else lines.
    public Progress(String title, int batches, PrintWriter out, boolean terminal) {
        if (batches < 0) throw new IllegalArgumentException("batches must be 0 or more, got " + batches);
        this.out = out;
        this.title = title;
        this.batches = batches;
        this.terminal = terminal;
        if (terminal) draw(); // at once: the first batch may take a while (it compiles)
    }

    /// Progress on standard output: a bar when it is a terminal.
    public static Progress onStandardOutput(String title, int batches) {
        return new Progress(title, batches, new PrintWriter(System.out, true), isTerminal());
    }

    /// Whether this process runs attached to a terminal (its output neither redirected nor
    /// piped), so that redrawing a line with `\r` shows as intended.
    public static boolean isTerminal() {
        var console = System.console();
        return console != null && console.isTerminal();
    }

    /// Records one finished batch of `size` examples whose loss was `loss`.
    public void step(int size, double loss) {
        done++;
        images += size;
        lossSum += loss;
        if (terminal) {
            long now = System.nanoTime();
            if (done == 1 || now - lastDraw >= REDRAW_NANOS || done == batches) {
                lastDraw = now;
                draw();
            }
        } else if (batches >= 10 && done < batches && done * 10L / batches > lastLogged) {
            lastLogged = (int) (done * 10L / batches);
            out.println(title + "  " + status(false));
        }
    }

    /// Images per second since the start.
    public double rate() { return images / seconds(); }

    /// The mean loss of the batches so far (NaN before the first).
    public double meanLoss() { return done == 0 ? Double.NaN : lossSum / done; }

    public long images() { return images; }

    public double seconds() { return Math.max(System.nanoTime() - start, 1) / 1e9; }

    private void draw() {
        int filled = batches == 0 ? WIDTH : (int) ((long) done * WIDTH / batches);
        String line = title + " [" + "#".repeat(filled) + ".".repeat(WIDTH - filled) + "] " + status(true);
        // Pad over what a longer previous line left, then return to the start of the line.
        out.print("\r" + line + " ".repeat(Math.max(0, barLength - line.length())));
        out.flush();
        barLength = line.length();
    }

    private String status(boolean withEta) {
        if (done == 0) return "0/" + batches;
        String s = done + "/" + batches + "  " + String.format(Locale.ROOT, "%,.0f img/s  loss %.4f", rate(), meanLoss());
        if (withEta && done > 0 && done < batches) {
            long eta = Math.round(seconds() * (batches - done) / done);
            s += String.format(Locale.ROOT, "  eta %d:%02d", eta / 60, eta % 60);
        }
        return s;
    }

    /// Ends the display with a summary line (the bar, if any, is replaced by it).
    @Override public void close() {
        if (closed) return;
        closed = true;
        if (terminal && barLength > 0) out.print("\r" + " ".repeat(barLength) + "\r");
        out.println(String.format(Locale.ROOT, "%s: %,d batches, %,d images in %.1f s (%,.0f img/s), mean loss %.4f",
                title, done, images, seconds(), rate(), meanLoss()));
        out.flush();
    }
}
