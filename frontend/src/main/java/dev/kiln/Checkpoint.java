package dev.kiln;

import dev.kiln.nn.Module;
import dev.kiln.optim.Optimizer;
import dev.kiln.runtime.NdArray;
import dev.kiln.runtime.SafeTensors;
import dev.kiln.runtime.TensorFileException;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/// A training checkpoint: everything a run needs to go on exactly where it stopped, in one
/// safetensors file. It holds the model's state dict (tensors `model.<name>`), the optimizer's
/// state (`optim.<param index>.<slot>`: Adam's moments, SGD's momentum buffers; `optim.step`),
/// and as metadata the optimizer's class, the state of the random generator (dropout, `rand`)
/// and where the data stands: the epoch and the batch inside it that come next.
///
/// ```java
/// Checkpoint.save(path, model, optimizer, epoch, batch);          // after `batch` batches of `epoch`
/// var ckpt = Checkpoint.load(path, model, optimizer);              // a model and optimizer built as before
/// loader.setEpoch(ckpt.epoch(), ckpt.batch());                     // then train on as before
/// ```
///
/// Invariant: a run resumed this way (same model code, optimizer settings, data loader seed and
/// batch size) computes bit for bit the losses and weights of the run that was never interrupted,
/// eager or through `Kiln.compileTrainStep`. The file is written to a temporary name and renamed,
/// so a crash while saving leaves the previous checkpoint intact.
///
/// @param epoch the epoch to resume in (as `DataLoader.setEpoch` counts)
/// @param batch how many batches of that epoch were done
/// @param step the optimizer's completed steps
/// @param metadata every metadata entry of the file, the caller's extra entries included
public record Checkpoint(int epoch, int batch, long step, Map<String, String> metadata) {
    /// Metadata keys this class writes and reads; extra entries may use any other key.
    public static final Set<String> RESERVED = Set.of("format", "optimizer", "epoch", "batch", "generator");
    static final String FORMAT = "kiln-checkpoint-1";

    public Checkpoint {
        metadata = Map.copyOf(metadata);
    }

    /// Saves a checkpoint taken after `batch` batches of epoch `epoch` (pass `epoch + 1, 0` at the end of an epoch).
    public static void save(Path path, Module model, Optimizer optimizer, int epoch, int batch) {
        save(path, model, optimizer, epoch, batch, Map.of());
    }

    /// As above, with `extra` metadata entries (anything worth keeping beside the state: a loss,
    /// an accuracy, the command line) stored as given; their keys must not be in `RESERVED`.
    public static void save(Path path, Module model, Optimizer optimizer, int epoch, int batch, Map<String, String> extra) {
        if (epoch < 0 || batch < 0) throw new KilnException("Checkpoint.save: epoch and batch must be 0 or more, got " + epoch + ", " + batch);
        for (String k : extra.keySet())
            if (RESERVED.contains(k)) throw new KilnException("Checkpoint.save: metadata key '" + k + "' is reserved " + RESERVED);
        Map<String, Tensor> all = new LinkedHashMap<>();
        model.stateDict().forEach((k, t) -> all.put("model." + k, t));
        optimizer.stateDict().forEach((k, t) -> all.put("optim." + k, t));
        Kiln.realize(all.values());
        Map<String, NdArray> arrays = new LinkedHashMap<>();
        all.forEach((k, t) -> arrays.put(k, t.data()));
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", FORMAT);
        meta.put("optimizer", optimizer.getClass().getName());
        meta.put("epoch", Integer.toString(epoch));
        meta.put("batch", Integer.toString(batch));
        long[] g = Generator.state();
        meta.put("generator", HexFormat.of().toHexDigits(g[0]) + ":" + HexFormat.of().toHexDigits(g[1]));
        meta.putAll(extra);
        try {
            SafeTensors.write(path, arrays, meta);
        } catch (TensorFileException e) {
            throw new KilnException("Checkpoint.save: " + e.getMessage());
        }
    }

