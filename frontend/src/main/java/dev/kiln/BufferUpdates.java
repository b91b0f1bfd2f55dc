package dev.kiln;

/// How a module's buffer (state that is saved but not trained, such as BatchNorm's running
/// statistics) takes a new value computed in `forward`; what `Module.updateBuffer` calls.
///
/// - Eagerly, the buffer takes the value at once (computed now, without gradient), as PyTorch's
///   in-place update does.
/// - While tracing, nothing changes: the update is recorded, and `Kiln.compileTrainStep` makes
///   the new value an extra result of the step, written into the buffer after each step. A traced
///   forward pass (`Kiln.compile`, `trace`, `export`) refuses it, saying what to do instead.
public final class BufferUpdates {
    private BufferUpdates() {}

    /// A recorded update: the new value (of the buffer's type) and who made it, for messages
    /// (`BatchNorm2d 'bn1'`).
    record Update(Tensor value, String who) {}

    /// Gives `buffer` (a leaf) the value `value`, converted to its dtype; `who` names the module.
    public static void set(Tensor buffer, Tensor value, String who) {
        if (!java.util.Arrays.equals(buffer.shape(), value.shape()))
            throw new KilnException(who + ": the new value of a buffer has shape " + value.type().shape() + ", the buffer "
                    + buffer.type().shape());
        try (var _ = Kiln.noGrad()) {
            Tensor v = value.to(buffer.dtype());
            if (Tracer.isTracing()) Tracer.recordBufferUpdate(buffer, new Update(v, who));
            else buffer.copy_(v);
        }
    }
}
