package dev.kiln.optim;

import dev.kiln.Kiln;
import dev.kiln.KilnException;
import dev.kiln.Tensor;
import dev.kiln.TrainStep;
import dev.kiln.nn.Linear;
import dev.kiln.nn.MSELoss;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.*;

class LRSchedulerTest {
    static SGD sgd(double lr) { return new SGD(List.of(Tensor.scalar(1f).requiresGrad(true)), lr); }

    @Test void stepLrFollowsItsClosedForm() {
        SGD opt = sgd(0.5);
        StepLR s = new StepLR(opt, 3);
        assertEquals(0.5, s.getLastLr());
        for (int epoch = 1; epoch <= 10; epoch++) {
            s.step();
            double want = 0.5 * Math.pow(0.1, epoch / 3);
            assertEquals(want, s.getLastLr(), 1e-15 * want, "epoch " + epoch);
            assertEquals(s.getLastLr(), opt.getLr());
        }
        StepLR half = new StepLR(sgd(1), 2, 0.5);
        double[] want = {1, 0.5, 0.5, 0.25, 0.25};                   // epochs 1..5 by hand
        for (double w : want) {
            half.step();
            assertEquals(w, half.getLastLr());
        }
    }

    @Test void cosineAnnealingFollowsItsClosedForm() {
        SGD opt = sgd(0.1);
        CosineAnnealingLR s = new CosineAnnealingLR(opt, 7, 0.01);
        for (int epoch = 1; epoch <= 20; epoch++) {
            s.step();
            double want = 0.01 + (0.1 - 0.01) * (1 + Math.cos(Math.PI * epoch / 7)) / 2;
            assertEquals(want, s.getLastLr(), 1e-15, "epoch " + epoch);
            assertEquals(want, opt.getLr(), 1e-15);
        }
        CosineAnnealingLR quarter = new CosineAnnealingLR(sgd(1), 4);
        double[] want = {1, 0.5, 0, 0.5, 1};                           // epochs 0, 2, 4, 6, 8: down, then up again
        for (int k = 0; k < want.length; k++) {
            assertEquals(want[k], quarter.getLastLr(), 1e-15, "epoch " + 2 * k);
            quarter.step();
            quarter.step();
        }
    }

    /// A scheduler and optimizer saved after 3 epochs and loaded into fresh ones built as before
    /// go on with the rates of the run that never stopped.
    @Test void stateDictResumesTheSchedule() {
        SGD opt = sgd(0.2);
        CosineAnnealingLR s = new CosineAnnealingLR(opt, 10, 0.01);
        for (int e = 0; e < 3; e++) s.step();
        var saved = s.stateDict();
        var savedOpt = opt.stateDict();
        assertEquals(3, saved.get("last_epoch").itemLong());
        SGD opt2 = sgd(0.2);
        CosineAnnealingLR s2 = new CosineAnnealingLR(opt2, 10, 0.01);
        opt2.loadStateDict(savedOpt);
        s2.loadStateDict(saved);
        assertEquals(s.getLastLr(), s2.getLastLr());
        assertEquals(opt.getLr(), opt2.getLr());
        for (int e = 0; e < 5; e++) {
            s.step();
            s2.step();
            assertEquals(s.getLastLr(), opt2.getLr(), "epoch " + (4 + e));
        }
        var e = assertThrows(KilnException.class, () -> s2.loadStateDict(java.util.Map.of("last_epoch", Tensor.scalar(1L))));
        assertTrue(e.getMessage().contains("expected the keys [last_epoch, base_lr], got [last_epoch]"), e.getMessage());
    }

    @Test void rejectsBadArguments() {
        assertThrows(KilnException.class, () -> new StepLR(sgd(1), 0));
        var e = assertThrows(KilnException.class, () -> new CosineAnnealingLR(sgd(1), 0));
        assertTrue(e.getMessage().contains("tMax must be at least 1, got 0"), e.getMessage());
    }

    /// The learning rate is an input of a compiled step: a scheduler's change reaches the next
    /// step without recompiling. With plain SGD on `0.5 * (w*x - y)^2`, each step's update is
    /// `lr * grad`, computed here by hand in double.
    @Test void schedulerReachesCompiledTrainStep() {
        Linear lin = new Linear(1, 1, false);
        lin.weight.copy_(Tensor.of(new float[][]{{2}}));
        SGD opt = new SGD(lin.parameters(), 0.5);
        StepLR sched = new StepLR(opt, 1, 0.5);
        Tensor x = Tensor.of(new float[][]{{1}}), y = Tensor.of(new float[][]{{0}});
        TrainStep step = Kiln.compileTrainStep(lin, new MSELoss(), opt, x, y);
        assertTrue(step.graph().paramNames().contains("optim.lr"), step.graph().paramNames().toString());
        long compiles = Kiln.compileCount();
        double w = 2, lr = 0.5;
        for (int i = 0; i < 4; i++) {
            step.step(x, y);
            w -= lr * 2 * w;                     // d/dw (w*1 - 0)^2 = 2w
            assertEquals(w, lin.weight.item(), 1e-6, "step " + i);
            sched.step();
            lr *= 0.5;
        }
        assertEquals(compiles, Kiln.compileCount(), "no recompile when the learning rate changes");
    }
}
