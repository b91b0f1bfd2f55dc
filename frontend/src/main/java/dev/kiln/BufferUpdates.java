package dev.kiln;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/// How a module's buffers (state that is saved but not trained, such as BatchNorm's running
/// statistics) take new values computed in `forward`; what `Module.updateBuffers` calls.
///
/// - Eagerly, the buffers take the values at once (computed now, together, without gradient),
///   as PyTorch's in-place updates do.
/// - While tracing, nothing changes: the updates are recorded, and `Kiln.compileTrainStep` makes
///   the new values extra results of the step, written into the buffers after each step. A traced
///   forward pass (`Kiln.compile`, `trace`, `export`) refuses them, saying what to do instead.
public final class BufferUpdates {
    private BufferUpdates() {}

    /// A recorded update: the new value (of the buffer's type) and who made it, for messages
    /// (`BatchNorm2d 'bn1'`).
    record Update(Tensor value, String who) {}

    /// Gives each buffer (a leaf) its new value, converted to the buffer's dtype; `who` names the module.
    public static void set(Map<Tensor, Tensor> updates, String who) {
        List<Tensor> values = new ArrayList<>();
        try (var _ = Kiln.noGrad()) {
            updates.forEach((buffer, value) -> {
                if (!java.util.Arrays.equals(buffer.shape(), value.shape()))
                    throw new KilnException(who + ": the new value of a buffer has shape " + value.type().shape() + ", the buffer "
                            + buffer.type().shape());
                values.add(value.to(buffer.dtype()));
            });
            if (Tracer.isTracing()) {
                int k = 0;
                for (Tensor buffer : updates.keySet()) Tracer.recordBufferUpdate(buffer, new Update(values.get(k++), who));
                return;
            }
            Kiln.realize(values); // one graph for all of them
            int k = 0;
            for (Tensor buffer : updates.keySet()) buffer.copy_(values.get(k++));
        }
    }
}