    /// Restores `model`, `optimizer` and the random generator from a checkpoint and returns where
    /// the data stands. The model and optimizer must be built as those that were saved (same
    /// names, shapes, optimizer class); otherwise this throws, naming the first difference, and
    /// changes nothing.
    public static Checkpoint load(Path path, Module model, Optimizer optimizer) {
        SafeTensors.Contents c;
        try {
            c = SafeTensors.readContents(path);
        } catch (TensorFileException e) {
            throw new KilnException("Checkpoint.load: " + e.getMessage());
        }
        Map<String, String> meta = c.metadata();
        String where = "Checkpoint.load: " + path;
        if (!FORMAT.equals(meta.get("format")))
            throw new KilnException(where + " is not a Kiln checkpoint (metadata format is "
                    + (meta.containsKey("format") ? "'" + meta.get("format") + "'" : "missing") + ", expected '" + FORMAT + "')");
        String opt = meta.get("optimizer");
        if (!optimizer.getClass().getName().equals(opt))
            throw new KilnException(where + " holds the state of a " + opt + ", not of the given " + optimizer.getClass().getName());
        int epoch = intEntry(meta, "epoch", where), batch = intEntry(meta, "batch", where);
        long[] generator = generatorEntry(meta.get("generator"), where);

        Map<String, Tensor> modelState = new LinkedHashMap<>(), optimState = new LinkedHashMap<>();
        List<String> unexpected = new ArrayList<>();
        c.tensors().forEach((k, a) -> {
            Tensor t = new Tensor(a, Device.cpu());
            if (k.startsWith("model.")) modelState.put(k.substring(6), t);
            else if (k.startsWith("optim.")) optimState.put(k.substring(6), t);
            else unexpected.add(k);
        });
        if (!unexpected.isEmpty()) throw new KilnException(where + ": unexpected tensors " + unexpected + " (neither model. nor optim.)");
        checkModel(model, modelState, where);
        optimizer.loadStateDict(optimState); // checks everything before changing anything
        model.loadStateDict(modelState);
        Generator.restore(generator);
        return new Checkpoint(epoch, batch, optimizer.stepCount(), meta);
    }

    /// The checks of `Module.loadStateDict`, made before the optimizer changes, so that a bad file changes nothing.
    private static void checkModel(Module model, Map<String, Tensor> state, String where) {
        Map<String, Tensor> own = model.stateDict();
        if (!own.keySet().equals(state.keySet())) {
            List<String> missing = new ArrayList<>(own.keySet()), extra = new ArrayList<>(state.keySet());
            missing.removeAll(state.keySet());
            extra.removeAll(own.keySet());
            throw new KilnException(where + " does not fit " + model.getClass().getSimpleName() + ": "
                    + (missing.isEmpty() ? "" : "missing model." + missing + (extra.isEmpty() ? "" : "; "))
                    + (extra.isEmpty() ? "" : "unexpected model." + extra));
        }
        own.forEach((k, t) -> {
            if (!Arrays.equals(t.shape(), state.get(k).shape()))
                throw new KilnException(where + ": model." + k + " has shape " + state.get(k).type().shape()
                        + ", the model's " + k + " has shape " + t.type().shape());
        });
    }

    private static int intEntry(Map<String, String> meta, String key, String where) {
        String v = meta.get(key);
        try {
            int n = Integer.parseInt(v);
            if (n >= 0) return n;
        } catch (NumberFormatException e) {
            // reported below
        }
        throw new KilnException(where + ": metadata " + key + " is " + (v == null ? "missing" : "'" + v + "'")
                + ", not a whole number of at least 0");
    }

    private static long[] generatorEntry(String v, String where) {
        String[] parts = v == null ? new String[0] : v.split(":", -1);
        try {
            if (parts.length == 2 && parts[0].length() == 16 && parts[1].length() == 16)
                return new long[]{HexFormat.fromHexDigitsToLong(parts[0]), HexFormat.fromHexDigitsToLong(parts[1])};
        } catch (IllegalArgumentException e) {
            // reported below
        }
        throw new KilnException(where + ": metadata generator is " + (v == null ? "missing" : "'" + v + "'")
                + ", not two 16-digit hex numbers joined by ':'");
    }
}
