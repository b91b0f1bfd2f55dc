package dev.kiln.runtime;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.HexFormat;
import java.util.concurrent.ThreadLocalRandom;

/// Writes files so that a reader sees either the old content or the complete new content, never
/// half a file: the bytes go to a temporary file in the target's directory, which is forced to
/// disk and then renamed over the target. Invariant: when `write` throws, the target is as it
/// was and the temporary file is gone. A symbolic link at the target is replaced by the new
/// file, not followed.
public final class AtomicFiles {
    private AtomicFiles() {}

    /// Like `Consumer`, but may throw `IOException`.
    @FunctionalInterface
    public interface IOConsumer<T> {
        void accept(T value) throws IOException;
    }

    /// Writes `target` with the bytes `body` writes to the stream it is given. The stream is
    /// buffered; `body` need not flush it, and closing it only flushes (this class closes the file).
    public static void write(Path target, IOConsumer<? super OutputStream> body) throws IOException {
        Path abs = target.toAbsolutePath();
        Path dir = abs.getParent();
        if (dir == null || abs.getFileName() == null) throw new IOException("cannot write to " + target + ": not a file path");
        Path tmp = createTemp(dir, abs.getFileName().toString());
        boolean moved = false;
        try {
            try (FileChannel channel = FileChannel.open(tmp, StandardOpenOption.WRITE);
                 OutputStream buffered = new BufferedOutputStream(Channels.newOutputStream(channel), 1 << 16)) {
                body.accept(new OutputStream() {
                    @Override public void write(int b) throws IOException { buffered.write(b); }
                    @Override public void write(byte[] b, int off, int len) throws IOException { buffered.write(b, off, len); }
                    @Override public void flush() throws IOException { buffered.flush(); }
                    // The file must stay open until it is forced to disk below.
                    @Override public void close() throws IOException { buffered.flush(); }
                });
                buffered.flush();
                channel.force(true);
            }
            try {
                Files.move(tmp, abs, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                // Same directory, so this is still a single rename on every file system we know;
                // only exotic ones refuse the atomic flag.
                Files.move(tmp, abs, StandardCopyOption.REPLACE_EXISTING);
            }
            moved = true;
            syncDirectory(dir);
        } finally {
            if (!moved) {
                try { Files.deleteIfExists(tmp); } catch (IOException ignored) { /* the first error matters more */ }
            }
        }
    }

    /// Writes `target` with exactly `bytes`.
    public static void write(Path target, byte[] bytes) throws IOException {
        write(target, out -> out.write(bytes));
    }

    /// A new empty file `.<name>.<random>.tmp` next to the target. Created with the default
    /// permissions (not `createTempFile`'s owner-only ones), since it becomes the target.
    private static Path createTemp(Path dir, String name) throws IOException {
        String stem = name.length() > 100 ? name.substring(0, 100) : name;   // stay under NAME_MAX
        for (int attempt = 0; ; attempt++) {
            String random = HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextLong());
            Path tmp = dir.resolve("." + stem + "." + random + ".tmp");
            try {
                Files.newByteChannel(tmp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE).close();
                return tmp;
            } catch (FileAlreadyExistsException e) {
                if (attempt == 10) throw e;
            }
        }
    }

    /// Makes the rename itself durable. Opening a directory fails on some platforms (Windows);
    /// there the rename is as durable as the platform makes it.
    private static void syncDirectory(Path dir) {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException ignored) {
            // best effort, see above
        }
    }
}
